"""End to end on a real single-node SLURM cluster (tests/slurm/): the workflow through the
SLURM executor (pathway jobs are 2-task MPI jobs started with srun) gives the same kernel
tensor as through the local profile (mpiexec).

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
from conftest import CONFIGS, REPO, hpckernels_env

pytestmark = pytest.mark.slurm


SLURM_SCRIPTS = REPO / "tests" / "slurm"
SNAKEFILE = REPO / "workflow" / "Snakefile"
PROFILES = REPO / "cluster_profiles"
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
RUN = "slurm_test"
TASKS = 2
TIMEOUT = 600  # s per workflow run: a stuck job fails the test instead of hanging CI
# pathway_kernels wildcards as the SLURM executor names its log folders: {post}_{pre}
PATHWAYS = {"E_E", "E_I", "I_E", "I_I"}
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


def diagnostics(workdir, output):
    """Snakemake output, SLURM job logs, rule logs and the queue, for a failure message."""
    parts = [f"===== snakemake output ({workdir}) =====", output[-20000:]]
    logs = sorted((workdir / ".snakemake" / "slurm_logs").rglob("*.log"))
    logs += sorted((workdir / "results" / RUN / "logs").rglob("*.log"))
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
    """config/two_population.yaml as a small ensemble run, with absolute cell paths."""
    source = CONFIGS / "two_population.yaml"
    config = yaml.safe_load(source.read_text())
    for population in config["populations"].values():
        cell = population["cell"]
        cell["template"]["file"] = str((source.parent / cell["template"]["file"]).resolve())
        cell["morphology"] = str((source.parent / cell["morphology"]).resolve())
    config["workflow"] = {"run": RUN, "mode": "ensemble"}
    config["ensemble"] = {"realizations": 24, "seed": 7}
    path = tmp_path_factory.mktemp("config") / "slurm_test.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def run_workflow(workdir, profile, config_file, *options):
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
    code, output = run_logged(cmd, workdir, workdir / "snakemake.out")
    print(f"\n{profile} workflow: exit {code} in {time.monotonic() - started:.0f} s")
    assert code == 0, (
        f"snakemake --profile {profile} "
        f"{'timed out' if code is None else f'exited {code}'}\n" + diagnostics(workdir, output)
    )
    return workdir, output


@pytest.fixture(scope="module")
def slurm_run(slurm_cluster, config_file, tmp_path_factory):
    # sacct named explicitly: the plugin's default may switch to squeue (MinJobAge is long)
    return run_workflow(
        tmp_path_factory.mktemp("slurm"),
        "slurm",
        config_file,
        "--slurm-status-command",
        "sacct",
        "--slurm-init-seconds-before-status-checks",
        "5",
        "--seconds-between-status-checks",
        "5",
    )


@pytest.fixture(scope="module")
def local_run(config_file, tmp_path_factory):
    return run_workflow(tmp_path_factory.mktemp("local"), "local", config_file)


def submitted_jobs(output):
    """{SLURM job ID: (rule, wildcards folder)} from the executor's submission lines."""
    jobs = {}
    for job_id, log in SUBMITTED.findall(output):
        parts = Path(log).parts
        rule = next(p for p in parts if p.startswith("rule_"))[len("rule_") :]
        index = parts.index(f"rule_{rule}")
        jobs[job_id] = (rule, "/".join(parts[index + 1 : -1]))
    return jobs


def sacct_records(job_ids, want_steps, attempts=30):
    """{JobID: record} of jobs and steps; waits until every `want_steps` step is recorded."""
    records = {}
    for _ in range(attempts):
        result = shell(
            [
                "sacct",
                "-P",
                "-n",
                "-j",
                ",".join(job_ids),
                "-o",
                "JobID,JobName,State,ExitCode,NTasks,AllocCPUS",
            ]
        )
        assert result.returncode == 0, result.stderr
        fields = ("JobID", "JobName", "State", "ExitCode", "NTasks", "AllocCPUS")
        records = {
            line.split("|")[0]: dict(zip(fields, line.split("|"), strict=True))
            for line in result.stdout.splitlines()
            if line.strip()
        }
        if all(step in records for step in want_steps):
            break
        time.sleep(1)
    return records


def test_every_rule_ran_as_a_slurm_job(slurm_run):
    workdir, output = slurm_run
    rules = {rule for rule, _ in submitted_jobs(output).values()}
    assert rules == {"mechanisms", "pathway_kernels", "kernel_tensor", "kernel_figure"}, (
        diagnostics(workdir, output)
    )
    assert (workdir / "results" / RUN / "figures" / "kernels_lfp.png").stat().st_size > 0


def test_pathway_jobs_are_2_task_mpi_jobs(slurm_run):
    workdir, output = slurm_run
    pathway_jobs = {
        job_id: wildcards
        for job_id, (rule, wildcards) in submitted_jobs(output).items()
        if rule == "pathway_kernels"
    }
    assert sorted(pathway_jobs.values()) == sorted(PATHWAYS), diagnostics(workdir, output)
    # the rule's shell is `srun -n 2 python .../hpckernels_cli.py kernel ...`: step 0 of each job
    records = sacct_records(list(pathway_jobs), [f"{j}.0" for j in pathway_jobs])
    for job_id, wildcards in pathway_jobs.items():
        job, step = records.get(job_id), records.get(f"{job_id}.0")
        context = f"pathway {wildcards}, SLURM job {job_id}: {records}"
        assert job is not None and step is not None, context
        assert job["State"] == "COMPLETED" and job["ExitCode"] == "0:0", context
        assert int(job["AllocCPUS"]) == TASKS, context
        assert step["JobName"] == "python", context  # srun python .../hpckernels_cli.py
        assert step["State"] == "COMPLETED", context
        assert int(step["NTasks"]) == TASKS, context


def test_kernels_computed_on_2_ranks(slurm_run):
    workdir, output = slurm_run
    files = sorted((workdir / "results" / RUN / "kernels").glob("*/*/*.h5"))
    assert len(files) == len(PATHWAYS) * 2, diagnostics(workdir, output)  # probes lfp, dipole
    for path in files:
        with h5py.File(path, "r") as fh:
            assert fh.attrs["mode"] == "ensemble"
            assert fh.attrs["mpi_ranks"] == TASKS, path
            assert fh.attrs["realizations"] == 24 and fh.attrs["seed"] == 7, path


def test_slurm_tensor_equals_local_tensor(slurm_run, local_run):
    # ensemble realizations are seeded per realization, not per rank: launcher-independent
    tensors = [workdir / "results" / RUN / "kernels.h5" for workdir, _ in (slurm_run, local_run)]
    with h5py.File(tensors[0], "r") as slurm, h5py.File(tensors[1], "r") as local:
        assert set(slurm) == set(local) == {"lfp", "dipole"}
        for probe in slurm:
            for key in ("kernel", "std"):
                a, b = slurm[probe][key][()], local[probe][key][()]
                assert a.shape == b.shape == (2, 2, *a.shape[2:]), (probe, key, a.shape)
                assert np.abs(a).max() > 0, (probe, key)
                assert np.array_equal(a, b), f"{probe}/{key}: max |diff| {np.abs(a - b).max()}"
