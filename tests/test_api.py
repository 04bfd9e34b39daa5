"""The Python API (hpckernels.api, re-exported lazily by the package): in-memory steps
that agree with the command line's files, and examples/quickstart.ipynb executed."""

import subprocess
import sys

import h5py
import numpy as np
import pytest
from conftest import CONFIGS, REPO, load, run_main
from test_signals import make_tensor, small_config, synthetic_spikes, write_sonata

import hpckernels as hk
from hpckernels.io.kernels import read_tensor

pytestmark = pytest.mark.unit


def test_import_is_cheap_and_the_api_is_lazy():
    code = (
        "import sys, hpckernels; assert 'hpckernels.api' not in sys.modules; "
        "assert 'numpy' not in sys.modules; hpckernels.predict; "
        "assert 'hpckernels.api' in sys.modules"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
    assert set(hk.API) <= set(dir(hk))


def test_predict_in_memory_equals_the_signals_command(tmp_path):
    config_path = small_config(tmp_path)
    tensor_path, _ = make_tensor(tmp_path, config_path)
    spikes = synthetic_spikes()
    sonata = write_sonata(tmp_path / "spikes.h5", spikes)
    out = tmp_path / "signals.h5"
    result = run_main(["signals", config_path, "--kernels", tensor_path, "--spikes", sonata])
    assert result.returncode == 2  # -o is required: the file is the command's point
    run_main(["signals", config_path, "--kernels", tensor_path, "--spikes", sonata, "-o", out])
    config = hk.load_config(config_path)
    with h5py.File(sonata) as fh:
        simulated = {p: int(fh[f"spikes/{p}"].attrs["simulated_size"]) for p in ("E", "I")}
    signals = hk.predict(
        config,
        read_tensor(tensor_path),
        {p: times for p, (times, _) in spikes.items()},
        simulated_sizes=simulated,
        pathways=True,
    )
    files = hk.open_signals(out)
    for probe in ("lfp", "dipole"):
        assert signals[probe].dims == ("channel", "time")
        assert signals[probe].attrs["units"] == files[probe]["total"].attrs["units"]
        # the same chunks, the same arithmetic: the same numbers
        np.testing.assert_array_equal(signals[probe].values, files[probe]["total"].values)
        np.testing.assert_array_equal(
            signals[f"{probe}_pathways"].values, files[probe]["pathways"].values
        )
        np.testing.assert_array_equal(signals[probe].time, files[probe]["time"])
    kernels = hk.open_kernels(tensor_path)
    assert kernels["lfp"]["kernel"].dims == ("post", "pre", "channel", "lag")


def test_spikes_from_nest_splits_by_node_ids():
    spikes = hk.spikes_from_nest([3, 1, 5, 9], [4.0, 1.0, 2.0, 3.0], {"A": (1, 4), "B": (5, 8)})
    np.testing.assert_array_equal(spikes["A"], [1.0, 4.0])
    np.testing.assert_array_equal(spikes["B"], [2.0])


def test_compute_kernels_equals_the_kernel_command(tmp_path):
    config = load(CONFIGS / "two_population.yaml")
    kernels = hk.compute_kernels(config, "I", "E", probes=["dipole"])
    out = tmp_path / "ie.h5"
    result = run_main(
        ["kernel", CONFIGS / "two_population.yaml", "--pre", "I", "--post", "E"]
        + ["--probe", "dipole", "-o", out]
    )
    assert result.returncode == 0, result.stderr
    with h5py.File(out) as fh:
        np.testing.assert_array_equal(kernels["dipole"].values, fh["dipole/kernel"][()])
    assert kernels["dipole"].attrs["units"] == "nA um"
    assert kernels["dipole"].lag[0] == -50.0


@pytest.mark.slow
def test_quickstart_notebook_runs_and_draws_lfp_and_eeg():
    import nbformat
    from nbclient import NotebookClient

    path = REPO / "examples" / "quickstart.ipynb"
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": path.parent}}
    ).execute()
    images = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if "image/png" in output.get("data", {})
    ]
    assert len(images) >= 2
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
