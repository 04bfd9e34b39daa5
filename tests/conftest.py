"""Shared fixtures: configs, compiled mechanisms, an MPI launcher."""

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# one BLAS thread, in the test process as in the CLI (before numpy is imported): threaded
# BLAS is many times slower on a shared machine, and gives other bits than the commands
from hpckernels.cli import limit_threads  # noqa: I001  (before numpy)

limit_threads()

# mpi4py before NEURON, in the test process as in the CLI
from mpi4py import MPI  # noqa: E402, F401

os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "config"
TEST_CONFIGS = REPO / "tests" / "configs"
sys.path.insert(0, str(REPO / "tests"))


#: Each test is of exactly one kind (pyproject.toml lists the markers).
KINDS = ("unit", "mpi", "workflow", "slurm")


def pytest_collection_modifyitems(config, items):
    for item in items:
        kinds = [kind for kind in KINDS if item.get_closest_marker(kind)]
        if len(kinds) != 1:
            raise pytest.UsageError(
                f"{item.nodeid}: mark it with exactly one of {KINDS}, found {kinds}"
            )


@pytest.fixture(scope="session")
def mechanisms_loaded():
    """Compile (once) and load the mod/ mechanisms into this process."""
    from hpckernels import mechanisms

    mechanisms.compile_mechanisms()
    mechanisms.load_mechanisms(allow_compile=False)
    return True


def load(path):
    from hpckernels.config import NetworkConfig

    return NetworkConfig.from_file(path)


def load_uniform(path):
    """A config in lfpykernels' convention: every cell whose biophysics does not name an
    operating point is linearized at ``simulation.vrest`` (``operating_point: uniform``)
    instead of hpckernels' default, the self-consistent steady state."""
    from hpckernels.config import NetworkConfig, load_yaml

    data = load_yaml(Path(path).read_text(), str(path))
    for population in data["populations"].values():
        biophysics = population.get("cell", {}).get("biophysics")
        if biophysics is not None:
            biophysics.setdefault("operating_point", "uniform")
    return NetworkConfig(data, base_dir=Path(path).parent)


def hpckernels_env():
    env = dict(os.environ)
    env.update(
        OMPI_ALLOW_RUN_AS_ROOT="1",
        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
        OMPI_MCA_rmaps_base_oversubscribe="1",
        NEURON_MODULE_OPTIONS="-nogui",
    )
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    return env


def run_cli(args, ranks=None, timeout=600):
    """Run the hpckernels CLI (optionally under mpiexec -n ranks); return CompletedProcess."""
    exe = str(Path(sys.executable).parent / "hpckernels")
    cmd = [exe, *map(str, args)]
    if ranks is not None:
        cmd = [shutil.which("mpiexec"), "--oversubscribe", "-n", str(ranks), *cmd]
    return subprocess.run(
        cmd, capture_output=True, text=True, env=hpckernels_env(), timeout=timeout
    )


def run_main(args):
    """Run the hpckernels command line in this process (no interpreter start-up): a
    CompletedProcess with its exit code and what it printed on stdout and stderr.

    For commands that need a process of their own (mpiexec, what a process prints at
    its start) use :func:`run_cli`.
    """
    import contextlib
    import io

    from hpckernels.cli import main

    args = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(args)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def run_snakemake(workdir, configfile, *extra, profile="local", timeout=900):
    """Run the workflow with a profile from ``workdir``; return CompletedProcess."""
    exe = str(Path(sys.executable).parent / "snakemake")
    cmd = [
        exe,
        "-s",
        str(REPO / "workflow" / "Snakefile"),
        "--profile",
        str(REPO / "cluster_profiles" / profile),
        "--configfile",
        str(configfile),
        *map(str, extra),
    ]
    return subprocess.run(
        cmd, cwd=workdir, capture_output=True, text=True, env=hpckernels_env(), timeout=timeout
    )


def network_config(tmp_path, edit=None, name="config.yaml", base="two_population.yaml"):
    """Write a copy of a shipped config with absolute file paths (and an optional edit)."""
    import copy

    import yaml

    data = copy.deepcopy(yaml.safe_load((CONFIGS / base).read_text()))
    for population in data["populations"].values():
        cell = population.get("cell")
        if cell:
            cell["template"]["file"] = str(CONFIGS / cell["template"]["file"])
            cell["morphology"] = str(CONFIGS / cell["morphology"])
    if edit is not None:
        edit(data)
    path = Path(tmp_path) / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@contextlib.contextmanager
def sealed_h5(path):
    """Write a synthetic file of hpckernels' layouts with h5py: sealed on exit (dataset
    checksums, layout version, root checksum) as hpckernels' own writers do."""
    import h5py

    from hpckernels.io.h5 import seal

    with h5py.File(path, "w") as fh:
        yield fh
        seal(fh)
