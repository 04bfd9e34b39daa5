"""EEG and MEG kernels against closed-form head models applied to the dipole kernel.

The code maps the dipole kernel through LFPykit's head models; these tests compute the
same signals from textbook formulas instead:

* EEG: a dipole in a homogeneous sphere (the four-sphere model with equal
  conductivities) has the surface potential of Mosher, Leahy & Lewis (1999), IEEE
  Trans Biomed Eng 46:245, eq. 4 (single shell);
* MEG: the field of a dipole in an infinite homogeneous conductor (Biot-Savart,
  H = p x R / (4 pi |R|^3)) and in a spherically symmetric conductor (Sarvas 1987,
  Phys Med Biol 32:11, eq. 25).
"""

import numpy as np
import pytest
from conftest import load, network_config

from hpckernels.engines.neuron import PathwayModel

pytestmark = pytest.mark.unit

SIGMA = 0.3  # S/m
RADII = [79000.0, 80000.0, 85000.0, 90000.0]  # um
LOCATION = np.array([0.0, 0.0, 78000.0])  # um
ELECTRODES = np.array([[0.0, 0.0, 90000.0], [30781.5, 0.0, 84571.4], [0.0, 63639.6, 63639.6]])
SENSORS = np.array([[0.0, 0.0, 110000.0], [37622.2, 0.0, 103366.2], [0.0, 50000.0, 95000.0]])


def homogeneous_sphere_potential(dipole, location, electrode, sigma):
    """Potential (mV) at a surface point of a homogeneous sphere, dipole (nA um, 3 x t)."""
    d = electrode - location
    nd, nr = np.linalg.norm(d), np.linalg.norm(electrode)
    lead = 2 * d / nd**3 + (electrode * nd + nr * d) / (nr * nd * (nr * nd + electrode @ d))
    # nA um / (S/m um^2) = 1e-9 A / (1 S/m * 1e-6 m) = 1e-3 V = 1 mV
    return lead @ dipole / (4 * np.pi * sigma)


def infinite_conductor_field(dipole, location, sensor):
    """Magnetic field H (nA/um) of a dipole (nA um) in an infinite homogeneous conductor."""
    R = sensor - location
    return np.cross(dipole.T, R).T / (4 * np.pi * np.linalg.norm(R) ** 3)


def sarvas_field(dipole, location, sensor):
    """Magnetic field H (nA/um) outside a spherically symmetric conductor centred at 0."""
    a_vec = sensor - location
    a, r = np.linalg.norm(a_vec), np.linalg.norm(sensor)
    F = a * (r * a + r**2 - location @ sensor)
    grad_F = (a**2 / r + a_vec @ sensor / a + 2 * a + 2 * r) * sensor - (
        a + 2 * r + a_vec @ sensor / a
    ) * location
    q_x_r0 = np.cross(dipole.T, location).T  # (3, t)
    return (F * q_x_r0 - np.outer(grad_F, sensor @ q_x_r0)) / (4 * np.pi * F**2)


@pytest.fixture(scope="module")
def kernels(tmp_path_factory, mechanisms_loaded):
    def edit(data):
        data["probes"]["dipole"] = {"type": "CurrentDipoleMoment"}  # all three rows
        data["probes"]["eeg"].update(
            radii=RADII,
            sigmas=[SIGMA] * 4,
            r_electrodes=ELECTRODES.tolist(),
            dipole_location=LOCATION.tolist(),
        )
        data["probes"]["meg"].update(
            sensor_locations=SENSORS.tolist(), dipole_location=LOCATION.tolist()
        )
        data["probes"]["meg_sphere"] = {
            "type": "SphericallySymmetricVolCondMEG",
            "dipole": "dipole",
            "r": SENSORS.tolist(),
            "dipole_location": LOCATION.tolist(),
        }
        # tilt the population so that every dipole component is nonzero
        for population in data["populations"].values():
            population["rotation"] = {"x": 0.3, "y": -0.5}

    folder = tmp_path_factory.mktemp("eegmeg")
    config = load(network_config(folder, edit, base="config.yaml"))
    with PathwayModel(config, "I", "E") as model:
        return model.mean_field_kernels()


def assert_close(actual, expected, tolerance=1e-9):
    """Equal to ``tolerance`` times the largest magnitude."""
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose(actual, expected, rtol=0, atol=tolerance * np.abs(expected).max())


def test_dipole_kernel_has_every_component(kernels):
    assert np.all(np.abs(kernels["dipole"]).max(axis=1) > 0)


def test_eeg_equals_homogeneous_sphere_formula(kernels):
    expected = np.array(
        [homogeneous_sphere_potential(kernels["dipole"], LOCATION, e, SIGMA) for e in ELECTRODES]
    )
    # LFPykit sums the four-sphere series until a term falls below 2/99e-6 of the sum:
    # measured 5.7e-6 of the largest value here
    assert_close(kernels["eeg"], expected, tolerance=2e-5)


def test_meg_infinite_conductor_equals_biot_savart(kernels):
    expected = np.concatenate(
        [infinite_conductor_field(kernels["dipole"], LOCATION, s) for s in SENSORS]
    )
    assert_close(kernels["meg"], expected)


def test_meg_sphere_equals_sarvas_formula(kernels):
    expected = np.concatenate([sarvas_field(kernels["dipole"], LOCATION, s) for s in SENSORS])
    assert_close(kernels["meg_sphere"], expected)


def test_head_model_needs_a_dipole_probe(tmp_path):
    from conftest import run_main

    def bad(data):
        data["probes"]["eeg"]["dipole"] = "lfp"

    config = network_config(tmp_path, bad, base="config.yaml")
    result = run_main(["validate", config])
    assert result.returncode == 2
    assert "probes.eeg" in result.stderr and "CurrentDipoleMoment" in result.stderr
