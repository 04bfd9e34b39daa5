"""Physical invariants of the kernels and direct-formula checks of the parts."""

import copy
import warnings

import lfpykit
import numpy as np
import pytest
import scipy.integrate as si
import scipy.stats as st
from conftest import CONFIGS, TEST_CONFIGS, load

from hpckernels import cell as cellmod
from hpckernels import distributions
from hpckernels.config import NetworkConfig
from hpckernels.engines.neuron import PathwayModel
from hpckernels.probes import GaussCylinderPotential, SymmetricCurrentDipoleMoment
from hpckernels.synapses import synapse_model

pytestmark = pytest.mark.unit


def kernels(config, pre, post):
    with PathwayModel(config, pre, post) as model:
        return model.mean_field_kernels()


def modified(path, edit):
    config = load(path)
    data = copy.deepcopy(config.data)
    edit(data)
    return NetworkConfig(data, base_dir=config.base_dir)


def test_negative_lags_exactly_zero(mechanisms_loaded):
    config = load(CONFIGS / "two_population.yaml")
    n = config.n_steps_tau
    for name, kernel in kernels(config, "E", "E").items():
        assert np.all(kernel[:, : n + 1] == 0.0), name
        assert np.abs(kernel[:, n + 1 :]).max() > 0, name


def test_delay_pmf_sums_to_one_and_is_causal():
    config = load(CONFIGS / "two_population.yaml")
    for connection in config.connections:
        pmf = distributions.delay_pmf(connection["delay"], 0.0625, config.n_steps_tau)
        assert pmf.shape == (config.n_lags,)
        assert abs(pmf.sum() - 1.0) < 1e-12
        # truncnorm lower bound 0.3 ms: no mass at lags <= 0
        assert np.all(pmf[: config.n_steps_tau + 1] == 0)
        lags = np.arange(-config.n_steps_tau, config.n_steps_tau + 1) * 0.0625
        mean = st.truncnorm(
            **{k: v for k, v in connection["delay"].items() if k != "distribution"}
        ).mean()
        # the pdf jumps at the truncation bound, so the grid mean is only within ~dt/2
        assert abs(np.sum(pmf * lags) - mean) < 0.0625 / 2


def test_multapse_mean_matches_reference_numbers():
    """Multapse means and synapse counts K_YX of the paper's pathways, as lfpykernels'
    KernelApprox computes them (truncnorm pdf at 1..99, renormalised)."""
    config = load(CONFIGS / "two_population.yaml")
    expected = {("E", "E"): 2.0000, ("E", "I"): 2.0052, ("I", "E"): 5.0000, ("I", "I"): 5.0001}
    totals = {("E", "E"): 6.711e6, ("E", "I"): 8.410e5, ("I", "E"): 2.097e6, ("I", "I"): 2.621e5}
    for connection in config.connections:
        key = (connection["pre"], connection["post"])
        stats = cellmod.ConnectionStatistics(config, connection)
        assert abs(stats.multapse_mean - expected[key]) < 5e-5
        assert abs(stats.total - totals[key]) / totals[key] < 1e-3


def test_uniform_density_places_synapses_by_area(mechanisms_loaded):
    config = load(CONFIGS / "two_population.yaml")
    with PathwayModel(config, "E", "E") as model:
        placement = {
            "sections": ["soma", "apic", "dend"],
            "densities": [{"distribution": "uniform", "loc": -1000.0, "scale": 3000.0}],
        }
        pmf = cellmod.placement_pmf(model.cell, placement, depth_spread=75.0)
        area = model.cell.area
        np.testing.assert_allclose(pmf, area / area.sum(), rtol=1e-12)


def test_kernel_linear_in_weight_without_g_eff(mechanisms_loaded):
    def no_geff(data):
        data["simulation"]["g_eff"] = False

    def no_geff_double(data):
        no_geff(data)
        data["connections"][2]["synapse"]["weight"] *= 2

    base = kernels(modified(CONFIGS / "two_population.yaml", no_geff), "I", "E")
    double = kernels(modified(CONFIGS / "two_population.yaml", no_geff_double), "I", "E")
    for name in base:
        np.testing.assert_allclose(
            double[name], 2 * base[name], rtol=1e-9, atol=1e-12 * np.abs(base[name]).max()
        )


def test_g_eff_changes_kernel(mechanisms_loaded):
    """g_eff on adds leak: the kernel must differ (guards against a no-op g_eff)."""

    def no_geff(data):
        data["simulation"]["g_eff"] = False

    with_geff = kernels(load(CONFIGS / "two_population.yaml"), "I", "E")["lfp"]
    without = kernels(modified(CONFIGS / "two_population.yaml", no_geff), "I", "E")["lfp"]
    assert np.abs(with_geff - without).max() > 0.01 * np.abs(without).max()


def test_depth_shift_moves_lfp_by_two_contacts(mechanisms_loaded):
    """Population and synapse depths +200 um: the LFP moves by two 100 um contacts."""
    path = TEST_CONFIGS / "lfpykernels_unittest.yaml"

    def shifted(data):
        data["populations"]["E"]["position"]["loc"] += 200.0
        for density in data["connections"][0]["placement"]["densities"]:
            density["loc"] += 200.0

    base = kernels(load(path), "E", "E")["lfp"]
    moved = kernels(modified(path, shifted), "E", "E")["lfp"]
    # contacts run from -500 to 500 um upwards: index + 2 is 200 um higher
    np.testing.assert_allclose(moved[2:], base[:-2], rtol=1e-7, atol=1e-9 * np.abs(base).max())
    assert np.abs(moved - base).max() > 0.1 * np.abs(base).max()


def line_geometry(z):
    n = len(z)
    return lfpykit.CellGeometry(
        x=np.zeros((n, 2)), y=np.zeros((n, 2)), z=np.asarray(z, float), d=np.ones(n)
    )


def quad_reference(z_e, z_i, sigma, R, sigma_z):
    """Tight adaptive quadrature of the Gauss-cylinder response, split at the kink."""
    mu = z_e - z_i

    def f(Z):
        u = mu - Z
        return (
            (np.sqrt(u**2 + R**2) - abs(u))
            / (2 * sigma)
            * np.exp(-0.5 * (Z / sigma_z) ** 2)
            / (sigma_z * np.sqrt(2 * np.pi))
        )

    lo, hi = -30 * sigma_z, 30 * sigma_z
    with warnings.catch_warnings():
        # QUADPACK may flag round-off near its tolerance floor for the 0.1 um disk; the
        # comparison at 1e-8 below is the check of both sides
        warnings.simplefilter("ignore", si.IntegrationWarning)
        parts = [
            si.quad(f, a, b, epsabs=0, epsrel=1e-10, limit=500)[0]
            for a, b in ((lo, min(max(mu, lo), hi)), (min(max(mu, lo), hi), hi))
            if b > a
        ]
    return sum(parts) / (np.pi * R**2)


def test_gauss_cylinder_against_quadrature():
    rng = np.random.default_rng(7)
    z0 = np.sort(rng.uniform(-300, 1100, 12))
    geometry = line_geometry(np.c_[z0, z0 + 10])
    contacts = np.linspace(1000, -200, 7)
    for R, sigma_z in ((150.0, 75.0), (100.0, 100.0), (564.0, 80.0), (20.0, 200.0), (0.1, 0.1)):
        M = GaussCylinderPotential(geometry, contacts, 0.3, R, sigma_z).get_transformation_matrix()
        expected = np.array(
            [[quad_reference(ze, zi, 0.3, R, sigma_z) for zi in z0 + 5] for ze in contacts]
        )
        np.testing.assert_allclose(M, expected, rtol=1e-8, atol=0)


def test_gauss_cylinder_point_source_limit():
    """Small disk, narrow Gaussian, far contacts: a point source 1/(4 pi sigma r)."""
    geometry = line_geometry([[0.0, 1.0], [1.0, 2.0], [2.0, 3.0]])
    z = np.array([-1000.0, 1000.0])
    gauss = GaussCylinderPotential(geometry, z, sigma=0.3, R=0.1, sigma_z=0.1)
    point = lfpykit.PointSourcePotential(geometry, x=np.zeros(2), y=np.zeros(2), z=z, sigma=0.3)
    np.testing.assert_allclose(
        gauss.get_transformation_matrix(), point.get_transformation_matrix(), rtol=1e-5
    )


def test_symmetric_dipole_keeps_only_pz():
    geometry = line_geometry([[0.0, 1.0], [1.0, 2.0], [2.0, 3.0]])
    imem = np.array([[-1.0, 1.0], [0.0, 0.0], [1.0, -1.0]])
    P = SymmetricCurrentDipoleMoment(geometry).get_transformation_matrix() @ imem
    np.testing.assert_array_equal(P, [[0, 0], [0, 0], [2, -2]])
    full = lfpykit.CurrentDipoleMoment(geometry).get_transformation_matrix() @ imem
    np.testing.assert_array_equal(full[2], P[2])


def test_time_course_integral_matches_numerical_integral():
    for tau1, tau2 in ((0.2, 1.8), (0.1, 9.0)):
        t = np.linspace(0, 200, 2_000_001)
        s = np.exp(-t / tau2) - np.exp(-t / tau1)
        expected = si.trapezoid(s / s.max(), t)
        spec = {"type": "Exp2Syn", "weight": 1.0, "tau1": tau1, "tau2": tau2}
        got = synapse_model(spec).time_course_integral()
        assert abs(got - expected) / expected < 1e-5
        # the time course itself is peak-normalised
        np.testing.assert_allclose(synapse_model(spec).time_course(t), s / s.max(), atol=1e-12)
    expon = synapse_model({"type": "ExpSyn", "weight": 1.0, "tau": 3.0})
    assert expon.time_course_integral() == 3.0


def test_exp2syni_equals_linearized_exp2syn(mechanisms_loaded):
    """mod/exp2synI.mod: at a clamped potential V, Exp2SynI with weight -g (V - E) carries
    exactly the current of NEURON's Exp2Syn with weight g; its time integral is
    -weight * time_course_integral."""
    from neuron import h

    h.load_file("stdrun.hoc")
    sec = h.Section(name="clamped")
    clamp = h.SEClamp(sec(0.5))
    clamp.dur1, clamp.amp1, clamp.rs = 1e9, -65.0, 1e-6
    g, e, v = 0.002, -80.0, -65.0
    conductance = h.Exp2Syn(sec(0.5))
    current = h.Exp2SynI(sec(0.5))
    for syn in (conductance, current):
        syn.tau1, syn.tau2 = 0.1, 9.0
    conductance.e = e
    nc_g, nc_i = h.NetCon(None, conductance), h.NetCon(None, current)
    nc_g.weight[0] = g
    nc_i.weight[0] = -g * (v - e)
    rec_g, rec_i = h.Vector().record(conductance._ref_i), h.Vector().record(current._ref_i)
    rec_v = h.Vector().record(sec(0.5)._ref_v)
    handler = h.FInitializeHandler(1, lambda: (nc_g.event(1.0), nc_i.event(1.0)))
    h.dt = 0.0625
    h.finitialize(v)
    h.continuerun(150)
    i_g, i_i = rec_g.as_numpy().copy(), rec_i.as_numpy().copy()
    assert np.abs(rec_v.as_numpy() - v).max() < 1e-6
    np.testing.assert_allclose(i_i, i_g, rtol=1e-6, atol=1e-12 * np.abs(i_g).max())
    # outward (inhibitory) current whose peak is the weight and whose area is weight * beta
    weight = -g * (v - e)
    assert abs(i_i.max() - (-weight)) < 0.01 * abs(weight)
    spec = {"type": "Exp2Syn", "weight": g, "tau1": 0.1, "tau2": 9.0}
    area = i_i.sum() * h.dt
    assert abs(area - (-weight) * synapse_model(spec).time_course_integral()) < 0.01 * abs(area)
    assert handler is not None  # kept alive until here: it queues the events


def test_linearized_weight_sign():
    exc = {"type": "Exp2Syn", "weight": 0.001, "tau1": 0.2, "tau2": 1.8, "e": 0.0}
    inh = {"type": "Exp2Syn", "weight": 0.001, "tau1": 0.1, "tau2": 9.0, "e": -80.0}
    assert synapse_model(exc).linearized_weight(-65.0) > 0  # inward
    assert synapse_model(inh).linearized_weight(-65.0) < 0  # outward
    assert np.isclose(synapse_model(exc).linearized_weight(-65.0), 0.065)
