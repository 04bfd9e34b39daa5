# One job per pathway X -> Y and probe: the kernels of that probe from the response file of
# Y, without NEURON. A probe edit reruns the jobs of that probe only. On SLURM the basis
# job of Y and the kernel jobs into Y are one submission (group POPULATION_GROUP).


rule kernel:
    input:
        basis=f"{RESULTS}/basis/{{post}}.h5",
        rate_spikes=RATE_SPIKES,
    output:
        f"{RESULTS}/kernels/{{post}}/{{pre}}/{{probe}}.h5",
    log:
        f"{RESULTS}/logs/kernels/{{post}}/{{pre}}/{{probe}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/kernels/{{post}}/{{pre}}/{{probe}}.tsv"
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
        inputs=kernel_inputs,
        launch=launcher,
        rates=RATE_FLAGS,
    shell:
        "{params.launch} {params.cli} kernel {params.config:q} --pre {wildcards.pre} "
        "--post {wildcards.post} --probe {wildcards.probe} --mode {params.mode} "
        "--basis {input.basis:q} {params.rates} -o {output:q} > {log:q} 2>&1"
