"""EEG and MEG kernels: LFPykit head models applied to the current dipole kernels."""

import numpy as np
from conftest import CONFIGS, load
from lfpykit import eegmegcalc

from hpckernels import engine


def test_eeg_and_meg_kernels_equal_head_models_applied_to_dipole_kernel(mechanisms_loaded):
    config = load(CONFIGS / "config.yaml")
    with engine.PathwayModel(config, "I", "E") as model:
        kernels = engine.mean_field_kernels(model)
    dipole = kernels["dipole"]
    assert np.abs(dipole[2]).max() > 0 and np.all(dipole[:2] == 0)

    eeg = config.probes["eeg"]
    four_sphere = eegmegcalc.FourSphereVolumeConductor(
        r_electrodes=np.array(eeg["r_electrodes"]), radii=eeg["radii"], sigmas=eeg["sigmas"])
    expected = four_sphere.get_transformation_matrix(np.array(eeg["dipole_location"])) @ dipole
    assert kernels["eeg"].shape == (5, config.n_lags)
    np.testing.assert_allclose(kernels["eeg"], expected, rtol=1e-10,
                               atol=1e-12 * np.abs(expected).max())
    assert np.abs(expected).max() > 0

    meg = config.probes["meg"]
    model = eegmegcalc.InfiniteHomogeneousVolCondMEG(np.array(meg["sensor_locations"]))
    T = model.get_transformation_matrix(np.array(meg["dipole_location"]))  # (sensors, 3, 3)
    expected = np.einsum("sij,jt->sit", T, dipole).reshape(-1, dipole.shape[1])
    np.testing.assert_allclose(kernels["meg"], expected, rtol=1e-10,
                               atol=1e-12 * np.abs(expected).max())


def test_head_model_needs_a_dipole_probe(tmp_path):
    from conftest import network_config, run_cli

    def bad(data):
        data["probes"]["eeg"]["dipole"] = "lfp"

    config = network_config(tmp_path, bad, base="config.yaml")
    result = run_cli(["validate", config])
    assert result.returncode == 2
    assert "probes.eeg" in result.stderr and "CurrentDipoleMoment" in result.stderr
