# NMODL mechanisms: the package's and the config's own folders, each compiled once
# (keyed by its mod files and the NEURON version), before any MPI rank starts.


rule mechanisms:
    input:
        mechanism_files(),
    output:
        f"{RESULTS}/mechanisms.txt",
    log:
        f"{RESULTS}/logs/mechanisms.log",
    conda:
        "../envs/hpckernels.yaml"
    params:
        cli=HPCKERNELS,
        config=CONFIG_FILE,
        inputs=mechanism_inputs,
    shell:
        "{params.cli} mechanisms {params.config:q} > {output:q} 2> {log:q}"
