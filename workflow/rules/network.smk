# The built-in point-neuron network (NEST, threaded, one process: the PyPI build
# of NEST has no MPI), written as SONATA spikes.


rule network:
    output:
        f"{RESULTS}/network/spikes.h5",
    log:
        f"{RESULTS}/logs/network.log",
    benchmark:
        f"{RESULTS}/benchmarks/network.tsv"
    conda:
        "../envs/hpckernels.yaml"
    threads: NETWORK_THREADS
    params:
        cli=HPCKERNELS,
        config=CONFIG_FILE,
        inputs=network_inputs,
    shell:
        "{params.cli} network {params.config:q} -o {output:q} > {log:q} 2>&1"
