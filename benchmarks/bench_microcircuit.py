"""microcircuit_workflow: the cortical microcircuit (config/microcircuit.yaml) end to end
with the local profile: NEST network, 8 basis and 55 pathway jobs, tensor, signals and
figures (a few of them kept in benchmarks/results/microcircuit/ for the README)."""

from __future__ import annotations

import re
import shutil

from harness import (
    REPO,
    benchmark,
    fmt_s,
    machine_nproc,
    pass_fail,
    snakemake_command,
    snakemake_jobs_done,
    snakemake_stage_times,
    summary_row,
    timed_run,
)

ORDER = 70  # position in the run order and the tables (harness docstring)
MICROCIRCUIT = REPO / "config" / "microcircuit.yaml"
#: Full-scale rates (spikes/s) of NEST's microcircuit example (network_params.py,
#: full_mean_rates); the shipped scale keeps the in-degrees, so its rates should be near.
PUBLISHED_RATES = {
    "L23E": 0.943,
    "L23I": 3.026,
    "L4E": 4.368,
    "L4I": 5.882,
    "L5E": 7.733,
    "L5I": 8.664,
    "L6E": 1.096,
    "L6I": 7.851,
}
#: Rates count as plausible within this factor of the published ones.
RATE_FACTOR = 1.5
#: Figures kept with the results (benchmarks/results/microcircuit/), shown in the README.
FIGURES = ("kernels_lfp.png", "lfp_image.png", "csd_image.png", "pathway_shares.png")
#: The network command's summary line (build and simulate times of NEST).
_NEST_TIMES = re.compile(r"in ([\d.]+) s \(build ([\d.]+) s, simulate ([\d.]+) s")


def _rates_after(spikes_file, t_start):
    """Mean rate (spikes/s per simulated neuron) of every population after t_start (ms)."""
    import h5py

    with h5py.File(spikes_file, "r") as fh:
        duration = float(fh.attrs["duration"])
        return {
            name: float((group["timestamps"][()] >= t_start).sum())
            / group.attrs["simulated_size"]
            / ((duration - t_start) / 1000.0)
            for name, group in fh["spikes"].items()
        }


@benchmark(
    "microcircuit_workflow",
    "Wall time of the whole workflow for config/microcircuit.yaml (8 populations, 8 basis "
    "jobs, 55 pathways with a connection, 5 probes; NEST network at the shipped scale) "
    "with the local profile on all cores, from an empty results folder (mechanisms "
    "already compiled), and the time of each stage from Snakemake's log.",
)
def microcircuit_workflow(ctx):
    import yaml

    settings = yaml.safe_load(MICROCIRCUIT.read_text())
    run, t_start = settings["workflow"]["run"], settings["signals"]["t_start"]
    cores = machine_nproc()
    workdir = ctx.scratch / "microcircuit"
    workdir.mkdir(parents=True)
    cmd = snakemake_command(MICROCIRCUIT, cores)
    ctx.say(f"microcircuit_workflow: --cores {cores}")
    wall, proc = timed_run(ctx, cmd, workdir, timeout=7200)
    done, planned = snakemake_jobs_done(proc.stderr)
    stages = snakemake_stage_times(proc.stderr)
    results = workdir / "results" / run
    nest = _NEST_TIMES.search((results / "logs" / "network.log").read_text())
    keys = ("total_s", "build_s", "simulate_s")
    nest_times = dict(zip(keys, map(float, nest.groups()), strict=True))
    rates = _rates_after(results / "network" / "spikes.h5", t_start)
    plausible = all(
        PUBLISHED_RATES[n] / RATE_FACTOR <= r <= PUBLISHED_RATES[n] * RATE_FACTOR
        for n, r in rates.items()
    )
    all_ran = planned is not None and done == planned
    kept = ctx.results_dir / "microcircuit"
    kept.mkdir(exist_ok=True)
    for name in FIGURES:
        shutil.copyfile(results / "figures" / name, kept / name)
    order = ("network", "basis", "pathway_kernels", "kernel_tensor", "signals", "kernel_figure")
    order += ("signal_figures",)
    spans = ", ".join(
        f"{name} {stages[name]['span_s']:.0f} s"
        + (f" ({stages[name]['jobs']} jobs)" if stages[name]["jobs"] > 1 else "")
        for name in order
        if name in stages
    )
    return {
        "cores": cores,
        "wall_s": wall,
        "stages": stages,
        "nest": nest_times,
        "network": {
            "scale": settings["network"]["scale"],
            "duration_ms": settings["network"]["duration"],
        },
        "rates_after_t_start": rates,
        "figures": [f"microcircuit/{name}" for name in FIGURES],
        "published_rates": PUBLISHED_RATES,
        "checks": {
            "all_jobs_ran": {"passed": all_ran, "jobs_done_of_planned": [done, planned]},
            "rates_plausible": {
                "passed": plausible,
                "rule": f"within a factor {RATE_FACTOR} of the published full-scale rates",
            },
        },
        "summary": summary_row(
            hpckernels=f"--cores {cores}: {fmt_s(wall)} end to end",
            reference=f"stage spans: {spans}; NEST build {nest_times['build_s']:.0f} s + "
            f"simulate {nest_times['simulate_s']:.0f} s",
            ratio=f"NEST {nest_times['total_s'] / wall:.0%} of the wall time",
            target="recorded (no target)",
            met=True,
            checks=f"{done} jobs each run: {pass_fail(all_ran)}; rates within "
            f"{RATE_FACTOR}x of the published: {pass_fail(plausible)}",
        ),
    }
