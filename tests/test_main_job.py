"""The main job: the default workflow (config/config.yaml) end to end, network ->
kernels -> signals -> figures -> report, as `make run` runs it."""

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import REPO, hpckernels_env
from test_figures import check_drawn

from hpckernels.plotting import expected_figures

pytestmark = [pytest.mark.workflow, pytest.mark.slow]


def snakemake(workdir, *args, timeout=600):
    """The workflow with the default config (no --configfile) in ``workdir``; it must
    succeed."""
    exe = str(Path(sys.executable).parent / "snakemake")
    result = subprocess.run(
        [exe, "-s", str(REPO / "workflow/Snakefile"), *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=hpckernels_env(),
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    return result


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("default_run")
    snakemake(workdir, "--profile", str(REPO / "cluster_profiles/local"), timeout=1200)
    return workdir


def test_every_figure_exists_and_is_drawn(default_run):
    figures = default_run / "results/default/figures"
    names = expected_figures(
        [
            "GaussCylinderPotential",
            "CurrentDipoleMoment",
            "FourSphereVolumeConductor",
            "InfiniteHomogeneousVolCondMEG",
        ],
        sonata=True,
        pathways=True,
    )
    names += [f"kernels_{probe}.png" for probe in ("lfp", "dipole", "eeg", "meg")]
    assert len(names) == 12  # with the EEG scalp maps (MNE)
    for name in names:
        path = figures / name
        assert path.is_file() and path.stat().st_size > 0, name
        check_drawn(path)


def test_signals_have_every_probe_and_sensible_rates(default_run):
    with h5py.File(default_run / "results/default/signals.h5") as fh:
        for probe in ("lfp", "dipole", "eeg", "meg"):
            total = fh[probe]["total"]
            assert total.dims[1]["time"].attrs["units"] == "ms"
            assert np.isfinite(total[()]).all() and np.std(total[()]) > 0
            assert "units" in total.attrs
        for key in ("config_hash", "hpckernels_version", "neuron_version", "lfpy_version"):
            assert key in fh.attrs
        counts = fh["rates"]["counts"][()]
        dt = fh.attrs["dt"]
    # spikes per bin of the full populations (8192 E, 1024 I) -> spikes/s per neuron
    rates = counts.mean(axis=1) / np.array([8192, 1024]) / (dt / 1000)
    assert 0.5 < rates[0] < 10 and 1 < rates[1] < 20, rates


def test_report_collects_the_figures(default_run):
    snakemake(default_run, "--report", "report.zip")
    import zipfile

    with zipfile.ZipFile(default_run / "report.zip") as archive:
        names = archive.namelist()
    pngs = [n for n in names if n.endswith(".png")]
    assert len(pngs) >= 12, names


def test_nwb_of_the_main_job_passes_nwbinspector(default_run):
    """`snakemake nwb` on the finished main job: only the export runs; the file of the
    shipped config has no critical or best-practice violation."""
    from test_nwb import check_inspector

    result = snakemake(default_run, "--cores", "1", "nwb")
    assert "export_nwb" in result.stderr and "signals " not in result.stderr
    messages = check_inspector(default_run / "results/default/default.nwb")
    assert {m.check_function_name for m in messages} <= {
        "check_experimenter_exists",
        "check_institution",
    }
