# Reduce: all (X, Y, probe) kernels into one tensor per probe, (post, pre, channel, lag).


rule kernel_tensor:
    input:
        all_kernel_files(),
    output:
        f"{RESULTS}/kernels.h5",
    params:
        config=CONFIG_FILE,
        mode=MODE,
        kernels=f"{RESULTS}/kernels",
        config_hash=NETWORK.hash,
    log:
        f"{RESULTS}/logs/kernel_tensor.log",
    shell:
        "hpckernels assemble {params.config} --kernels-dir {params.kernels} "
        "--mode {params.mode} -o {output} > {log} 2>&1"
