# Reduce, per probe: the (X, Y, probe) kernels into one tensor (post, pre, channel, lag).


rule kernel_tensor:
    input:
        probe_kernel_files,
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
    shell:
        "{params.cli} assemble {params.config} --kernels-dir {params.kernels} "
        "--probe {wildcards.probe} --mode {params.mode} -o {output} > {log} 2>&1"
