"""paper_workflow, paper_hay_workflow, validation_workflow,
microcircuit_validation_workflow and sample_bias: the paper's validation (Hagen et al.
2022) and the validation of every shipped network end to end (target: 20 minutes each
for the validations), and the metrics against a whole population estimated from a
sample of its cells.

paper_workflow, paper_hay_workflow
    ``snakemake paper`` for config/paper.yaml (the E/I network of active ball-and-sticks
    cells, Figs 4-7) and config/paper_hay.yaml (the Hay network, Figs 10-13) with the
    local profile on all cores from an empty results folder (mechanisms compiled): wall
    time (target: at most an hour each), the stages, the machine's load average, and the
    metrics of every prediction against the ground truth (its summary.md is kept in
    benchmarks/results/paper/).
sample_bias
    config/validation.yaml's ground truth of all 9216 cells against its sample of 256 E
    and 128 I cells: R^2, r_STD and E_rel of the mean-field prediction measured against
    all cells, and estimated from the sample with and without removing the variance the
    sample adds (predict-error's var_sample_excess). Target: the estimate within 0.05 of
    the whole population's E_rel on every LFP channel and P_z where the raw sample is
    further off.
"""

from __future__ import annotations

import os
import shutil

from harness import (
    REPO,
    benchmark,
    fmt_s,
    machine_nproc,
    mpiexec,
    pass_fail,
    snakemake_command,
    snakemake_jobs_done,
    snakemake_stage_times,
    summary_row,
    target_spec,
    timed_run,
    venv_executable,
)

ORDER = 65  # after the validation benchmarks (harness docstring)
#: Longest wall time (s) of one paper target.
PAPER_TARGET = 3600.0
#: sample_bias: largest |estimated - measured| E_rel of the whole population.
E_REL_TOLERANCE = 0.05
RANKS = 2


def _text(values):
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def _metrics(validation_file):
    """{probe: {prediction: {metric: median across channels}}} against the ground truth
    (raw; ``<metric>_all``: estimated against all cells), a dipole's components one by
    one (``dipole z``)."""
    import h5py
    import numpy as np

    keys = ("r2", "r_std", "e_rel")
    out = {}
    with h5py.File(validation_file) as fh:
        for probe, group in fh.items():
            if not isinstance(group, h5py.Group) or "r2" not in group:
                continue
            names, channels = _text(group["prediction"][()]), _text(group["channel"][()])
            active = group["active"][()]
            if active.size > 3:
                picks = {probe: active}
            else:
                rows = np.arange(active.size)
                picks = {f"{probe} {channels[c]}": rows == c for c in np.flatnonzero(active)}
            for label, pick in picks.items():
                out[label] = {}
                for p, name in enumerate(names):
                    values = {k: float(np.nanmedian(group[k][0, p, 0][pick])) for k in keys}
                    if "e_rel_full" in group:
                        for k in keys:
                            values[f"{k}_all"] = float(
                                np.nanmedian(group[f"{k}_full"][0, p][pick])
                            )
                    out[label][name] = values
    return out


def _paper(ctx, name, target="paper", limit=PAPER_TARGET):
    """``snakemake TARGET`` of config/NAME.yaml from an empty results folder: wall time
    (at most ``limit`` s), stages, load, and the metrics against the ground truth."""
    import yaml

    config = REPO / "config" / f"{name}.yaml"
    run = yaml.safe_load(config.read_text())["workflow"]["run"]
    cores = machine_nproc()
    workdir = ctx.scratch / name
    workdir.mkdir(parents=True)
    cmd = snakemake_command(config, cores, target)
    load_before = os.getloadavg()
    ctx.say(f"{name}: snakemake {target} --cores {cores} (load {load_before[0]:.1f})")
    wall, proc = timed_run(ctx, cmd, workdir, timeout=4 * 3600)
    load_after = os.getloadavg()
    done, planned = snakemake_jobs_done(proc.stderr)
    stages = snakemake_stage_times(proc.stderr)
    validation = workdir / "results" / run / "validation"
    kept = ctx.results_dir / "paper"
    kept.mkdir(exist_ok=True)
    shutil.copyfile(validation / "summary.md", kept / f"{name}_summary.md")
    metrics = _metrics(validation / "validation.h5")
    with_gt = {k: v for k, v in stages.items() if k.startswith(("groundtruth", "hybrid"))}
    all_ran = planned is not None and done == planned
    met = wall <= limit and all_ran
    main = metrics.get("lfp", {}).get("mean-field", {})
    dipole = metrics.get("dipole z", {}).get("mean-field", {})
    uniform = metrics.get("lfp", {}).get("lfpykernels")
    uniform_dipole = metrics.get("dipole z", {}).get("lfpykernels", {})
    convention = (
        ""
        if uniform is None
        else f"; lfpykernels' convention: LFP r_STD {uniform['r_std']:.2f}, "
        f"P_z r_STD {uniform_dipole.get('r_std', float('nan')):.2f}"
    )
    return {
        "config": str(config.relative_to(REPO)),
        "cores": cores,
        "wall_s": wall,
        "load_average_1min": {"before": load_before[0], "after": load_after[0]},
        "stages": stages,
        "metrics_vs_groundtruth": metrics,
        "summary_file": f"paper/{name}_summary.md",
        "target": target_spec("wall_s", "<=", limit, met),
        "checks": {"all_jobs_ran": {"passed": all_ran, "jobs_done_of_planned": [done, planned]}},
        "summary": summary_row(
            hpckernels=f"--cores {cores}: {fmt_s(wall)} end to end (load "
            f"{load_before[0]:.1f} -> {load_after[0]:.1f})",
            reference="ground truth and hybrid kernels "
            + ", ".join(f"{k} {v['span_s']:.0f} s" for k, v in with_gt.items()),
            ratio=f"mean-field: LFP R2 {main.get('r2', float('nan')):.2f}, r_STD "
            f"{main.get('r_std', float('nan')):.2f}; P_z R2 {dipole.get('r2', float('nan')):.2f}, "
            f"r_STD {dipole.get('r_std', float('nan')):.2f}{convention}",
            target=f"<= {fmt_s(limit)}",
            met=met,
            checks=f"{done} jobs each run: {pass_fail(all_ran)}",
        ),
    }


@benchmark(
    "paper_workflow",
    "snakemake paper for config/paper.yaml (the paper's E/I network; ground truth: 256 E "
    "and 128 I active ball-and-sticks cells for 3 s, conductance-based and linearized, "
    "hybrid-scheme kernels; kernels of 7 predictions; Figs 4-7 and 14) with the local "
    "profile on all cores, from an empty results folder.",
)
def paper_workflow(ctx):
    return _paper(ctx, "paper")


@benchmark(
    "paper_hay_workflow",
    "snakemake paper for config/paper_hay.yaml (the Hay network; ground truth: 64 Hay-"
    "style E cells and 64 active ball-and-sticks I cells for 3 s; kernels of 7 "
    "predictions; Figs 2 and 10-13) with the local profile on all cores, from an empty "
    "results folder.",
)
def paper_hay_workflow(ctx):
    return _paper(ctx, "paper_hay")


#: Longest wall time (s) of a shipped network's validation target.
VALIDATION_TARGET = 1200.0


@benchmark(
    "validation_workflow",
    "snakemake validation for config/validation.yaml (the E/I network of passive cells; "
    "ground truth: 256 E and 128 I cells for 3 s; the default and lfpykernels' operating "
    "point, no g_eff, ensemble) with the local profile on all cores, from an empty "
    "results folder.",
)
def validation_workflow(ctx):
    return _paper(ctx, "validation", "validation", VALIDATION_TARGET)


@benchmark(
    "microcircuit_validation_workflow",
    "snakemake validation for config/microcircuit_validation.yaml (the cortical "
    "microcircuit; ground truth: 16 cells of each of the 8 populations for 1.5 s, "
    "passive, current-based synapses) with the local profile on all cores, from an "
    "empty results folder.",
)
def microcircuit_validation_workflow(ctx):
    return _paper(ctx, "microcircuit_validation", "validation", VALIDATION_TARGET)


@benchmark(
    "sample_bias",
    "config/validation.yaml: the mean-field prediction against the ground truth of all "
    "8192 E and 1024 I cells, and against the sample of 256 E and 128 I cells scaled up, "
    "as measured and with the sample's excess variance (predict-error) removed; "
    "mpiexec -n 2 for the ground truths.",
)
def sample_bias(ctx):
    import yaml

    exe = venv_executable("hpckernels")
    config = REPO / "config" / "validation.yaml"
    folder = ctx.scratch / "sample_bias"
    folder.mkdir(parents=True, exist_ok=True)
    data = yaml.safe_load(config.read_text())
    data.pop("validation")
    del data["groundtruth"]["cells_per_population"]  # all cells
    for population in data["populations"].values():
        cell = population["cell"]
        cell["template"]["file"] = str(REPO / "config" / cell["template"]["file"])
        cell["morphology"] = str(REPO / "config" / cell["morphology"])
    whole = folder / "whole.yaml"
    whole.write_text(yaml.safe_dump(data))
    spikes, tensor, signals = folder / "spikes.h5", folder / "kernels.h5", folder / "signals.h5"
    ctx.say("sample_bias: network and mean-field kernels (not timed)")
    timed_run(ctx, [exe, "network", config, "-o", spikes], REPO, 3600)
    for post in ("E", "I"):
        for pre in ("E", "I"):
            out = folder / "kernels" / post / pre
            cmd = [exe, "kernel", config, "--pre", pre, "--post", post, "--output-dir", out]
            timed_run(ctx, cmd, REPO, 1800)
    cmd = [exe, "assemble", config, "--kernels-dir", folder / "kernels", "-o", tensor]
    timed_run(ctx, cmd, REPO, 600)
    cmd = [exe, "signals", config, "--kernels", tensor, "--spikes", spikes, "-o", signals]
    timed_run(ctx, cmd, REPO, 600)
    error = folder / "error.h5"
    cmd = [exe, "predict-error", config, "--kernels", tensor, "--spikes", spikes, "-o", error]
    timed_run(ctx, cmd, REPO, 3600)
    walls, files = {}, {}
    for name, cfg in (("sample", config), ("whole", whole)):
        files[name] = folder / f"groundtruth_{name}.h5"
        load = os.getloadavg()[0]
        ctx.say(f"sample_bias: ground truth ({name}, {RANKS} ranks, load {load:.1f})")
        cmd = [*mpiexec(ctx, RANKS), exe, "groundtruth", cfg, "--spikes", spikes, "-o"]
        walls[name], _ = timed_run(ctx, [*cmd, files[name]], REPO, 6 * 3600)
    compared = {}
    for name, cfg, extra in (
        ("sample", config, ["--predicted-error", error]),
        ("whole", whole, []),
    ):
        out = folder / f"compare_{name}.h5"
        cmd = [exe, "compare", cfg, "--groundtruth", files[name]]
        cmd += ["--prediction", f"mean-field={signals}", *extra, "-o", out]
        timed_run(ctx, cmd, REPO, 1800)
        compared[name] = _metrics(out)
    per_channel = {}
    import h5py

    with h5py.File(folder / "compare_sample.h5") as s, h5py.File(folder / "compare_whole.h5") as w:
        for probe in ("lfp", "dipole"):
            p_s = _text(s[probe]["prediction"][()]).index("mean-field")
            p_w = _text(w[probe]["prediction"][()]).index("mean-field")
            active = s[probe]["active"][()] & w[probe]["active"][()]
            per_channel[probe] = {
                metric: {
                    "whole": w[probe][metric][0, p_w, 0][active],
                    "sample": s[probe][metric][0, p_s, 0][active],
                    "estimate": s[probe][f"{metric}_full"][0, p_s][active],
                }
                for metric in ("r2", "r_std", "e_rel")
            }
    return {
        "groundtruth_wall_s": walls,
        "ranks": RANKS,
        "per_channel": per_channel,
        "metrics": compared,
        **sample_bias_verdict(per_channel, walls),
    }


def sample_bias_verdict(per_channel, walls):
    """Target, checks and table row of sample_bias from its per-channel metrics (the
    channels the estimate leaves out, NaN, are counted, not compared)."""
    import numpy as np

    worst, improved, missing = 0.0, True, 0
    for probe in ("lfp", "dipole"):
        e = {k: np.asarray(v, dtype=float) for k, v in per_channel[probe]["e_rel"].items()}
        known = np.isfinite(e["estimate"])
        missing += int((~known).sum())
        off = np.abs(e["estimate"][known] - e["whole"][known])
        worst = max(worst, float(off.max()) if off.size else 0.0)
        improved &= bool(np.all(off <= np.abs(e["sample"][known] - e["whole"][known])))
    met = worst <= E_REL_TOLERANCE and improved
    lfp = {k: np.asarray(v, dtype=float) for k, v in per_channel["lfp"]["e_rel"].items()}
    pz = {k: np.asarray(v, dtype=float) for k, v in per_channel["dipole"]["e_rel"].items()}
    n_lfp = lfp["whole"].size
    return {
        "max_abs_e_rel_error_of_estimate": worst,
        "channels_without_estimate": missing,
        "target": target_spec("max_abs_e_rel_error_of_estimate", "<=", E_REL_TOLERANCE, met),
        "checks": {"estimate_closer_than_sample": {"passed": improved}},
        "summary": summary_row(
            hpckernels=f"from 384 cells: E_rel LFP {np.nanmedian(lfp['estimate']):.2f} "
            f"({n_lfp - int(np.isfinite(lfp['estimate']).sum())} of {n_lfp} channels "
            f"without estimate), P_z {pz['estimate'][0]:.2f} (as measured on them "
            f"{np.median(lfp['sample']):.2f}, {pz['sample'][0]:.2f})",
            reference=f"all 9216 cells: LFP {np.median(lfp['whole']):.2f}, P_z "
            f"{pz['whole'][0]:.2f} ({fmt_s(walls['whole'])} on {RANKS} ranks)",
            ratio=f"max |estimate - all| = {worst:.3f}",
            target=f"<= {E_REL_TOLERANCE} on every LFP channel with an estimate and P_z",
            met=met,
            checks=f"estimate closer than the sample: {pass_fail(improved)}",
        ),
    }
