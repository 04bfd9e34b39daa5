# NMODL mechanisms: compiled once (keyed by mod files and NEURON version), before
# any MPI rank starts.


rule mechanisms:
    input:
        sorted(
            str(p) for p in Path(workflow.basedir, "..", "mod").resolve().glob("*.mod")
        ),
    output:
        f"{RESULTS}/mechanisms.txt",
    log:
        f"{RESULTS}/logs/mechanisms.log",
    conda:
        "../envs/hpckernels.yaml"
    params:
        cli=HPCKERNELS,
    shell:
        "{params.cli} mechanisms > {output} 2> {log}"
