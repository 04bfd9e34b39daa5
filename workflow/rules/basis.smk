# One job per postsynaptic population Y, the only one that runs NEURON: Y's linearized
# cell as a linear system (the response file of the default linear engine; no probe,
# synapse kinetics or delay enters it), read by every kernel job into Y.


rule basis:
    input:
        mechanisms=f"{RESULTS}/mechanisms.txt",
        rate_spikes=RATE_SPIKES,
    output:
        f"{RESULTS}/basis/{{post}}.h5",
    log:
        f"{RESULTS}/logs/basis/{{post}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/basis/{{post}}.tsv"
    group:
        POPULATION_GROUP
    conda:
        "../envs/hpckernels.yaml"
    threads: 1
    resources:
        mpi="mpiexec",
        tasks=1,
    params:
        cli=HPCKERNELS,
        config=CONFIG_FILE,
        inputs=basis_inputs,
        launch=launcher,
        rates=RATE_FLAGS,
    shell:
        "{params.launch} {params.cli} basis {params.config:q} --post {wildcards.post} "
        "{params.rates} -o {output:q} > {log:q} 2>&1"
