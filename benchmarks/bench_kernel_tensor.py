"""kernel_tensor: the 4-pathway mean-field kernel tensor, hpckernels' per-pathway NEURON
engine (``--engine neuron``) vs lfpykernels. The workers take the config and the pathways
as arguments (bench_linear.py runs them on the microcircuit's 55 pathways)."""

from __future__ import annotations

import sys

from harness import (
    PATHWAYS,
    REPO,
    benchmark,
    fmt_s,
    lfpykernels_config,
    mean_field_pathway,
    pass_fail,
    profile_top,
    run_worker,
    summary_row,
    target_spec,
    tensor_agreement,
    time_tensor,
    worker,
)

ORDER = 10  # position in the run order and the tables (harness docstring)
#: Agreement with the reference: max |difference| <= RTOL * max |H| (as tests/test_reference.py).
RTOL = 1e-6


@worker
def kernel_tensor_hpckernels(args):
    """Time the mean-field kernel tensor with hpckernels' per-pathway NEURON engine."""
    from mpi4py import MPI  # noqa: F401  (MPI before NEURON, as in the CLI)

    # isort: split
    import LFPy  # noqa: F401  (imports are not timed: import them all up front)
    import neuron  # noqa: F401

    from hpckernels import mechanisms
    from hpckernels.config import NetworkConfig

    mechanisms.load_mechanisms()
    config = NetworkConfig.from_file(args["config"])
    return time_tensor(mean_field_pathway(config), args)


@worker
def kernel_tensor_lfpykernels(args):
    """Time the same tensor with lfpykernels 0.2.0 (tests/lfpykernels_reference.py)."""
    from mpi4py import MPI  # noqa: F401  (MPI before NEURON)

    # isort: split
    import LFPy  # noqa: F401
    import lfpykernels  # noqa: F401
    import lfpykit  # noqa: F401
    import neuron  # noqa: F401

    sys.path.insert(0, str(REPO / "tests"))
    from lfpykernels_reference import reference_kernels, reference_probe

    from hpckernels import mechanisms  # lfpykernels uses the Exp2SynI of mod/
    from hpckernels.config import NetworkConfig

    mechanisms.load_mechanisms()
    config = NetworkConfig.from_file(args["config"])
    names = list(config.probes)

    def pathway(pre, post):
        # one get_kernel call per pathway with both probes, t_X = 500 ms
        # population-valued probe parameters (R, sigma_z) take post's values
        probes = [reference_probe(config.probe_spec(name, post)) for name in names]
        kernels = reference_kernels(config, pre, post, probes, t_X=500.0)
        # lfpykernels keys kernels by probe class name
        return {
            name: kernels[type(probe).__name__] for name, probe in zip(names, probes, strict=True)
        }

    return time_tensor(pathway, args)


@benchmark(
    "kernel_tensor",
    "Mean-field kernel tensor of config/two_population.yaml in lfpykernels' convention "
    "(operating_point: uniform; E->E, E->I, I->E, I->I; "
    "probes lfp = GaussCylinderPotential and dipole = CurrentDipoleMoment): "
    "hpckernels' per-pathway NEURON engine (--engine neuron; the linear engine is in "
    "linear_tensor) vs lfpykernels 0.2.0 KernelApprox.get_kernel (t_X = 500 ms), "
    "each in a fresh process, imports and mechanism loading not timed.",
    ratio="reference time / hpckernels time",
)
def kernel_tensor(ctx):
    import numpy as np

    repeats = ctx.repeat_count(3)
    config = lfpykernels_config(ctx)
    runs = {}
    for impl in ("hpckernels", "lfpykernels"):
        ctx.say(f"kernel_tensor: {impl}, best of {repeats}")
        args = {
            "config": str(config),
            "repeats": repeats,
            "arrays": str(ctx.scratch / f"kernel_tensor_{impl}.npz"),
        }
        if ctx.profile:
            args["profile"] = str(ctx.scratch / f"kernel_tensor_{impl}.prof")
        runs[impl] = run_worker(ctx, f"kernel_tensor_{impl}", args)
        if ctx.profile:
            runs[impl]["profile"] = profile_top(args["profile"])

    with (
        np.load(ctx.scratch / "kernel_tensor_hpckernels.npz") as mine,
        np.load(ctx.scratch / "kernel_tensor_lfpykernels.npz") as ref,
    ):
        passed, agreement = tensor_agreement(dict(mine), dict(ref), RTOL)
    worst = max(v.get("max_abs_diff_rel", float("inf")) for v in agreement.values())

    hpc, lfk = runs["hpckernels"], runs["lfpykernels"]
    speedup = lfk["best_s"] / hpc["best_s"]
    cold_speedup = lfk["cold_s"] / hpc["cold_s"]
    target = 10.0
    return {
        "repeats": repeats,
        "pathways": [f"{pre}->{post}" for pre, post in PATHWAYS],
        "hpckernels": hpc,
        "lfpykernels": lfk,
        "speedup_best": speedup,
        "speedup_cold": cold_speedup,
        "target": target_spec("speedup_best", ">=", target, speedup >= target),
        "checks": {
            "tensor_agreement": {
                "passed": passed,
                "rtol": RTOL,
                "max_rel_diff": worst,
                "per_kernel": agreement,
            }
        },
        "summary": summary_row(
            hpckernels=f"{fmt_s(hpc['best_s'])} (cold {fmt_s(hpc['cold_s'])})",
            reference=f"lfpykernels {fmt_s(lfk['best_s'])} (cold {fmt_s(lfk['cold_s'])})",
            ratio=f"{speedup:.1f}x faster (cold {cold_speedup:.1f}x)",
            target=f">= {target:g}x faster (best of {repeats})",
            met=speedup >= target,
            checks=f"tensors agree: {pass_fail(passed)} "
            f"(max |diff| = {worst:.1e} max|H|, tol {RTOL:g})",
        ),
    }
