# NWB export (target `nwb`): the run's signals, spikes, kernel tensor and config as one
# NWB file (hpckernels export-nwb). The command reads the whole config (its text is stored
# as provenance), so the config's hash is the rerun trigger.


localrules:
    export_nwb,


rule export_nwb:
    input:
        signals=f"{RESULTS}/signals.h5",
        kernels=tensor_files(),
        spikes=spike_files(),
    output:
        f"{RESULTS}/{RUN}.nwb",
    log:
        f"{RESULTS}/logs/nwb.log",
    conda:
        "../envs/hpckernels.yaml"
    params:
        cli=HPCKERNELS,
        config=CONFIG_FILE,
        inputs=lambda wildcards: inputs.config_hash(NETWORK),
        spikes=lambda wildcards, input: (
            shlex.join(["--spikes", *input.spikes]) if input.spikes else ""
        ),
    shell:
        "{params.cli} export-nwb {params.config:q} --signals {input.signals:q} "
        "--kernels {input.kernels:q} {params.spikes} -o {output:q} > {log:q} 2>&1"


# snakemake nwb --profile cluster_profiles/local --configfile CONFIG
rule nwb:
    input:
        rules.export_nwb.output,
