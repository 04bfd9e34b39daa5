# One MPI job per pathway X -> Y: the kernels of every probe from the basis of Y (no
# NEURON run), one file per (X, Y, probe). On SLURM the basis job of Y and the pathway
# jobs into Y are one submission (group POPULATION_GROUP).


rule pathway_kernels:
    input:
        basis=f"{RESULTS}/basis/{{post}}.h5",
        rate_spikes=RATE_SPIKES,
    output:
        expand(
            "{results}/kernels/{{post}}/{{pre}}/{probe}.h5",
            results=RESULTS,
            probe=PROBES,
        ),
    log:
        f"{RESULTS}/logs/kernels/{{post}}_{{pre}}.log",
    group:
        POPULATION_GROUP
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
        rates=RATE_FLAGS,
    shell:
        "{resources.mpi} -n {resources.tasks} {params.cli} kernel {params.config} "
        "--pre {wildcards.pre} --post {wildcards.post} --mode {params.mode} "
        "--basis {input.basis} {params.rates} --output-dir {params.outdir} > {log} 2>&1"
