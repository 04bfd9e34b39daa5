# One MPI job per pathway X -> Y: NEURON runs once and the kernels of every probe
# are written, one file per (X, Y, probe). Mean-field responses are cached by
# content hash, so a probe edit reruns the job without a NEURON run.


rule pathway_kernels:
    input:
        mechanisms=f"{RESULTS}/mechanisms.txt",
    output:
        expand(
            "{results}/kernels/{{post}}/{{pre}}/{probe}.h5",
            results=RESULTS,
            probe=PROBES,
        ),
    log:
        f"{RESULTS}/logs/kernels/{{post}}_{{pre}}.log",
    conda:
        "../envs/hpckernels.yaml"
    threads: TASKS
    resources:
        mpi="mpiexec",
        tasks=TASKS,
    params:
        cli=HPCKERNELS,
        config=CONFIG_FILE,
        mode=MODE,
        inputs=pathway_inputs,
        outdir=lambda wildcards: f"{RESULTS}/kernels/{wildcards.post}/{wildcards.pre}",
        cache=f"{RESULTS}/cache/responses",
    shell:
        "{resources.mpi} -n {resources.tasks} {params.cli} kernel {params.config} "
        "--pre {wildcards.pre} --post {wildcards.post} --mode {params.mode} "
        "--output-dir {params.outdir} --cache {params.cache} > {log} 2>&1"
