"""main_job_workflow and microcircuit_workflow: the main job (config/config.yaml) and the
cortical microcircuit (config/microcircuit.yaml) end to end with the local profile: NEST
network, basis and (X, Y, probe) kernel jobs, tensors, signals and figures, the wall time
split into network, kernels, signals and figures (a few of the microcircuit's figures are
kept in benchmarks/results/microcircuit/ for the README)."""

from __future__ import annotations

import re
import shutil

from harness import (
    REPO,
    benchmark,
    fmt_s,
    machine_nproc,
    pass_fail,
    snakemake_benchmarks,
    snakemake_command,
    snakemake_jobs_done,
    snakemake_stage_times,
    summary_row,
    target_spec,
    timed_run,
    workflow_split,
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


def run_workflow(ctx, config, name):
    """Run the whole workflow of ``config`` with the local profile on all cores from an
    empty results folder: (wall time, stage times, split into network, kernels, signals
    and figures, jobs done and planned, results folder, NEST's times)."""
    import yaml

    settings = yaml.safe_load(config.read_text())
    run = settings.get("workflow", {}).get("run", config.stem)
    cores = machine_nproc()
    workdir = ctx.scratch / name
    workdir.mkdir(parents=True)
    cmd = snakemake_command(config, cores)
    ctx.say(f"{name}: --cores {cores}")
    wall, proc = timed_run(ctx, cmd, workdir, timeout=7200)
    done, planned = snakemake_jobs_done(proc.stderr)
    results = workdir / "results" / run
    stages = snakemake_stage_times(proc.stderr)
    rules = snakemake_benchmarks(results)
    nest = _NEST_TIMES.search((results / "logs" / "network.log").read_text())
    keys = ("total_s", "build_s", "simulate_s")
    nest_times = dict(zip(keys, map(float, nest.groups()), strict=True))
    return {
        "cores": cores,
        "wall_s": wall,
        "stages": stages,
        # job seconds, CPU seconds and peak memory per rule from the benchmark: files
        "rules": rules,
        "split_s": workflow_split(stages),
        "jobs": [done, planned],
        "results": results,
        "nest": nest_times,
    }


def split_text(run):
    """``network 40 s, kernels 18 s (275 kernel jobs), signals 5 s, figures 14 s``."""
    split, stages = run["split_s"], run["stages"]
    jobs = stages.get("kernel", {}).get("jobs", 0)
    parts = [
        f"{part} {seconds:.0f} s" + (f" ({jobs} kernel jobs)" if part == "kernels" else "")
        for part, seconds in split.items()
    ]
    return ", ".join(parts)


@benchmark(
    "main_job_workflow",
    "Wall time of the main job (make run: config/config.yaml, the paper's E/I network in "
    "NEST, kernels of LFP, dipole, EEG and MEG, signals, figures) with the local profile "
    "on all cores, from an empty results folder (mechanisms already compiled), split "
    "into network, kernels (mechanisms, basis, kernel jobs, tensors), signals and figures "
    "from Snakemake's log (spans, 1 s resolution; they overlap where jobs run side by "
    "side).",
)
def main_job_workflow(ctx):
    run = run_workflow(ctx, REPO / "config" / "config.yaml", "main_job")
    done, planned = run.pop("jobs")
    run.pop("results")
    all_ran = planned is not None and done == planned
    split = run["split_s"]
    kernels_signals = split.get("kernels", 0) + split.get("signals", 0)
    return {
        **run,
        "kernels_plus_signals_s": kernels_signals,
        "checks": {"all_jobs_ran": {"passed": all_ran, "jobs_done_of_planned": [done, planned]}},
        "summary": summary_row(
            hpckernels=f"--cores {run['cores']}: {fmt_s(run['wall_s'])} end to end",
            reference=f"{split_text(run)}; NEST build {run['nest']['build_s']:.1f} s + "
            f"simulate {run['nest']['simulate_s']:.1f} s",
            ratio=f"kernels + signals {kernels_signals:.0f} s; NEST "
            f"{run['nest']['total_s'] / run['wall_s']:.0%} of the wall time",
            target="recorded (no target)",
            met=True,
            checks=f"{done} jobs each run: {pass_fail(all_ran)}",
        ),
    }


@benchmark(
    "microcircuit_workflow",
    "Wall time of the whole workflow for config/microcircuit.yaml (8 populations, 8 basis "
    "jobs, 55 pathways with a connection x 5 probes = 275 kernel jobs, 5 tensors; NEST "
    "network at the shipped scale) with the local profile on all cores, from an empty "
    "results folder (mechanisms already compiled), split into network, kernels "
    "(mechanisms, basis, kernel jobs, tensors), signals and figures from Snakemake's log "
    "(spans, 1 s resolution; they overlap where jobs run side by side).",
)
def microcircuit_workflow(ctx):
    import yaml

    settings = yaml.safe_load(MICROCIRCUIT.read_text())
    t_start = settings["signals"]["t_start"]
    run = run_workflow(ctx, MICROCIRCUIT, "microcircuit")
    done, planned = run.pop("jobs")
    results = run.pop("results")
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
    split = run["split_s"]
    kernels_signals = split.get("kernels", 0) + split.get("signals", 0)
    target = 20.0
    met = kernels_signals <= target
    kernel_jobs = run["stages"].get("kernel", {})
    return {
        **run,
        "kernels_plus_signals_s": kernels_signals,
        "kernel_job_s_mean": kernel_jobs.get("job_s", 0) / max(1, kernel_jobs.get("jobs", 1)),
        "network": {
            "scale": settings["network"]["scale"],
            "duration_ms": settings["network"]["duration"],
        },
        "rates_after_t_start": rates,
        "figures": [f"microcircuit/{name}" for name in FIGURES],
        "published_rates": PUBLISHED_RATES,
        "target": target_spec("kernels_plus_signals_s", "<=", target, met),
        "checks": {
            "all_jobs_ran": {"passed": all_ran, "jobs_done_of_planned": [done, planned]},
            "rates_plausible": {
                "passed": plausible,
                "rule": f"within a factor {RATE_FACTOR} of the published full-scale rates",
            },
        },
        "summary": summary_row(
            hpckernels=f"--cores {run['cores']}: {fmt_s(run['wall_s'])} end to end",
            reference=f"{split_text(run)}; NEST build {run['nest']['build_s']:.0f} s + "
            f"simulate {run['nest']['simulate_s']:.0f} s",
            ratio=f"kernels + signals {kernels_signals:.0f} s; NEST "
            f"{run['nest']['total_s'] / run['wall_s']:.0%} of the wall time",
            target=f"kernels + signals <= {target:g} s",
            met=met,
            checks=f"{done} jobs each run: {pass_fail(all_ran)}; rates within "
            f"{RATE_FACTOR}x of the published: {pass_fail(plausible)}",
        ),
    }
