# The target `paper`: each figure of the config's paper section (Hagen et al. 2022)
# assembled from the run's own figures, with a report caption of what the paper shows
# there and the validation's numbers of this run.
rule paper_figure:
    input:
        panels=paper_panel_inputs,
        validation=f"{VALIDATION_DIR}/validation.h5",
    output:
        report(
            f"{RESULTS}/paper/{{figure}}.png",
            caption="../report/paper_figure.rst",
            category="Paper figures",
        ),
    log:
        f"{RESULTS}/logs/paper/{{figure}}.log",
    conda:
        "../envs/hpckernels.yaml"
    params:
        cli=HPCKERNELS,
        config=CONFIG_FILE,
        panels=paper_panels,
        caption=paper_caption,
        inputs=lambda wildcards: content_hash(PAPER_FIGURES[wildcards.figure]),
    shell:
        "{params.cli} paper-figure {params.config:q} {wildcards.figure:q} {params.panels:q} "
        "-o {output:q} > {log:q} 2>&1"
