# Reduce: all (X, Y, probe) kernels into one tensor per probe, (post, pre, channel, lag).


rule kernel_tensor:
    input:
        all_kernel_files(),
        rate_spikes=RATE_SPIKES,
    output:
        f"{RESULTS}/kernels.h5",
    log:
        f"{RESULTS}/logs/kernel_tensor.log",
    conda:
        "../envs/hpckernels.yaml"
    params:
        cli=HPCKERNELS,
        config=CONFIG_FILE,
        mode=MODE,
        # results/<run>/kernels, the root of the <post>/<pre>/<probe>.h5 inputs
        kernels=lambda wildcards, input: Path(input[0]).parents[2],
        inputs=tensor_inputs,
        rates=RATE_FLAGS,
    shell:
        "{params.cli} assemble {params.config} --kernels-dir {params.kernels} "
        "--mode {params.mode} {params.rates} -o {output} > {log} 2>&1"
