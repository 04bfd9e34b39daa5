# Signals: spike counts of every population convolved with the kernel tensor,
# summed over pathways (and kept per pathway), chunk by chunk in bounded memory.


rule signals:
    input:
        kernels=tensor_files(),
        spikes=spike_files(),
    output:
        f"{RESULTS}/signals.h5",
    log:
        f"{RESULTS}/logs/signals.log",
    benchmark:
        f"{RESULTS}/benchmarks/signals.tsv"
    conda:
        "../envs/hpckernels.yaml"
    params:
        cli=HPCKERNELS,
        config=CONFIG_FILE,
        inputs=signals_inputs,
    shell:
        "{params.cli} signals {params.config:q} --kernels {input.kernels:q} "
        "--spikes {input.spikes:q} -o {output:q} > {log:q} 2>&1"
