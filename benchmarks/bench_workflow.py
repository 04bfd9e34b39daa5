"""workflow_wall_time: the whole Snakemake workflow with the local profile, 1 vs 2 cores."""

from __future__ import annotations

from harness import (
    CONFIG,
    benchmark,
    pass_fail,
    snakemake_command,
    snakemake_jobs_done,
    summary_row,
    timed_run,
)

ORDER = 30  # position in the run order and the tables (harness docstring)


@benchmark(
    "workflow_wall_time",
    "Wall time of the whole Snakemake workflow for config/two_population.yaml "
    "(mechanisms, 2 basis jobs, 8 kernel jobs (4 pathways x 2 probes), 2 tensors, 2 "
    "figures) with the local profile at "
    "--cores 1 and --cores 2, from an empty results folder (mechanisms already compiled).",
    ratio="1-core / 2-core wall time",
)
def workflow_wall_time(ctx):
    repeats = ctx.repeat_count(2)
    times, jobs = {}, {}
    for cores in (1, 2):
        best = None
        for rep in range(repeats):
            workdir = ctx.scratch / f"workflow_c{cores}_r{rep}"
            workdir.mkdir(parents=True)
            cmd = snakemake_command(CONFIG, cores)
            ctx.say(f"workflow_wall_time: --cores {cores} (repetition {rep + 1})")
            wall, proc = timed_run(ctx, cmd, workdir, timeout=1800)
            jobs[f"cores_{cores}_rep_{rep}"] = snakemake_jobs_done(proc.stderr)
            best = wall if best is None else min(best, wall)
        times[cores] = best
    speedup = times[1] / times[2]
    planned = {total for _, total in jobs.values()}
    # every run starts from an empty folder: all planned jobs run, and as many every time
    all_done = len(planned) == 1 and all(done == total for done, total in jobs.values())
    n_jobs = planned.pop() if len(planned) == 1 else None
    return {
        "repeats": repeats,
        "wall_s": {str(k): v for k, v in times.items()},
        "speedup_2_cores": speedup,
        "checks": {
            "all_jobs_ran": {
                "passed": all_done,
                "jobs_done_of_planned": {k: list(v) for k, v in jobs.items()},
            }
        },
        "summary": summary_row(
            hpckernels=f"--cores 2: {times[2]:.1f} s",
            reference=f"--cores 1: {times[1]:.1f} s",
            ratio=f"{speedup:.2f}x",
            target="recorded (no target)",
            met=True,
            checks=f"{n_jobs} jobs each run: {pass_fail(all_done)}",
        ),
    }
