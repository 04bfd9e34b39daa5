# One MPI job per postsynaptic population Y: Y's linearized cell is simulated once per
# segment and synapse kinetics of its inputs (unit events), the responses projected onto
# the probes. Per-segment membrane currents are cached by content hash (when they fit),
# so a probe edit reruns this job without NEURON.


rule basis:
    input:
        mechanisms=f"{RESULTS}/mechanisms.txt",
        rate_spikes=RATE_SPIKES,
    output:
        f"{RESULTS}/basis/{{post}}.h5",
    log:
        f"{RESULTS}/logs/basis/{{post}}.log",
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
        inputs=basis_inputs,
        cache=f"{RESULTS}/cache/basis",
        rates=RATE_FLAGS,
    shell:
        "{resources.mpi} -n {resources.tasks} {params.cli} basis {params.config} "
        "--post {wildcards.post} --cache {params.cache} {params.rates} -o {output} "
        "> {log} 2>&1"
