# Figures of the kernel tensor, one PNG per probe (pathways x channels).


rule kernel_figure:
    input:
        f"{RESULTS}/tensor/{{probe}}.h5",
    output:
        report(
            f"{RESULTS}/figures/kernels_{{probe}}.png",
            caption="../report/kernels.rst",
            category="Kernels",
            subcategory="{probe}",
        ),
    log:
        f"{RESULTS}/logs/figures/kernels_{{probe}}.log",
    conda:
        "../envs/hpckernels.yaml"
    params:
        cli=HPCKERNELS,
    shell:
        "{params.cli} plot-kernels {input:q} --probe {wildcards.probe} -o {output:q} > {log:q} 2>&1"


rule signal_figures:
    input:
        signals=f"{RESULTS}/signals.h5",
        spikes=[f"{RESULTS}/network/spikes.h5"] if HAS_NETWORK else [],
    output:
        signal_figure_files(),
    log:
        f"{RESULTS}/logs/figures/signals.log",
    conda:
        "../envs/hpckernels.yaml"
    params:
        cli=HPCKERNELS,
        spikes=lambda wildcards, input: (
            shlex.join(["--spikes", *input.spikes]) if input.spikes else ""
        ),
        outdir=lambda wildcards, output: Path(output[0]).parent,
    shell:
        "{params.cli} plot-signals {input.signals:q} {params.spikes} "
        "--output-dir {params.outdir:q} > {log:q} 2>&1"


# Active cells: the active model against its passive, frozen and quasi-active
# linearizations as the input of a pathway grows (Hagen et al. 2022, Fig 2).


rule linearization_figure:
    input:
        f"{RESULTS}/mechanisms.txt",
        rate_spikes=RATE_SPIKES,
    output:
        report(
            f"{RESULTS}/figures/linearization_{{post}}_{{pre}}.png",
            caption="../report/linearization.rst",
            category="Linearization",
            subcategory="population {post}",
        ),
    log:
        f"{RESULTS}/logs/figures/linearization_{{post}}_{{pre}}.log",
    conda:
        "../envs/hpckernels.yaml"
    params:
        cli=HPCKERNELS,
        config=CONFIG_FILE,
        inputs=lambda wildcards: inputs.pathway_hash(
            NETWORK, wildcards.pre, wildcards.post
        ),
        rates=RATE_FLAGS,
    shell:
        "{params.cli} plot-linearization {params.config:q} --pre {wildcards.pre} "
        "--post {wildcards.post} {params.rates} -o {output:q} > {log:q} 2>&1"
