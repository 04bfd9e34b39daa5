"""The Snakemake workflow: DAG shape, equivalence with direct CLI calls, reruns of
only what changed, resuming after a killed job, config errors, lint and format."""

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
from conftest import CONFIGS, REPO, hpckernels_env, network_config, run_cli, run_snakemake
from synthetic_configs import synthetic_config

pytestmark = pytest.mark.workflow


PROBES = ("lfp", "dipole")


def n_population_config(tmp_path, n_populations, probes):
    """A synthetic network of n populations (all n^2 connections) with the given probes."""
    return synthetic_config(tmp_path, n_populations, probes=probes)


def job_counts(stdout):
    """Job stats table of a Snakemake (dry) run as {rule: count}."""
    counts = {}
    table = stdout.split("Job stats:")[1].split("total")[0]
    for line in table.splitlines():
        match = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if match:
            counts[match.group(1)] = int(match.group(2))
    return counts


def dry_run(workdir, config):
    result = run_snakemake(workdir, config, "-n")
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def group_jobs(output):
    """Members of each group job of a dry run: [[(rule, wildcards), ...], ...]."""
    groups, current = [], None
    for line in output.splitlines():
        if "Group job population" in line:
            current = []
            groups.append(current)
        elif re.match(r"^(local)?rule \w+:", line):
            current = None  # a job outside every group
        elif current is not None and (match := re.match(r"^\s+rule (\w+):", line)):
            current.append([match.group(1), ""])
        elif current is not None and (match := re.match(r"^\s+wildcards: (.*)$", line)):
            current[-1][1] = match.group(1)
    return groups


@pytest.mark.parametrize("n_populations,n_probes", [(2, 3), (4, 2), (8, 2)])
def test_dry_run_job_counts_and_groups(tmp_path, n_populations, n_probes):
    """P basis jobs, one kernel job per pathway and probe, one tensor per probe; P groups
    of one basis job and the kernel jobs into its population (one submission each on a
    cluster)."""
    probes = [f"probe{i}" for i in range(n_probes)]
    config = n_population_config(tmp_path, n_populations, probes)
    started = time.monotonic()
    output = dry_run(tmp_path, config)
    print(f"P = {n_populations}: dry run {time.monotonic() - started:.1f} s")
    counts = job_counts(output)
    assert counts["basis"] == n_populations
    assert counts["kernel"] == n_populations**2 * n_probes
    assert counts["kernel_tensor"] == n_probes and counts["mechanisms"] == 1
    assert counts["kernel_figure"] == n_probes
    kernel_outputs = set(re.findall(r"results/p\d/kernels/\w+/\w+/\w+\.h5", output))
    assert len(kernel_outputs) == n_populations**2 * n_probes
    tensors = set(re.findall(r"results/p\d/tensor/\w+\.h5", output))
    assert tensors == {f"results/p{n_populations}/tensor/{probe}.h5" for probe in probes}
    groups = group_jobs(output)
    assert len(groups) == n_populations
    names = [f"P{i}" for i in range(n_populations)]
    posts = set()
    for members in groups:
        (post,) = {dict(kv.split("=") for kv in w.split(", "))["post"] for _, w in members}
        posts.add(post)
        assert sorted(members) == sorted(
            [["basis", f"post={post}"]]
            + [
                ["kernel", f"post={post}, pre={pre}, probe={probe}"]
                for pre in names
                for probe in probes
            ]
        )
    assert posts == set(names)


@pytest.mark.parametrize("name", ["microcircuit.yaml", "microcircuit_full_scale.yaml"])
def test_microcircuit_dry_run(tmp_path, name):
    """One basis per population, one kernel job per pathway with a connection (55) and
    probe (5), a tensor per probe; the full-scale network (whose connections need more
    memory than this machine may have) is resolved on the submit host without its memory
    check, which the network job does where NEST runs."""
    counts = job_counts(dry_run(tmp_path, CONFIGS / name))
    assert counts == {
        "mechanisms": 1,
        "network": 1,
        "basis": 8,
        "kernel": 55 * 5,
        "kernel_tensor": 5,
        "kernel_figure": 5,
        "signals": 1,
        "signal_figures": 1,
        "all": 1,
    }


def test_config_violating_schema_stops_before_any_job(tmp_path):
    def bad(data):
        data["connections"][1]["probability"] = 1.5

    config = network_config(tmp_path, bad)
    result = run_snakemake(tmp_path, config)
    assert result.returncode != 0
    text = result.stdout + result.stderr
    assert "probability" in text and "1.5" in text
    assert not (tmp_path / "results").exists()


def test_config_semantic_error_stops_before_any_job(tmp_path):
    def bad(data):
        data["simulation"]["dt"] = 0.3

    config = network_config(tmp_path, bad)
    result = run_snakemake(tmp_path, config)
    assert result.returncode != 0
    assert "simulation.dt" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def test_config_with_a_key_given_twice_stops_before_any_job(tmp_path):
    config = network_config(tmp_path)
    text = config.read_text()
    assert re.search(r"^simulation:\n", text, re.M)
    config.write_text(
        re.sub(r"^simulation:\n", "simulation:\n  tau: 20.0\n", text, count=1, flags=re.M)
    )
    result = run_snakemake(tmp_path, config, "-n")
    assert result.returncode != 0
    assert "key 'tau' appears twice" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def test_file_names_never_reach_the_shell_unquoted(tmp_path):
    """A config named like shell commands, in a folder with a space: the run name it
    would give is refused; with workflow.run set, the jobs run and the commands never
    do."""
    folder = tmp_path / "my runs"
    folder.mkdir()
    name = "inj$(touch PWNED1);touch PWNED2`touch PWNED3`.yaml"
    config = network_config(folder, name=name)
    result = run_snakemake(folder, config, "-n")
    assert result.returncode != 0
    assert "workflow.run" in result.stdout + result.stderr
    config = network_config(folder, lambda data: data.update(workflow={"run": "inj"}), name)
    # the target after another option: --configfile takes every file name that follows it
    result = run_snakemake(folder, config, "--cores", "2", "results/inj/tensor/lfp.h5")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (folder / "results/inj/tensor/lfp.h5").is_file()
    assert not list(tmp_path.rglob("PWNED*")) and not list(REPO.glob("PWNED*"))
    assert not list(Path.cwd().glob("PWNED*"))


def read_tensor(results):
    """{probe: {"kernel", "std"}} of the per-probe tensors of a run's results folder."""
    out = {}
    for path in sorted((Path(results) / "tensor").glob("*.h5")):
        with h5py.File(path) as fh:
            for probe in fh:
                group = fh[probe]
                out[probe] = {key: group[key][()] for key in ("kernel", "std") if key in group}
    return out


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    """The two-population workflow run once with the local profile."""
    workdir = tmp_path_factory.mktemp("local_run")
    config = network_config(workdir, lambda d: d.update(workflow={"run": "two"}))
    result = run_snakemake(workdir, config)
    assert result.returncode == 0, result.stdout + result.stderr
    return workdir, config


def test_workflow_equals_direct_cli_calls(local_run, tmp_path):
    """Kernels from the response files equal those of the kernel command alone (its own
    linear system), bit for bit; no kernel job imported NEURON."""
    workdir, config = local_run
    tensor = read_tensor(workdir / "results/two")
    assert set(tensor) == set(PROBES)
    names = ["E", "I"]
    for pre in names:
        for post in names:
            out = tmp_path / f"{post}_{pre}.h5"
            result = run_cli(["kernel", config, "--pre", pre, "--post", post, "-o", out])
            assert result.returncode == 0, result.stderr
            with h5py.File(out) as fh:
                for probe in PROBES:
                    expected = fh[probe]["kernel"][()]
                    got = tensor[probe]["kernel"][names.index(post), names.index(pre)]
                    assert np.array_equal(got, expected), (pre, post, probe)
    logs = list((workdir / "results/two/logs/kernels").glob("*/*/*.log"))
    assert len(logs) == 8
    for log in logs:
        assert "linear engine" in log.read_text(), log.read_text()


def test_tensor_opens_in_xarray_with_named_dimensions(local_run):
    import xarray as xr

    workdir, _ = local_run
    ds = xr.open_dataset(workdir / "results/two/tensor/lfp.h5", engine="h5netcdf", group="lfp")
    assert ds["kernel"].dims == ("post", "pre", "channel", "lag")
    assert list(ds["post"].values) == ["E", "I"] and list(ds["pre"].values) == ["E", "I"]
    assert ds["kernel"].shape == (2, 2, 13, 1601)
    assert ds["lag"].attrs["units"] == "ms" and ds["kernel"].attrs["units"] == "mV"
    with h5py.File(workdir / "results/two/tensor/dipole.h5") as fh:
        assert list(fh) == ["dipole"]
        for key in ("config_hash", "hpckernels_version", "neuron_version", "lfpy_version"):
            assert key in fh.attrs


def test_figures_are_not_blank(local_run):
    import matplotlib.image as mpimg

    workdir, _ = local_run
    for probe in PROBES:
        path = workdir / f"results/two/figures/kernels_{probe}.png"
        image = mpimg.imread(path)[..., :3]
        dark = (image.mean(axis=-1) < 0.5).mean()
        assert 0.005 < dark < 0.5, (probe, dark)  # lines drawn, not a blank or black canvas
        assert image.std() > 0.05


def rules_to_run(workdir, config):
    output = dry_run(workdir, config)
    if "Nothing to be done" in output:
        return {}
    counts = job_counts(output)
    counts["_kernels"] = sorted(set(re.findall(r"logs/kernels/(\w+/\w+/\w+)\.log", output)))
    counts["_bases"] = sorted(set(re.findall(r"logs/basis/(\w+)\.log", output)))
    return counts


def test_rerun_only_what_changed(local_run):
    """Only the jobs whose inputs an edit changes rerun: a delay, its pathway's kernels; a
    weight (g_eff), the basis of its population and the kernels into it; a probe edit or
    an added probe, that probe's kernels, tensor and figure and nothing else (the response
    files hold no probe)."""
    workdir, config = local_run
    original = config.read_text()
    results = workdir / "results/two"
    try:
        assert rules_to_run(workdir, config) == {}

        # a delay is private to its pathway: only E->I (post I, pre E) reruns, no basis
        data = yaml.safe_load(original)
        data["connections"][1]["delay"]["loc"] = 1.5
        config.write_text(yaml.safe_dump(data, sort_keys=False))
        todo = rules_to_run(workdir, config)
        assert todo["_kernels"] == ["I/E/dipole", "I/E/lfp"]
        assert todo["kernel_tensor"] == 2 and "mechanisms" not in todo and "basis" not in todo

        # a weight changes the postsynaptic leak (g_eff): E's basis and every kernel into
        # E rerun
        data = yaml.safe_load(original)
        data["connections"][2]["synapse"]["weight"] = 0.004
        config.write_text(yaml.safe_dump(data, sort_keys=False))
        todo = rules_to_run(workdir, config)
        assert todo["_kernels"] == ["E/E/dipole", "E/E/lfp", "E/I/dipole", "E/I/lfp"]
        assert todo["_bases"] == ["E"]

        # a probe edit reruns that probe's kernel jobs, its tensor and figure: no basis
        data = yaml.safe_load(original)
        data["probes"]["lfp"]["sigma"] = 0.4
        config.write_text(yaml.safe_dump(data, sort_keys=False))
        todo = rules_to_run(workdir, config)
        assert todo["_kernels"] == ["E/E/lfp", "E/I/lfp", "I/E/lfp", "I/I/lfp"]
        assert todo["_bases"] == [] and todo["kernel_tensor"] == 1
        assert todo["kernel_figure"] == 1
        untouched = {
            path: path.stat().st_mtime_ns
            for path in [*results.glob("kernels/*/*/dipole.h5"), *results.glob("basis/*.h5")]
        }
        result = run_snakemake(workdir, config)
        assert result.returncode == 0, result.stdout + result.stderr
        assert {path: path.stat().st_mtime_ns for path in untouched} == untouched
        with h5py.File(results / "tensor/lfp.h5") as fh:
            lfp = fh["lfp"]["kernel"][()]

        # an added probe: its kernel jobs, tensor and figure only
        data["probes"]["lfp_deep"] = dict(data["probes"]["lfp"], z=[-100.0, -300.0])
        config.write_text(yaml.safe_dump(data, sort_keys=False))
        todo = rules_to_run(workdir, config)
        assert todo["_kernels"] == [f"{p}/lfp_deep" for p in ("E/E", "E/I", "I/E", "I/I")]
        assert todo["_bases"] == [] and todo["kernel_tensor"] == 1
        assert todo["kernel_figure"] == 1

        # potential scales as 1/sigma
        config.write_text(original)
        assert rules_to_run(workdir, config)["kernel"] == 4
        result = run_snakemake(workdir, config)
        assert result.returncode == 0
        with h5py.File(results / "tensor/lfp.h5") as fh:
            np.testing.assert_allclose(
                lfp * 0.4, fh["lfp"]["kernel"][()] * 0.3, rtol=1e-12, atol=1e-15
            )
        assert rules_to_run(workdir, config) == {}
    finally:
        config.write_text(original)


def ensemble_config(workdir, run):
    def edit(data):
        data["workflow"] = {"run": run, "mode": "ensemble"}
        # basis engine: 4096 realizations take long enough to catch a job running
        data["ensemble"] = {"realizations": 4096, "seed": 5}

    return network_config(workdir, edit)


def hpckernels_processes(config):
    """PIDs of running 'hpckernels kernel' processes of one config."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        text = b" ".join(cmdline).decode(errors="replace")
        if "hpckernels_cli.py kernel" in text and str(config) in text and "mpiexec" not in text:
            pids.append(int(entry.name))
    return pids


def test_killed_job_then_rerun_makes_only_missing_outputs(tmp_path):
    """Kill a kernel job mid-run; the rerun makes only the missing outputs and the
    tensors are bit-identical to an uninterrupted run."""
    uninterrupted = tmp_path / "whole"
    uninterrupted.mkdir()
    config = ensemble_config(uninterrupted, "ens")
    assert run_snakemake(uninterrupted, config, "--cores", 1).returncode == 0
    expected = read_tensor(uninterrupted / "results/ens")

    workdir = tmp_path / "killed"
    workdir.mkdir()
    config = ensemble_config(workdir, "ens")
    exe = str(Path(sys.executable).parent / "snakemake")
    process = subprocess.Popen(
        [
            exe,
            "-s",
            str(REPO / "workflow/Snakefile"),
            "--profile",
            str(REPO / "cluster_profiles/local"),
            "--configfile",
            str(config),
            "--cores",
            "1",
        ],
        cwd=workdir,
        env=hpckernels_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    kernels = workdir / "results/ens/kernels"
    victim = None
    deadline = time.monotonic() + 600
    # wait until one kernel job has finished (its log says it wrote its file) and
    # another is computing realizations; then kill the running one
    log_dir = workdir / "results/ens/logs/kernels"
    while time.monotonic() < deadline and victim is None:
        texts = [log.read_text() for log in log_dir.glob("*/*/*.log")] if log_dir.exists() else []
        finished = [t for t in texts if "wrote" in t]
        running = [t for t in texts if "realizations done" in t and "wrote" not in t]
        if finished and running:
            pids = hpckernels_processes(config)
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                    victim = pids
                except ProcessLookupError:  # finished between the check and the kill
                    pass
        time.sleep(0.05)
    output, _ = process.communicate(timeout=600)
    assert victim, "no kernel job was caught running"
    assert process.returncode != 0, output
    survivors = {path: path.stat().st_mtime_ns for path in kernels.glob("*/*/*.h5")}
    assert 0 < len(survivors) < 8
    for path in kernels.rglob("*"):
        assert not path.name.startswith("."), f"temporary file left behind: {path}"

    result = run_snakemake(workdir, config, "--cores", 1)
    assert result.returncode == 0, result.stdout + result.stderr
    for path, mtime in survivors.items():
        assert path.stat().st_mtime_ns == mtime, f"{path} was made again"
    assert len(list(kernels.glob("*/*/*.h5"))) == 8
    got = read_tensor(workdir / "results/ens")
    for probe in PROBES:
        for key in ("kernel", "std"):
            assert np.array_equal(got[probe][key], expected[probe][key]), (probe, key)


def test_snakemake_lint_is_clean(tmp_path):
    config = network_config(tmp_path)
    exe = str(Path(sys.executable).parent / "snakemake")
    result = subprocess.run(
        [exe, "-s", str(REPO / "workflow/Snakefile"), "--configfile", str(config), "--lint"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=hpckernels_env(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations, your workflow is in a good condition!" in result.stderr


@pytest.fixture(scope="module")
def network_run(tmp_path_factory):
    """The default workflow (NEST network -> kernels -> signals -> figures) at a tiny
    scale, run once; in-degrees come from the connection probabilities."""
    workdir = tmp_path_factory.mktemp("network_run")

    def edit(data):
        data["workflow"] = {"run": "net"}
        data["network"].update(scale=0.02, duration=400.0)
        del data["network"]["indegree"]
        data["signals"]["t_start"] = 100.0

    config = network_config(workdir, edit, base="config.yaml")
    result = run_snakemake(workdir, config, "--cores", 2)
    assert result.returncode == 0, result.stdout + result.stderr
    return workdir, config


SIGNALS = {"signals": 1, "signal_figures": 1}
#: tensors and kernel figures of all four probes (lfp, dipole, eeg, meg), or of one
KERNELS = {"kernel_tensor": 4, "kernel_figure": 4, **SIGNALS}
ONE_PROBE = {"kernel_tensor": 1, "kernel_figure": 1, **SIGNALS}
RERUNS = {
    "nothing changed": ([], {}),
    "signals.t_start": ([("signals", "t_start", 150.0)], SIGNALS),
    "network.duration": ([("network", "duration", 500.0)], {"network": 1, **SIGNALS}),
    "network.J": ([("network", "J", "E", "E", 1.5)], {"network": 1, **SIGNALS}),
    # the network's in-degree E->I comes from it; with g_eff, so does I's leak: the basis
    # of I and the kernels of both pathways into I, every probe
    "connections[1].probability": (
        [("connections", 1, "probability", 0.06)],
        {"network": 1, "basis": 1, "kernel": 8, **KERNELS},
    ),
    "connections[2].delay": (
        [("connections", 2, "delay", "loc", 1.4)],
        {"kernel": 4, **KERNELS},
    ),
    # a probe: its kernel jobs (4 pathways), tensor and figure; no basis
    "probes.lfp.sigma": (
        [("probes", "lfp", "sigma", 0.4)],
        {"kernel": 4, **ONE_PROBE},
    ),
    "probes.eeg.sigmas": (
        [("probes", "eeg", "sigmas", [0.3, 1.5, 0.02, 0.3])],
        {"kernel": 4, **ONE_PROBE},
    ),
    # the rate of I enters the leaks of both populations (g_eff)
    "populations.I.rate": (
        [("populations", "I", "rate", 6.0)],
        {"basis": 2, "kernel": 16, **KERNELS},
    ),
    "ensemble (mean-field run)": ([("ensemble", "realizations", 64)], {}),
}


@pytest.mark.parametrize("case", list(RERUNS))
def test_each_rule_reruns_on_exactly_what_it_reads(network_run, case):
    """Edit one config key; a dry run lists exactly the jobs whose command reads it."""
    workdir, config = network_run
    original = config.read_text()
    edits, expected = RERUNS[case]
    data = yaml.safe_load(original)
    for *path, value in edits:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    try:
        config.write_text(yaml.safe_dump(data, sort_keys=False))
        todo = rules_to_run(workdir, config)
        todo.pop("all", None)
        todo.pop("_kernels", None)
        todo.pop("_bases", None)
        assert todo == expected
    finally:
        config.write_text(original)


# ------------------------------------------------------- active cells (issue 11)
def hay_config(tmp_path, name="hay_l5pc.yaml", edit=None):
    """A shipped Hay-style config with absolute paths (and an optional edit)."""
    data = yaml.safe_load((CONFIGS / name).read_text())
    data["mechanisms"] = [str(CONFIGS / folder) for folder in data["mechanisms"]]
    for population in data["populations"].values():
        cell = population["cell"]
        cell["template"]["file"] = str(CONFIGS / cell["template"]["file"])
        cell["morphology"] = str(CONFIGS / cell["morphology"])
    if edit is not None:
        edit(data)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_active_config_dag(tmp_path):
    """The Hay-style config: its mechanism folder is compiled by the mechanisms rule (its
    mod files are the rule's inputs), and every pathway into an active cell gets a figure
    of the active model against its linearizations."""
    output = dry_run(tmp_path, hay_config(tmp_path))
    counts = job_counts(output)
    assert counts["mechanisms"] == 1 and counts["kernel"] == 8
    assert counts["linearization_figure"] == 4 and counts["kernel_figure"] == 2
    for mod in ("Ih", "NaTa_t", "Nap_Et2", "SKv3_1", "Im", "linearmode", "geff"):
        assert f"{mod}.mod" in output, mod
    assert "mechanisms " + str(tmp_path / "hay_l5pc.yaml") in output


def test_mechanism_edit_reruns_the_active_pathways(tmp_path):
    """A mod file of the config's folder is an input of the pathways' content hash: a copy
    of the folder with an edited mod file reruns the mechanisms and every pathway."""
    folder = tmp_path / "mod"
    folder.mkdir()
    for path in (CONFIGS / "mechanisms" / "hay_l5pc").glob("*.mod"):
        (folder / path.name).write_text(path.read_text())

    def edit(data):
        data["mechanisms"] = [str(folder)]

    config = hay_config(tmp_path, edit=edit)
    before = dry_run(tmp_path, config)
    (folder / "Im.mod").write_text((folder / "Im.mod").read_text() + "\n: edited\n")
    after = dry_run(tmp_path, config)
    pathway_params = re.findall(r"inputs=\{'pathway': '(\w+)'", before)
    assert not pathway_params or pathway_params != re.findall(
        r"inputs=\{'pathway': '(\w+)'", after
    )
    from hpckernels.config import NetworkConfig
    from hpckernels.inputs import pathway_hash

    hashes = [pathway_hash(NetworkConfig.from_file(config), "E", "E")]
    (folder / "Im.mod").write_text((folder / "Im.mod").read_text() + "\n: again\n")
    hashes.append(pathway_hash(NetworkConfig.from_file(config), "E", "E"))
    assert hashes[0] != hashes[1]


@pytest.fixture(scope="module")
def active_runs(tmp_path_factory):
    """config/hay_l5pc.yaml (quasi-active) and hay_l5pc_frozen.yaml run end to end."""
    workdir = tmp_path_factory.mktemp("active_runs")
    runs = {}
    for name in ("hay_l5pc.yaml", "hay_l5pc_frozen.yaml"):
        config = hay_config(workdir, name)
        result = run_snakemake(workdir, config)
        assert result.returncode == 0, result.stdout + result.stderr
        runs[name] = workdir / "results" / Path(name).stem
    return workdir, runs


@pytest.mark.slow
def test_active_configs_end_to_end(active_runs):
    """Frozen and quasi-active kernel tensors of the Hay-style network, with figures; the
    pathway kernels equal a direct CLI call."""
    workdir, runs = active_runs
    tensors = {name: read_tensor(run) for name, run in runs.items()}
    for name, run in runs.items():
        for probe in PROBES:
            kernel = tensors[name][probe]["kernel"]
            assert kernel.shape[:2] == (2, 2) and np.all(np.isfinite(kernel))
        figures = sorted(p.name for p in (run / "figures").glob("*.png"))
        assert figures == sorted(
            ["kernels_dipole.png", "kernels_lfp.png"]
            + [f"linearization_{post}_{pre}.png" for post in "EI" for pre in "EI"]
        )
    quasi, frozen = (tensors[n]["lfp"]["kernel"] for n in runs)
    assert np.abs(quasi - frozen).max() > 1e-3 * np.abs(quasi).max()
    out = workdir / "direct.h5"
    config = workdir / "hay_l5pc.yaml"
    result = run_cli(["kernel", config, "--pre", "I", "--post", "E", "-o", out])
    assert result.returncode == 0, result.stderr
    with h5py.File(out) as fh, h5py.File(runs["hay_l5pc.yaml"] / "kernels/E/I/lfp.h5") as wf:
        assert np.array_equal(fh["lfp/kernel"][()], wf["lfp/kernel"][()])
