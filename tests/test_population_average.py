"""Population averages of point- and line-source probes (issue 11): the deterministic
quadrature over soma positions converges to lfpykernels' random-offset average as its
number of nodes grows."""

import lfpykernels
import lfpykit
import numpy as np
import pytest

from hpckernels import probes
from hpckernels.probes import PopulationAveragedPotential

pytestmark = pytest.mark.unit

R, SIGMA_Z = 150.0, 75.0
#: Contacts on the population's axis, as the paper's laminar electrode (um).
CONTACTS = {"x": np.zeros(7), "y": np.zeros(7), "z": np.linspace(1000.0, -200.0, 7)}
#: Quadrature (n_r, n_phi, n_z), coarse to fine.
LEVELS = [(1, 2, 2), (2, 4, 4), (4, 8, 8), (8, 16, 16)]


def stick_geometry():
    """A ball-and-stick cell along the depth axis (um): soma at 0, dendrite to 1000 um."""
    z = np.r_[-15.0, np.linspace(15.0, 1000.0, 11)]
    return lfpykit.CellGeometry(
        x=np.zeros((11, 2)),
        y=np.zeros((11, 2)),
        z=np.c_[z[:-1], z[1:]],
        d=np.r_[30.0, np.full(10, 3.0)],
    )


def random_offsets_average(model, geometry, n, seed):
    """lfpykernels' average: its own sampler of soma positions (KernelApprox.draw_rand_pos)
    added to the contacts, the matrices averaged; and the standard error of the mean."""
    np.random.seed(seed)
    offsets = lfpykernels.KernelApprox().draw_rand_pos(SIZE=n, radius=R, loc=0.0, scale=SIGMA_Z)
    shifted = [CONTACTS[k][:, None] + offsets[None, :, i] for i, k in enumerate("xyz")]
    probe = model(geometry, *(c.ravel() for c in shifted), sigma=0.3)
    M = probe.get_transformation_matrix().reshape(CONTACTS["z"].size, n, -1)
    return M.mean(axis=1), M.std(axis=1, ddof=1) / np.sqrt(n)


@pytest.mark.slow
@pytest.mark.parametrize("model", [lfpykit.PointSourcePotential, lfpykit.LineSourcePotential])
def test_quadrature_converges_to_the_random_offset_average(model):
    """As the nodes grow the quadrature moves to lfpykernels' random-offset average (here
    of 8000 positions) until it is within that average's own standard error."""
    geometry = stick_geometry()
    mean, error = random_offsets_average(model, geometry, 8000, seed=1234)
    scale = np.abs(mean).max()
    deviations = []
    for n_r, n_phi, n_z in LEVELS:
        quadrature = PopulationAveragedPotential(
            geometry,
            model,
            **CONTACTS,
            R=R,
            sigma_z=SIGMA_Z,
            n_r=n_r,
            n_phi=n_phi,
            n_z=n_z,
            sigma=0.3,
        ).get_transformation_matrix()
        deviations.append(np.abs(quadrature - mean).max() / scale)
    assert all(a > b for a, b in zip(deviations, deviations[1:], strict=False)), deviations
    assert deviations[0] > 10 * deviations[-1]
    assert np.all(np.abs(quadrature - mean) <= 5 * error), np.max(
        np.abs(quadrature - mean) / error
    )


def test_probe_of_the_config():
    """``population_average`` in a PointSourcePotential probe spec: the same matrix, and
    the one-cell probe without it."""
    spec = {
        "type": "PointSourcePotential",
        "x": [0.0] * 7,
        "y": [0.0] * 7,
        "z": {"start": 1000.0, "stop": -200.0, "num": 7},
        "sigma": 0.3,
        "population_average": {"R": R, "sigma_z": SIGMA_Z, "n_r": 4, "n_phi": 8, "n_z": 8},
    }
    geometry = stick_geometry()
    direct = PopulationAveragedPotential(
        geometry,
        lfpykit.PointSourcePotential,
        **CONTACTS,
        R=R,
        sigma_z=SIGMA_Z,
        n_r=4,
        n_phi=8,
        n_z=8,
        sigma=0.3,
    ).get_transformation_matrix()
    np.testing.assert_array_equal(probes.transformation_matrix(spec, geometry), direct)
    single = dict(spec)
    del single["population_average"]
    one_cell = probes.transformation_matrix(single, geometry)
    assert one_cell.shape == direct.shape and np.abs(one_cell - direct).max() > 0
    assert probes.check(spec, "probes.points") == 7


def test_quadrature_weights():
    """The nodes are a probability distribution with the population's moments."""
    offsets, weights = PopulationAveragedPotential.quadrature(R, SIGMA_Z, 8, 16, 16)
    assert abs(weights.sum() - 1) < 1e-14 and np.all(weights > 0)
    r2 = offsets[0] ** 2 + offsets[1] ** 2
    assert np.all(r2 <= R**2)
    assert abs(weights @ r2 - R**2 / 2) < 1e-9 * R**2  # uniform disk: E[r^2] = R^2 / 2
    assert abs(weights @ offsets[2] ** 2 - SIGMA_Z**2) < 1e-9 * SIGMA_Z**2
    assert abs(weights @ offsets[0]) < 1e-9 and abs(weights @ offsets[2]) < 1e-9
