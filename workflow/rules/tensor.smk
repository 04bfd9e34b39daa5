# Reduce, per probe: the (X, Y, probe) kernels into one tensor (post, pre, channel, lag).


rule kernel_tensor:
    input:
        probe_kernel_files,
        rate_spikes=RATE_SPIKES,
    output:
        f"{RESULTS}/tensor/{{probe}}.h5",
    log:
        f"{RESULTS}/logs/tensor/{{probe}}.log",
    conda:
        "../envs/hpckernels.yaml"
    params:
        cli=HPCKERNELS,
        config=CONFIG_FILE,
        mode=MODE,
        kernels=f"{RESULTS}/kernels",
        inputs=tensor_inputs,
        rates=RATE_FLAGS,
    shell:
        "{params.cli} assemble {params.config:q} --kernels-dir {params.kernels:q} "
        "--probe {wildcards.probe} --mode {params.mode} {params.rates} -o {output:q} > {log:q} 2>&1"
