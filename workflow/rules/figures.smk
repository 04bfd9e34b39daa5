# Figures of the kernel tensor, one PNG per probe (pathways x channels).


rule kernel_figure:
    input:
        f"{RESULTS}/kernels.h5",
    output:
        report(
            f"{RESULTS}/figures/kernels_{{probe}}.png",
            caption="../report/kernels.rst",
            category="Kernels",
        ),
    log:
        f"{RESULTS}/logs/figures/kernels_{{probe}}.log",
    conda:
        "../envs/hpckernels.yaml"
    shell:
        "hpckernels plot-kernels {input} --probe {wildcards.probe} -o {output} > {log} 2>&1"
