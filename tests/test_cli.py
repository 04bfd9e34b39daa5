"""Command line: bad input gives one line naming the key, exit 2, no output file;
outputs carry units, dimension scales and provenance and are written atomically."""

import copy

import h5py
import numpy as np
import pytest
import yaml
from conftest import CONFIGS, run_main

from hpckernels.io import kernels as io_kernels

pytestmark = pytest.mark.unit


BASE = yaml.safe_load((CONFIGS / "two_population.yaml").read_text())


def write_config(tmp_path, edit):
    data = copy.deepcopy(BASE)
    edit(data)
    morph = CONFIGS / "morphologies"
    for population in data["populations"].values():
        cell = population.get("cell")
        if cell:
            for key in ("file",):
                if not cell["template"][key].startswith("/"):
                    cell["template"][key] = str(morph.parent / cell["template"][key])
            if not cell["morphology"].startswith("/"):
                cell["morphology"] = str(morph.parent / cell["morphology"])
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def set_in(path, value):
    def edit(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


BAD_INPUTS = {
    "unknown population in a connection": (
        set_in(["connections", 0, "pre"], "L23E"),
        "connections[0].pre",
        "populations are E, I",
    ),
    "size zero": (set_in(["populations", "E", "size"], 0), "populations.E.size", "minimum"),
    "size negative": (set_in(["populations", "I", "size"], -5), "populations.I.size", "minimum"),
    "probability above 1": (
        set_in(["connections", 1, "probability"], 1.5),
        "connections[1].probability",
        "maximum",
    ),
    "probability below 0": (
        set_in(["connections", 2, "probability"], -0.1),
        "connections[2].probability",
        "minimum",
    ),
    "dt does not divide tau": (set_in(["simulation", "dt"], 0.3), "simulation.dt", "divide"),
    "missing morphology": (
        set_in(["populations", "E", "cell", "morphology"], "/nonexistent/E.hoc"),
        "populations.E.cell.morphology",
        "file not found",
    ),
    "missing template": (
        set_in(["populations", "I", "cell", "template", "file"], "/nonexistent/T.hoc"),
        "populations.I.cell.template.file",
        "file not found",
    ),
    "unknown probe": (
        set_in(["probes", "lfp", "type"], "MagicPotential"),
        "probes.lfp.type",
        "is not one of",
    ),
    "unknown synapse type": (
        set_in(["connections", 0, "synapse", "type"], "AMPA"),
        "connections[0].synapse.type",
        "Exp2Syn",
    ),
    "unknown distribution": (
        set_in(["connections", 0, "delay", "distribution"], "weibull"),
        "connections[0].delay.distribution",
        "truncnorm",
    ),
    "g_eff with current-based synapse": (
        set_in(
            ["connections", 3, "synapse"],
            {"type": "Exp2Syn", "weight": 0.1, "tau1": 0.1, "tau2": 9.0, "current_based": True},
        ),
        "connections[3].synapse.current_based",
        "g_eff",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input(tmp_path, case):
    edit, key, allowed = BAD_INPUTS[case]
    config = write_config(tmp_path, edit)
    out = tmp_path / "out.h5"
    result = run_main(["kernel", config, "--pre", "I", "--post", "E", "-o", out])
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert key in lines[0] and allowed in lines[0], lines[0]
    assert list(tmp_path.iterdir()) == [config]  # no output, no temporary file


def test_unknown_pathway_and_missing_output_folder(tmp_path):
    config = CONFIGS / "readme_example.yaml"
    result = run_main(["kernel", config, "--pre", "E", "--post", "I", "-o", tmp_path / "o.h5"])
    assert result.returncode == 2 and "no connection E->I" in result.stderr
    result = run_main(
        ["kernel", config, "--pre", "I", "--post", "E", "-o", tmp_path / "missing" / "o.h5"]
    )
    assert result.returncode == 2 and "does not exist" in result.stderr
    result = run_main(
        [
            "kernel",
            config,
            "--pre",
            "I",
            "--post",
            "E",
            "--realizations",
            "0",
            "-o",
            tmp_path / "o.h5",
        ]
    )
    assert result.returncode == 2
    assert not (tmp_path / "o.h5").exists()


def test_output_file_contents(tmp_path):
    out = tmp_path / "ie.h5"
    result = run_main(
        ["kernel", CONFIGS / "two_population.yaml", "--pre", "I", "--post", "E", "-o", out]
    )
    assert result.returncode == 0, result.stderr
    with h5py.File(out) as fh:
        for key in (
            "hpckernels_version",
            "neuron_version",
            "lfpy_version",
            "config_hash",
            "pathway_hash",
            "pre",
            "post",
            "mode",
            "dt",
            "tau",
        ):
            assert key in fh.attrs, key
        assert fh.attrs["pre"] == "I" and fh.attrs["mode"] == "mean-field"
        lfp = fh["lfp"]["kernel"]
        assert lfp.shape == (13, 1601) and lfp.attrs["units"] == "mV"
        assert lfp.dims[1]["lag"].attrs["units"] == "ms"
        lag = lfp.dims[1]["lag"][()]
        assert lag[0] == -50.0 and lag[-1] == 50.0 and lag[800] == 0.0
        np.testing.assert_allclose(lfp.dims[0]["channel"][()], np.linspace(1000, -200, 13))
        assert fh["dipole"]["kernel"].attrs["units"] == "nA um"
        assert fh["lfp"].attrs["probe_type"] == "GaussCylinderPotential"
        assert len(fh["lfp"].attrs["pathway_hash"]) == 64


def test_output_opens_in_xarray(tmp_path):
    import xarray as xr

    out = tmp_path / "ie.h5"
    assert (
        run_main(
            ["kernel", CONFIGS / "two_population.yaml", "--pre", "I", "--post", "E", "-o", out]
        ).returncode
        == 0
    )
    ds = xr.open_dataset(out, engine="h5netcdf", group="lfp")
    assert ds["kernel"].dims == ("channel", "lag")
    assert ds["kernel"].attrs["units"] == "mV"


def test_atomic_write_leaves_nothing_on_failure(tmp_path, monkeypatch):
    from hpckernels.config import NetworkConfig

    config = NetworkConfig.from_file(CONFIGS / "two_population.yaml")
    results = {"lfp": {"kernel": np.zeros((13, 1601))}}

    def explode(*args, **kwargs):
        raise RuntimeError("killed while writing")

    monkeypatch.setattr(io_kernels, "write_dataset", explode)
    with pytest.raises(RuntimeError):
        io_kernels.write_kernel_file(tmp_path / "k.h5", config, "I", "E", "mean-field", results)
    assert list(tmp_path.iterdir()) == []


def test_validate_command():
    result = run_main(["validate", CONFIGS / "two_population.yaml"])
    assert result.returncode == 0
    assert "E->E, E->I, I->E, I->I" in result.stdout


def test_one_blas_thread_per_process_unless_asked():
    """The CLI sizes the BLAS pools from HPCKERNELS_THREADS (default 1), also when
    Snakemake has set OPENBLAS_NUM_THREADS to an MPI rule's ranks; OpenBLAS then starts
    no extra threads."""
    import os
    import subprocess
    import sys

    probe = (
        "from hpckernels import cli; cli.limit_threads(); import os, numpy; "
        "numpy.ones((300, 300)) @ numpy.ones((300, 300)); "
        "threads = [l for l in open('/proc/self/status') if l.startswith('Threads')][0]; "
        "print(os.environ['OPENBLAS_NUM_THREADS'], os.environ['MKL_NUM_THREADS'], "
        "int(threads.split()[1]))"
    )

    def run(**extra):
        env = dict(os.environ, OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2", MKL_NUM_THREADS="2")
        env.pop("HPCKERNELS_THREADS", None)
        env.update(extra)
        out = subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
        )
        return out.stdout.split()

    default, more = run(), run(HPCKERNELS_THREADS="2")
    assert default[:2] == ["1", "1"] and more[:2] == ["2", "2"]
    if len(os.sched_getaffinity(0)) >= 2:
        assert int(more[2]) > int(default[2])  # OpenBLAS's pool is a thread per extra core
    bad = subprocess.run(
        [sys.executable, "-m", "hpckernels", "validate", "x.yaml"],
        env=dict(os.environ, HPCKERNELS_THREADS="many"),
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "HPCKERNELS_THREADS" in bad.stderr
