# Validation (target `validation`): the ground truth of a detailed population driven by
# the network's spikes (conductance-based, and its linearized reconstruction), hybrid-
# scheme kernels, kernel predictions without g_eff and from ensembles, the predicted
# error, then `compare` (validation.h5 and figures). Needs per-neuron spikes (the
# built-in network, or SONATA/NEST spike files).
rule groundtruth:
    input:
        mechanisms=f"{RESULTS}/mechanisms.txt",
        spikes=spike_files(),
    output:
        f"{VALIDATION_DIR}/groundtruth_{{gtmode}}.h5",
    log:
        f"{RESULTS}/logs/validation/groundtruth_{{gtmode}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/validation/groundtruth_{{gtmode}}.tsv"
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
        "{resources.mpi} -n {resources.tasks} {params.cli} groundtruth {params.config:q} "
        "--spikes {input.spikes:q} {params.flag} -o {output:q} > {log:q} 2>&1"


rule hybrid_kernels:
    input:
        mechanisms=f"{RESULTS}/mechanisms.txt",
        spikes=spike_files(),
    output:
        f"{VALIDATION_DIR}/hybrid_kernels_{{gtmode}}.h5",
    log:
        f"{RESULTS}/logs/validation/hybrid_kernels_{{gtmode}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/validation/hybrid_kernels_{{gtmode}}.tsv"
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
        "{resources.mpi} -n {resources.tasks} {params.cli} groundtruth {params.config:q} "
        "--spikes {input.spikes:q} --hybrid-kernels {params.flag} -o {output:q} > {log:q} 2>&1"


rule predict_error:
    input:
        mechanisms=f"{RESULTS}/mechanisms.txt",
        kernels=tensor_files(),
        spikes=spike_files(),
    output:
        f"{VALIDATION_DIR}/error.h5",
    log:
        f"{RESULTS}/logs/validation/predict_error.log",
    benchmark:
        f"{RESULTS}/benchmarks/validation/predict_error.tsv"
    conda:
        "../envs/hpckernels.yaml"
    params:
        cli=HPCKERNELS,
        config=CONFIG_FILE,
        inputs=groundtruth_trigger,
    shell:
        "{params.cli} predict-error {params.config:q} --kernels {input.kernels:q} "
        "--spikes {input.spikes:q} -o {output:q} > {log:q} 2>&1"


rule validation_pathway_kernels:
    input:
        mechanisms=f"{RESULTS}/mechanisms.txt",
        rate_spikes=RATE_SPIKES,
    output:
        expand(
            "{folder}/kernels_{{variant}}/{{post}}/{{pre}}/{probe}.h5",
            folder=VALIDATION_DIR,
            probe=PROBES,
        ),
    log:
        f"{RESULTS}/logs/validation/kernels_{{variant}}_{{post}}_{{pre}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/validation/kernels_{{variant}}_{{post}}_{{pre}}.tsv"
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
        rates=RATE_FLAGS,
        inputs=variant_pathway_inputs,
        outdir=lambda wildcards: f"{VALIDATION_DIR}/kernels_{wildcards.variant}/{wildcards.post}/{wildcards.pre}",
    shell:
        "{resources.mpi} -n {resources.tasks} {params.cli} kernel {params.config:q} "
        "--pre {wildcards.pre} --post {wildcards.post} --mode {params.mode} {params.flags} "
        "{params.rates} --output-dir {params.outdir:q} > {log:q} 2>&1"


rule validation_tensor:
    input:
        variant_kernel_files,
        rate_spikes=RATE_SPIKES,
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
        rates=RATE_FLAGS,
        inputs=lambda wildcards: content_hash(
            inputs.tensor_inputs(
                variant_config(wildcards.variant), VARIANTS[wildcards.variant][0]
            )
        ),
    shell:
        "{params.cli} assemble {params.config:q} --kernels-dir {params.kernels:q} "
        "--mode {params.mode} {params.flags} {params.rates} -o {output:q} > {log:q} 2>&1"


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
            inputs.signal_inputs(variant_config(wildcards.variant))
        ),
    shell:
        "{params.cli} signals {params.config:q} --kernels {input.kernels:q} "
        "--spikes {input.spikes:q} {params.flags} -o {output:q} > {log:q} 2>&1"


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
        kernels=[path for paths in kernel_sets().values() for path in paths],
    output:
        validation=f"{VALIDATION_DIR}/validation.h5",
        summary=f"{VALIDATION_DIR}/summary.md",
        figures=report(
            directory(f"{VALIDATION_DIR}/figures"),
            patterns=["{name}.png"],
            caption="../report/validation.rst",
            category="Validation",
        ),
    log:
        f"{RESULTS}/logs/validation/compare.log",
    conda:
        "../envs/hpckernels.yaml"
    params:
        cli=HPCKERNELS,
        config=CONFIG_FILE,
        inputs=groundtruth_trigger,
        predictions=shlex.join(
            arg
            for name, path in prediction_arguments().items()
            for arg in ("--prediction", f"{name}={path}")
        ),
        kernels=shlex.join(
            arg
            for name, paths in kernel_sets().items()
            for path in paths
            for arg in ("--kernels", f"{name}={path}")
        ),
        hybrid=lambda wildcards, input: shlex.join(
            arg for path in input.hybrid for arg in ("--hybrid-kernels", path)
        ),
        rates=RATE_FLAGS,
    shell:
        "{params.cli} compare {params.config:q} --groundtruth {input.groundtruth:q} "
        "--linearized {input.linearized:q} --predicted-error {input.error:q} "
        "{params.hybrid} {params.predictions} {params.kernels} {params.rates} "
        "-o {output.validation:q} --summary {output.summary:q} --figures {output.figures:q} "
        "> {log:q} 2>&1"
