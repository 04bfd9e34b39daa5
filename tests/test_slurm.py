"""End to end on a real single-node SLURM cluster (tests/slurm/): a reduced 3-population
network through the SLURM executor submits one batch job per population (its basis job
and the (X, Y, probe) kernel jobs into it, each a 2-task MPI step started with srun; the
small jobs run on the submit host), at most P + 3 jobs in all, and gives the same kernel
tensors as the local profile (mpiexec). A reduced cortical microcircuit (8 populations,
55 pathways x 3 probes, the NEST network, signals) runs through the same profile with at
most 8 + 3 batch jobs.

Not skipped anywhere: CI has SLURM (tests/slurm/slurm_up.sh installs and starts it; root).
"""

import fcntl
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from conftest import REPO, hpckernels_env
from synthetic_configs import reduced_microcircuit, synthetic_data

pytestmark = pytest.mark.slurm


SLURM_SCRIPTS = REPO / "tests" / "slurm"
SNAKEFILE = REPO / "workflow" / "Snakefile"
PROFILES = REPO / "cluster_profiles"
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
RUN = "slurm_test"
TASKS = 2
TIMEOUT = 900  # s per workflow run: a stuck job fails the test instead of hanging CI
#: The reduced microcircuit: 173 srun steps (8 bases, 55 pathways x 3 probes), one group
#: at a time on the 2 CPUs of the test node (12.7 min measured with the machine loaded).
MICROCIRCUIT_TIMEOUT = 1800
POPULATIONS = ["P0", "P1", "P2"]
P = len(POPULATIONS)
SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+) \(log: (\S+)\)")
# There is one cluster per machine (fixed ports, /etc/slurm/slurm.conf): test sessions
# running at the same time take turns, or one would tear it down under the other's jobs.
LOCK = Path(os.environ.get("HPCK_SLURM_DIR", "/tmp/hpckernels-slurm") + ".lock")
LOCK_TIMEOUT = 1200  # s


def run_logged(cmd, cwd, log, timeout=TIMEOUT):
    """Run cmd with stdout and stderr to the file log; return (exit code or None, output).

    Own session, so that on timeout the whole process group (snakemake, mpiexec and
    ranks) is killed, not only the direct child.
    """
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(c) for c in cmd],
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=hpckernels_env(),
            start_new_session=True,
        )
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
            for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
                try:
                    os.killpg(proc.pid, sig)
                    proc.wait(timeout=grace)
                    break
                except ProcessLookupError:
                    break
                except subprocess.TimeoutExpired:
                    continue
    return code, Path(log).read_text(errors="replace")


def shell(cmd, timeout=60):
    return subprocess.run(
        cmd, capture_output=True, text=True, env=hpckernels_env(), timeout=timeout
    )


def diagnostics(workdir, output, run=RUN):
    """Snakemake output, SLURM job logs, rule logs and the queue, for a failure message."""
    parts = [f"===== snakemake output ({workdir}) =====", output[-20000:]]
    logs = sorted((workdir / ".snakemake" / "slurm_logs").rglob("*.log"))
    logs += sorted((workdir / "results" / run / "logs").rglob("*.log"))
    for path in logs:
        parts += [
            f"===== {path.relative_to(workdir)} =====",
            path.read_text(errors="replace")[-5000:],
        ]
    for cmd in (["squeue"], ["sacct", "-X", "-o", "JobID,JobName%40,State,ExitCode,AllocCPUS"]):
        try:
            result = shell(cmd, timeout=20)
            parts += [f"===== {' '.join(cmd)} =====", result.stdout + result.stderr]
        except (OSError, subprocess.SubprocessError) as error:
            parts.append(f"===== {' '.join(cmd)}: {error} =====")
    return "\n".join(parts)


def lock_cluster():
    """Exclusive lock on the cluster for this test session (released when the file closes,
    also if the process dies)."""
    handle = open(LOCK, "w")  # closed by the fixture
    deadline = time.monotonic() + LOCK_TIMEOUT
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() > deadline:
                handle.close()
                pytest.fail(
                    f"SLURM cluster still locked by another test session after "
                    f"{LOCK_TIMEOUT} s ({LOCK})"
                )
            time.sleep(2)


@pytest.fixture(scope="module")
def slurm_cluster():
    """Bring the single-node cluster up; always tear it down, also when bring-up fails."""
    lock = lock_cluster()
    ok = False
    try:
        # the first bring-up on a fresh machine installs Debian packages
        up = shell(["bash", SLURM_SCRIPTS / "slurm_up.sh"], timeout=900)
        print(up.stdout + up.stderr)
        assert up.returncode == 0, f"slurm_up.sh failed:\n{up.stdout}{up.stderr}"
        # the executor polls with sacct: accounting must be on
        acct = shell(["sacct", "-n", "-X", "-o", "JobID"], timeout=30)
        assert acct.returncode == 0, f"sacct does not work (accounting off?): {acct.stderr}"
        yield
        ok = True
    finally:
        down = shell(["bash", SLURM_SCRIPTS / "slurm_down.sh"], timeout=300)
        print(down.stdout + down.stderr)
        lock.close()
        # a failing bring-up is the error to show; do not mask it with this one
        if ok:
            assert down.returncode == 0, f"slurm_down.sh failed:\n{down.stdout}{down.stderr}"


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
    """A synthetic 3-population network (4 synapse kinetics over 9 pathways) as a small
    ensemble run."""
    config = synthetic_data(P, run=RUN)
    config["workflow"]["mode"] = "ensemble"
    config["ensemble"] = {"realizations": 200, "seed": 7}
    path = tmp_path_factory.mktemp("config") / "slurm_test.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def run_workflow(workdir, profile, config_file, *options, run=RUN, timeout=TIMEOUT):
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [
        SNAKEMAKE,
        "-s",
        SNAKEFILE,
        "--profile",
        PROFILES / profile,
        "--configfile",
        config_file,
        *options,
    ]
    started = time.monotonic()
    code, output = run_logged(cmd, workdir, workdir / "snakemake.out", timeout)
    print(f"\n{profile} workflow: exit {code} in {time.monotonic() - started:.0f} s")
    assert code == 0, (
        f"snakemake --profile {profile} "
        f"{'timed out' if code is None else f'exited {code}'}\n"
        + diagnostics(workdir, output, run)
    )
    return workdir, output


# sacct named explicitly: the plugin's default may switch to squeue (MinJobAge is long)
SLURM_OPTIONS = (
    "--slurm-status-command",
    "sacct",
    "--slurm-init-seconds-before-status-checks",
    "5",
    "--seconds-between-status-checks",
    "5",
)


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(time.time() - 1))


@pytest.fixture(scope="module")
def slurm_run(slurm_cluster, config_file, tmp_path_factory):
    started = now()
    workdir, output = run_workflow(
        tmp_path_factory.mktemp("slurm"), "slurm", config_file, *SLURM_OPTIONS
    )
    return workdir, output, started


@pytest.fixture(scope="module")
def local_run(config_file, tmp_path_factory):
    return run_workflow(tmp_path_factory.mktemp("local"), "local", config_file)


def submitted_jobs(output):
    """{SLURM job ID: (rule or group, wildcards folder)} from the executor's submission
    lines (log folders .snakemake/slurm_logs/rule_<rule>/<wildcards> or group_<group>/)."""
    jobs = {}
    for job_id, log in SUBMITTED.findall(output):
        parts = Path(log).parts
        name = next(p for p in parts if p.startswith(("rule_", "group_")))
        index = parts.index(name)
        jobs[job_id] = (name, "/".join(parts[index + 1 : -1]))
    return jobs


FIELDS = ("JobID", "JobName", "State", "ExitCode", "NTasks", "AllocCPUS")


def sacct(*options):
    """sacct records (dicts of FIELDS)."""
    result = shell(["sacct", "-P", "-n", "-o", ",".join(FIELDS), *options])
    assert result.returncode == 0, result.stderr
    return [
        dict(zip(FIELDS, line.split("|"), strict=True))
        for line in result.stdout.splitlines()
        if line.strip()
    ]


def sacct_records(job_ids, want_steps, attempts=30):
    """{JobID: record} of jobs and steps; waits until every `want_steps` step is recorded."""
    records = {}
    for _ in range(attempts):
        records = {r["JobID"]: r for r in sacct("-j", ",".join(job_ids))}
        if all(step in records for step in want_steps):
            break
        time.sleep(1)
    return records


def test_at_most_P_plus_3_batch_jobs(slurm_run):
    """sacct lists one batch job per population and nothing else: the small jobs ran on
    the submit host."""
    workdir, output, started = slurm_run
    batch_jobs = sacct("-X", "-S", started)
    context = diagnostics(workdir, output)
    assert len(batch_jobs) <= P + 3, context
    jobs = submitted_jobs(output)
    assert len(jobs) == P, context
    assert sorted(job["JobID"] for job in batch_jobs) == sorted(jobs), context
    # the executor names a group job's log folder group_<group>_<rules>
    assert all(name.startswith("group_population") for name, _ in jobs.values()), context
    assert all(job["State"] == "COMPLETED" for job in batch_jobs), context
    assert (workdir / "results" / RUN / "figures" / "kernels_lfp.png").stat().st_size > 0


#: Probes of the synthetic network (tests/synthetic_configs.py default).
PROBES = ("lfp", "dipole")
#: srun steps of a population's batch job: its basis job, a kernel job per pathway into it
#: and probe.
STEPS = 1 + P * len(PROBES)


def test_population_job_runs_its_basis_and_kernels_as_2_task_steps(slurm_run):
    """Each population's allocation has TASKS CPUs (not one set per member) and runs
    1 + P x probes srun steps of TASKS tasks: its basis job and the (X, Y, probe) kernel
    jobs into it."""
    workdir, output, _ = slurm_run
    jobs = list(submitted_jobs(output))
    records = sacct_records(jobs, [f"{j}.{STEPS - 1}" for j in jobs])
    for job_id in jobs:
        job = records.get(job_id)
        context = f"SLURM job {job_id}: {records}"
        assert job is not None and job["State"] == "COMPLETED", context
        assert int(job["AllocCPUS"]) == TASKS, context
        steps = [records.get(f"{job_id}.{k}") for k in range(STEPS)]
        assert all(step is not None for step in steps), context
        for step in steps:
            assert step["JobName"] == "python" and step["State"] == "COMPLETED", context
            assert int(step["NTasks"]) == TASKS, context
        assert f"{job_id}.{STEPS}" not in records, context
    logs = {path.stem for path in (workdir / "results" / RUN / "logs" / "basis").glob("*.log")}
    assert logs == set(POPULATIONS)


def test_kernels_computed_on_2_ranks(slurm_run):
    workdir, output, _ = slurm_run
    files = sorted((workdir / "results" / RUN / "kernels").glob("*/*/*.h5"))
    assert len(files) == P * P * len(PROBES), diagnostics(workdir, output)
    for path in files:
        with h5py.File(path, "r") as fh:
            assert list(fh) == [path.stem], path  # one probe per kernel job
            assert fh.attrs["mode"] == "ensemble" and fh.attrs["engine"] == "linear"
            assert fh.attrs["mpi_ranks"] == TASKS, path
            assert fh.attrs["realizations"] == 200 and fh.attrs["seed"] == 7, path


def test_slurm_tensor_equals_local_tensor(slurm_run, local_run):
    # ensemble realizations are seeded per realization, not per rank: launcher-independent
    for probe in PROBES:
        tensors = [
            run[0] / "results" / RUN / "tensor" / f"{probe}.h5" for run in (slurm_run, local_run)
        ]
        with h5py.File(tensors[0], "r") as slurm, h5py.File(tensors[1], "r") as local:
            assert list(slurm) == list(local) == [probe]
            for key in ("kernel", "std"):
                a, b = slurm[probe][key][()], local[probe][key][()]
                assert a.shape == b.shape == (P, P, *a.shape[2:]), (probe, key, a.shape)
                assert np.abs(a).max() > 0, (probe, key)
                assert np.array_equal(a, b), f"{probe}/{key}: max |diff| {np.abs(a - b).max()}"


# --------------------------------------------------------- the reduced microcircuit
MICROCIRCUIT = "microcircuit_reduced"
MICROCIRCUIT_P = 8


@pytest.fixture(scope="module")
def microcircuit_run(slurm_cluster, tmp_path_factory):
    """config/microcircuit.yaml at network scale 0.01 for 300 ms, 40 um segments, probes
    LFP, CSD and dipole (tests/synthetic_configs.py): the whole workflow on SLURM."""
    path = tmp_path_factory.mktemp("config") / "microcircuit_reduced.yaml"
    config = reduced_microcircuit(run=MICROCIRCUIT)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    started = now()
    workdir, output = run_workflow(
        tmp_path_factory.mktemp("microcircuit"),
        "slurm",
        path,
        *SLURM_OPTIONS,
        run=MICROCIRCUIT,
        timeout=MICROCIRCUIT_TIMEOUT,
    )
    return workdir, output, started


def test_reduced_microcircuit_runs_in_at_most_P_plus_3_batch_jobs(microcircuit_run):
    """One batch job per population (its basis and the (X, Y, probe) kernel jobs into it),
    one for the NEST network and one for the signals: P + 2; the tensors and the rest ran
    on the submit host."""
    workdir, output, started = microcircuit_run
    context = diagnostics(workdir, output, MICROCIRCUIT)
    jobs = submitted_jobs(output)
    batch_jobs = [job for job in sacct("-X", "-S", started) if job["JobID"] in jobs]
    assert sorted(job["JobID"] for job in batch_jobs) == sorted(jobs), context
    assert len(jobs) <= MICROCIRCUIT_P + 3, context
    names = sorted(name for name, _ in jobs.values())
    groups = [name for name in names if name.startswith("group_population")]
    assert len(groups) == MICROCIRCUIT_P, context
    assert sorted(set(names) - set(groups)) == ["rule_network", "rule_signals"], context
    assert all(job["State"] == "COMPLETED" for job in batch_jobs), context
    results = workdir / "results" / MICROCIRCUIT
    assert sorted(p.stem for p in (results / "tensor").glob("*.h5")) == ["csd", "dipole", "lfp"]
    assert len(list((results / "kernels").glob("*/*/*.h5"))) == 55 * 3
    with h5py.File(results / "tensor" / "lfp.h5", "r") as fh:
        kernel = fh["lfp"]["kernel"][()]
        assert kernel.shape[:2] == (MICROCIRCUIT_P, MICROCIRCUIT_P)
        # the 55 connections of the config, the other 9 pathways zero
        nonzero = np.abs(kernel).max(axis=(2, 3)) > 0
        assert nonzero.sum() == len(reduced_microcircuit()["connections"]) == 55
    with h5py.File(results / "signals.h5", "r") as fh:
        assert {"lfp", "csd", "dipole"} <= set(fh)
        assert np.isfinite(fh["lfp"]["total"][()]).all()
        assert np.abs(fh["lfp"]["total"][()]).max() > 0
    for figure in ("kernels_lfp.png", "csd_image.png", "pathway_shares.png"):
        assert (results / "figures" / figure).stat().st_size > 0
