"""The population CSD probe (GaussCylinderCSD): closed form against a direct numerical
integration over soma depths, against lfpykit.LaminarCurrentSourceDensity without depth
spread, current conservation, and probe parameters taken per postsynaptic population."""

import lfpykit
import numpy as np
import pytest
import scipy.integrate as si
import scipy.stats as st
from conftest import CONFIGS, load

from hpckernels import cell as cellmod
from hpckernels import probes
from hpckernels.engines.common import transformation_matrices
from hpckernels.errors import ConfigError
from hpckernels.probes import GaussCylinderCSD

pytestmark = pytest.mark.unit


def random_geometry(rng, n=40):
    """Segments of 0..150 um at random depths and tilts (some horizontal, some of zero
    length), within 50 um of the depth axis."""
    start = np.column_stack(
        [rng.uniform(-50, 50, n), rng.uniform(-50, 50, n), rng.uniform(-400, 400, n)]
    )
    direction = rng.normal(size=(n, 3))
    direction[: n // 8, 2] = 0.0  # horizontal segments
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    length = rng.uniform(0, 150, n)
    length[-2:] = 0.0
    end = start + direction * length[:, None]
    return lfpykit.CellGeometry(
        x=np.column_stack([start[:, 0], end[:, 0]]),
        y=np.column_stack([start[:, 1], end[:, 1]]),
        z=np.column_stack([start[:, 2], end[:, 2]]),
        d=np.ones(n),
    )


def direct_fraction(a, b, lo, hi, sigma_z):
    """E_Z[fraction of the segment [a + Z, b + Z] inside [lo, hi]], Z ~ N(0, sigma_z^2),
    by adaptive quadrature of the overlap over Z (split at its kinks)."""
    pdf = st.norm(scale=sigma_z).pdf

    def overlap(shift):
        if b == a:
            return float(lo <= a + shift < hi)
        return max(0.0, min(b + shift, hi) - max(a + shift, lo)) / (b - a)

    kinks = sorted({lo - a, lo - b, hi - a, hi - b})
    edges = [-12 * sigma_z, *[k for k in kinks if abs(k) < 12 * sigma_z], 12 * sigma_z]
    return sum(
        si.quad(lambda s: overlap(s) * pdf(s), x0, x1, epsabs=1e-14, epsrel=1e-12)[0]
        for x0, x1 in zip(edges[:-1], edges[1:], strict=True)
    )


def test_closed_form_equals_direct_integration():
    rng = np.random.default_rng(3)
    geometry = random_geometry(rng)
    z, h, R, sigma_z = np.linspace(300, -300, 7), 100.0, 150.0, 80.0
    M = GaussCylinderCSD(geometry, z, h, R, sigma_z).get_transformation_matrix()
    assert M.shape == (7, geometry.totnsegs)
    volume = np.pi * R**2 * h
    a, b = geometry.z.min(axis=1), geometry.z.max(axis=1)
    for k, zk in enumerate(z):
        for i in range(geometry.totnsegs):
            expected = direct_fraction(a[i], b[i], zk - h / 2, zk + h / 2, sigma_z) / volume
            assert abs(M[k, i] - expected) <= 1e-10 * np.abs(M).max(), (k, i)


@pytest.mark.filterwarnings("ignore:All compartments should be shorter")  # lfpykit's check
def test_without_depth_spread_it_is_lfpykits_laminar_csd():
    """sigma_z -> 0: the CSD of the one cell in cylinders of radius R (segments shorter
    than the slabs, all within R of the axis: where LaminarCurrentSourceDensity is exact)."""
    config = load(CONFIGS / "microcircuit.yaml")
    from hpckernels.cell import build_cell

    cell = build_cell(config, "L5E", tstop=1.0)
    geometry = cellmod.geometry(cell)
    cell.strip_hoc_objects()
    assert np.hypot(geometry.x, geometry.y).max() < 564.0
    z, h, R = np.linspace(0, -1500, 16), 100.0, 564.19
    laminar = lfpykit.LaminarCurrentSourceDensity(
        geometry, z=np.column_stack([z - h / 2, z + h / 2]), r=np.full(z.size, R)
    ).get_transformation_matrix()
    scale = np.abs(laminar).max()
    assert scale > 0
    exact = GaussCylinderCSD(geometry, z, h, R, 0.0).get_transformation_matrix()
    np.testing.assert_allclose(exact, laminar, rtol=0, atol=1e-12 * scale)
    for sigma_z in (1e-6, 1e-3):  # the limit: differences shrink with sigma_z
        near = GaussCylinderCSD(geometry, z, h, R, sigma_z).get_transformation_matrix()
        assert np.abs(near - laminar).max() <= 10 * sigma_z / h * scale


def test_current_is_conserved_over_slabs_that_cover_the_spread():
    """Slabs tiling the whole depth range hold every segment's current: sum_k M[k, i]
    times the slab volume is 1."""
    geometry = random_geometry(np.random.default_rng(5))
    h, R, sigma_z = 50.0, 200.0, 60.0
    z = np.arange(-1400.0, 1400.0 + h / 2, h)
    M = GaussCylinderCSD(geometry, z, h, R, sigma_z).get_transformation_matrix()
    np.testing.assert_allclose(M.sum(axis=0) * np.pi * R**2 * h, 1.0, rtol=1e-12)
    assert np.all(M >= 0)


def test_bad_parameters_raise():
    geometry = random_geometry(np.random.default_rng(0), n=4)
    for kwargs in ({"h": 0.0}, {"R": -1.0}, {"sigma_z": -1.0}):
        params = {"z": [0.0], "h": 100.0, "R": 100.0, "sigma_z": 10.0, **kwargs}
        with pytest.raises(ValueError):
            GaussCylinderCSD(geometry, **params)
    with pytest.raises(AttributeError):
        GaussCylinderCSD(None, [0.0], 100.0, 100.0, 1.0).get_transformation_matrix()


def test_population_parameters_take_each_postsynaptic_populations_values():
    config = load(CONFIGS / "microcircuit.yaml")
    geometry = random_geometry(np.random.default_rng(1))
    for post in ("L23E", "L5I"):
        position = config.populations[post]["position"]
        spec = config.probe_spec("csd", post)
        assert spec["R"] == position["radius"] and spec["sigma_z"] == position["scale"]
        M = transformation_matrices(config, geometry, ["csd", "lfp"], post)
        z = np.linspace(0.0, -1500.0, 16)
        expected = GaussCylinderCSD(geometry, z, 100.0, position["radius"], position["scale"])
        np.testing.assert_array_equal(M["csd"], expected.get_transformation_matrix())
        lfp = probes.GaussCylinderPotential(
            geometry, z, 0.3, position["radius"], position["scale"]
        ).get_transformation_matrix()
        np.testing.assert_array_equal(M["lfp"], lfp)
    # the L2/3 and L5 populations spread differently: the matrices differ
    m23 = transformation_matrices(config, geometry, ["csd"], "L23E")["csd"]
    m5 = transformation_matrices(config, geometry, ["csd"], "L5E")["csd"]
    assert np.abs(m23 - m5).max() > 0.01 * np.abs(m5).max()
    # without a population the spec cannot be applied
    with pytest.raises(ValueError, match="population"):
        probes.transformation_matrix(config.probes["csd"], geometry)
    with pytest.raises(ConfigError, match=r"probes\.x\.sigma"):
        probes.resolve(
            {"type": "GaussCylinderPotential", "sigma": "population"},
            config.populations["L5E"],
            "probes.x",
        )
