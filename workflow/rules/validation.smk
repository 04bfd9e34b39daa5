# Validation (target `validation`): the ground truth of a detailed population driven by
# the network's spikes (conductance-based, and its linearized reconstruction), hybrid-
# scheme kernels, kernel predictions without g_eff and from ensembles, the predicted
# error, then `compare` (validation.h5 and figures). Needs per-neuron spikes (the
# built-in network, or SONATA/NEST spike files).
from hpckernels.groundtruth import groundtruth_inputs

VALIDATION = config.get("validation", {})
# kernel predictions besides the main mean-field one: folder name -> (mode, --g-eff)
VARIANTS = {
    "no_geff": ("mean-field", "off"),
    "ensemble": ("ensemble", None),
}
PREDICTION_NAMES = {
    "mean-field": None,
    "mean-field-no-geff": "no_geff",
    "ensemble": "ensemble",
}
VALIDATION_VARIANTS = [
    PREDICTION_NAMES[name]
    for name in VALIDATION.get("predictions", ["mean-field"])
    if PREDICTION_NAMES[name]
]
GT_TASKS = VALIDATION.get("tasks", 2)
VALIDATION_DIR = f"{RESULTS}/validation"


wildcard_constraints:
    gtmode="conductance|linearized",
    variant="|".join(VARIANTS),


def validation_outputs():
    """What the target `validation` makes."""
    return [f"{VALIDATION_DIR}/validation.h5", f"{VALIDATION_DIR}/figures"]


def variant_config(variant):
    """The config as the variant's commands see it."""
    mode, g_eff = VARIANTS[variant]
    return NETWORK if g_eff is None else NETWORK.with_simulation(g_eff=g_eff == "on")


def variant_flags(variant):
    mode, g_eff = VARIANTS[variant]
    return f"--g-eff {g_eff}" if g_eff else ""


def groundtruth_trigger(wildcards):
    """What groundtruth, predict-error and compare read from the config."""
    return content_hash(groundtruth_inputs(NETWORK))


def variant_pathway_inputs(wildcards):
    network = variant_config(wildcards.variant)
    mode = VARIANTS[wildcards.variant][0]
    return {
        "pathway": network.pathway_hash(wildcards.pre, wildcards.post, mode),
        "probes": {name: content_hash(NETWORK.probes[name]) for name in sorted(PROBES)},
    }


def variant_kernel_files(wildcards):
    return [
        f"{VALIDATION_DIR}/kernels_{wildcards.variant}/{p.post}/{p.pre}/{probe}.h5"
        for p in PATHWAYS
        for probe in PROBES
    ]


def prediction_arguments():
    """--prediction NAME=FILE of every prediction (compare's inputs, in order)."""
    files = {"mean-field": f"{RESULTS}/signals.h5"}
    for name, variant in PREDICTION_NAMES.items():
        if variant in VALIDATION_VARIANTS:
            files[name] = f"{VALIDATION_DIR}/signals_{variant}.h5"
    return files


def kernel_sets():
    sets = {"mean-field": f"{RESULTS}/kernels.h5"}
    for name, variant in PREDICTION_NAMES.items():
        if variant in VALIDATION_VARIANTS:
            sets[name] = f"{VALIDATION_DIR}/kernels_{variant}.h5"
    return sets


rule groundtruth:
    input:
        mechanisms=f"{RESULTS}/mechanisms.txt",
        spikes=spike_files(),
    output:
        f"{VALIDATION_DIR}/groundtruth_{{gtmode}}.h5",
    log:
        f"{RESULTS}/logs/validation/groundtruth_{{gtmode}}.log",
    conda:
        "../envs/hpckernels.yaml"
    threads: GT_TASKS
    resources:
        mpi="mpiexec",
        tasks=GT_TASKS,
    params:
        cli=HPCKERNELS,
        config=CONFIG_FILE,
        inputs=groundtruth_trigger,
        flag=lambda wildcards: (
            "--linearized" if wildcards.gtmode == "linearized" else ""
        ),
    shell:
        "{resources.mpi} -n {resources.tasks} {params.cli} groundtruth {params.config} "
        "--spikes {input.spikes} {params.flag} -o {output} > {log} 2>&1"


rule hybrid_kernels:
    input:
        mechanisms=f"{RESULTS}/mechanisms.txt",
        spikes=spike_files(),
    output:
        f"{VALIDATION_DIR}/hybrid_kernels_{{gtmode}}.h5",
    log:
        f"{RESULTS}/logs/validation/hybrid_kernels_{{gtmode}}.log",
    conda:
        "../envs/hpckernels.yaml"
    threads: GT_TASKS
    resources:
        mpi="mpiexec",
        tasks=GT_TASKS,
    params:
        cli=HPCKERNELS,
        config=CONFIG_FILE,
        inputs=groundtruth_trigger,
        flag=lambda wildcards: (
            "--linearized" if wildcards.gtmode == "linearized" else ""
        ),
    shell:
        "{resources.mpi} -n {resources.tasks} {params.cli} groundtruth {params.config} "
        "--spikes {input.spikes} --hybrid-kernels {params.flag} -o {output} > {log} 2>&1"


rule predict_error:
    input:
        mechanisms=f"{RESULTS}/mechanisms.txt",
        kernels=f"{RESULTS}/kernels.h5",
        spikes=spike_files(),
    output:
        f"{VALIDATION_DIR}/error.h5",
    log:
        f"{RESULTS}/logs/validation/predict_error.log",
    conda:
        "../envs/hpckernels.yaml"
    params:
        cli=HPCKERNELS,
        config=CONFIG_FILE,
        inputs=groundtruth_trigger,
    shell:
        "{params.cli} predict-error {params.config} --kernels {input.kernels} "
        "--spikes {input.spikes} -o {output} > {log} 2>&1"


rule validation_pathway_kernels:
    input:
        mechanisms=f"{RESULTS}/mechanisms.txt",
    output:
        expand(
            "{folder}/kernels_{{variant}}/{{post}}/{{pre}}/{probe}.h5",
            folder=VALIDATION_DIR,
            probe=PROBES,
        ),
    log:
        f"{RESULTS}/logs/validation/kernels_{{variant}}_{{post}}_{{pre}}.log",
    conda:
        "../envs/hpckernels.yaml"
    threads: lambda wildcards: 2 if VARIANTS[wildcards.variant][0] == "ensemble" else 1
    resources:
        mpi="mpiexec",
        tasks=lambda wildcards: 2 if VARIANTS[wildcards.variant][0] == "ensemble" else 1,
    params:
        cli=HPCKERNELS,
        config=CONFIG_FILE,
        mode=lambda wildcards: VARIANTS[wildcards.variant][0],
        flags=lambda wildcards: variant_flags(wildcards.variant),
        inputs=variant_pathway_inputs,
        outdir=lambda wildcards: f"{VALIDATION_DIR}/kernels_{wildcards.variant}/{wildcards.post}/{wildcards.pre}",
    shell:
        "{resources.mpi} -n {resources.tasks} {params.cli} kernel {params.config} "
        "--pre {wildcards.pre} --post {wildcards.post} --mode {params.mode} {params.flags} "
        "--output-dir {params.outdir} > {log} 2>&1"


rule validation_tensor:
    input:
        variant_kernel_files,
    output:
        f"{VALIDATION_DIR}/kernels_{{variant}}.h5",
    log:
        f"{RESULTS}/logs/validation/kernel_tensor_{{variant}}.log",
    conda:
        "../envs/hpckernels.yaml"
    params:
        cli=HPCKERNELS,
        config=CONFIG_FILE,
        mode=lambda wildcards: VARIANTS[wildcards.variant][0],
        flags=lambda wildcards: variant_flags(wildcards.variant),
        kernels=lambda wildcards: f"{VALIDATION_DIR}/kernels_{wildcards.variant}",
        inputs=lambda wildcards: content_hash(
            variant_config(wildcards.variant).tensor_inputs(
                VARIANTS[wildcards.variant][0]
            )
        ),
    shell:
        "{params.cli} assemble {params.config} --kernels-dir {params.kernels} "
        "--mode {params.mode} {params.flags} -o {output} > {log} 2>&1"


rule validation_signals:
    input:
        kernels=f"{VALIDATION_DIR}/kernels_{{variant}}.h5",
        spikes=spike_files(),
    output:
        f"{VALIDATION_DIR}/signals_{{variant}}.h5",
    log:
        f"{RESULTS}/logs/validation/signals_{{variant}}.log",
    conda:
        "../envs/hpckernels.yaml"
    params:
        cli=HPCKERNELS,
        config=CONFIG_FILE,
        flags=lambda wildcards: variant_flags(wildcards.variant),
        inputs=lambda wildcards: content_hash(
            signal_inputs(variant_config(wildcards.variant))
        ),
    shell:
        "{params.cli} signals {params.config} --kernels {input.kernels} "
        "--spikes {input.spikes} {params.flags} -o {output} > {log} 2>&1"


rule compare:
    input:
        groundtruth=f"{VALIDATION_DIR}/groundtruth_conductance.h5",
        linearized=f"{VALIDATION_DIR}/groundtruth_linearized.h5",
        error=f"{VALIDATION_DIR}/error.h5",
        hybrid=expand(
            f"{VALIDATION_DIR}/hybrid_kernels_{{gtmode}}.h5",
            gtmode=["conductance", "linearized"],
        ),
        predictions=list(prediction_arguments().values()),
        kernels=list(kernel_sets().values()),
    output:
        validation=f"{VALIDATION_DIR}/validation.h5",
        figures=directory(f"{VALIDATION_DIR}/figures"),
    log:
        f"{RESULTS}/logs/validation/compare.log",
    conda:
        "../envs/hpckernels.yaml"
    params:
        cli=HPCKERNELS,
        config=CONFIG_FILE,
        inputs=groundtruth_trigger,
        predictions=" ".join(
            f"--prediction '{name}={path}'"
            for name, path in prediction_arguments().items()
        ),
        kernels=" ".join(
            f"--kernels '{name}={path}'" for name, path in kernel_sets().items()
        ),
    shell:
        "{params.cli} compare {params.config} --groundtruth {input.groundtruth} "
        "--linearized {input.linearized} --predicted-error {input.error} "
        "{params.hybrid} {params.predictions} {params.kernels} "
        "-o {output.validation} --figures {output.figures} > {log} 2>&1"
