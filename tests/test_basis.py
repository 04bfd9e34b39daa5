"""The basis engine against the per-pathway NEURON engine: linear superposition of
unit responses, mean-field kernels and ensemble realizations with the same seed
(max |difference| <= 1e-9 max |H|), basis files and their checks, the draws."""

import copy
import io

import numpy as np
import pytest
import scipy.stats as st
from conftest import CONFIGS, load
from mpi4py import MPI
from synthetic_configs import synthetic_data

from hpckernels import distributions
from hpckernels.config import NetworkConfig
from hpckernels.engines import get_engine
from hpckernels.engines.basis import UnitResponseModel
from hpckernels.engines.common import DiscreteDraws, SynapseSampler, unit_synapse
from hpckernels.engines.neuron import PathwayModel, realization_kernels
from hpckernels.engines.pathway import BasisPathway
from hpckernels.io import basis as io_basis
from hpckernels.io.cache import ResponseCache
from hpckernels.synapses import synapse_model

BASIS = get_engine("basis")

pytestmark = pytest.mark.unit

RTOL = 1e-9
COMM = MPI.COMM_WORLD  # one rank in the test process


def relative(actual, expected):
    scale = np.abs(expected).max()
    assert scale > 0
    return np.abs(actual - expected).max() / scale


def neuron_kernels(config, pre, post, seed=None, indices=()):
    """Mean-field kernels and realization kernels of the NEURON engine."""
    with PathwayModel(config, pre, post) as model:
        mean_field = model.mean_field_kernels()
        matrices = model.transformation_matrices()
        realizations = [realization_kernels(model, matrices, seed, i) for i in indices]
    return mean_field, realizations


def two_population(edit=None):
    data = copy.deepcopy(load(CONFIGS / "two_population.yaml").data)
    if edit is not None:
        edit(data)
    return NetworkConfig(data, base_dir=CONFIGS)


# ------------------------------------------------------------------- superposition
def test_responses_superpose_as_shifted_unit_responses(mechanisms_loaded):
    """NEURON's fixed-step response to many events (several per segment, lags 0 to tau,
    different weights) equals the weighted sum of unit responses shifted by whole steps;
    a unit event moves the membrane currents from 2 steps after it on (lags 0, 1 are
    rest), and events at the last two steps are not seen."""
    config = load(CONFIGS / "two_population.yaml")
    n = config.n_steps_tau
    synapse = unit_synapse(synapse_model(config.connection("I", "E")["synapse"]))
    segments = [0, 3, 11, 20]
    with UnitResponseModel(config, "E") as model:
        units = {j: model.response(synapse, j) for j in segments}
        n_segments = model.cell.totnsegs
    for unit in units.values():
        assert np.all(unit[:, :2] == 0.0) and np.abs(unit[:, 2]).max() > 0
    rng = np.random.default_rng(3)
    weights = rng.uniform(-2.0, 2.0, n_segments)
    events = [np.array([], int)] * n_segments
    events[0] = np.array([0, 0, 1])  # two events at lag 0: weight counts twice
    events[3] = np.array([5, 17, 400])
    events[11] = np.array([n - 1, n])  # not seen within tau
    events[20] = rng.integers(0, n, 40)
    expected = np.zeros((n_segments, n + 1))
    for j in segments:
        for step in events[j]:
            expected[:, step:] += weights[j] * units[j][:, : n + 1 - step]
    with PathwayModel(config, "I", "E") as model:
        actual = model.simulate(weights, events)
    assert np.abs(actual[:, : n - 1]).max() > 0
    assert relative(actual, expected) < 1e-12


# ------------------------------------------------------------ against NEURON engine
def _expsyn(data):
    for connection in data["connections"]:
        tau = 2.0 if connection["pre"] == "E" else 6.0
        synapse = connection["synapse"]
        connection["synapse"] = {
            "type": "ExpSyn",
            "tau": tau,
            "weight": synapse["weight"],
            "e": synapse["e"],
        }


def _current_based_fir(data):
    _expsyn(data)
    data["simulation"].update(g_eff=False, fir=True)
    for connection in data["connections"]:
        connection["synapse"].pop("e")
        connection["synapse"].update(
            weight=0.05 if connection["pre"] == "E" else -0.2, current_based=True
        )


VARIANTS = {
    "Exp2Syn, g_eff": None,
    "ExpSyn, g_eff": _expsyn,
    "Exp2Syn, no g_eff": lambda data: data["simulation"].update(g_eff=False),
    "ExpSyn current-based, no g_eff, FIR": _current_based_fir,
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_two_population_kernels_equal_neuron_engine(mechanisms_loaded, variant):
    """All four pathways of config/two_population.yaml: mean-field kernels, and three
    realizations (same seed) of I->E and E->I."""
    config = two_population(VARIANTS[variant])
    bases = {post: BASIS.population_basis(config, post, COMM, log=None) for post in "EI"}
    for pre, post in [("E", "E"), ("E", "I"), ("I", "E"), ("I", "I")]:
        indices = (0, 1, 57) if pre != post else ()
        mean_field, realizations = neuron_kernels(config, pre, post, 7, indices)
        pathway = BasisPathway(bases[post], config, pre, post)
        mine = pathway.mean_field_kernels()
        for probe, kernel in mean_field.items():
            assert mine[probe].shape == kernel.shape
            assert relative(mine[probe], kernel) <= RTOL, (pre, post, probe)
        if indices:
            batch = pathway.realization_kernels(7, indices)
            for k, realization in enumerate(realizations):
                for probe, kernel in realization.items():
                    assert relative(batch[probe][k], kernel) <= RTOL, (pre, post, probe, k)


@pytest.mark.slow
def test_eight_populations_with_four_kinetics(mechanisms_loaded):
    """A synthetic 8-population network (64 pathways; ExpSyn and Exp2Syn, four kinetics
    onto every population; EEG derived from the dipole): every mean-field kernel, and
    realizations of four pathways."""
    data = synthetic_data(8, probes=("lfp", "dipole", "eeg"))
    config = NetworkConfig(data, base_dir=CONFIGS)
    worst = 0.0
    for post in config.populations:
        basis = BASIS.population_basis(config, post, COMM, log=None)
        assert len(basis.kinetics) == 4
        for pre in config.populations:
            indices = (3, 4) if (pre, post) in {("P1", "P0"), ("P2", "P5"), ("P7", "P7")} else ()
            mean_field, realizations = neuron_kernels(config, pre, post, 11, indices)
            pathway = BasisPathway(basis, config, pre, post)
            mine = pathway.mean_field_kernels()
            for probe, kernel in mean_field.items():
                worst = max(worst, relative(mine[probe], kernel))
            if indices:
                batch = pathway.realization_kernels(11, indices)
                for k, realization in enumerate(realizations):
                    for probe, kernel in realization.items():
                        worst = max(worst, relative(batch[probe][k], kernel))
    print(f"8 populations: worst relative difference {worst:.2e}")
    assert worst <= RTOL


def test_ensemble_moments_equal_neuron_engine(mechanisms_loaded):
    """Mean and standard deviation of 40 realizations (one and a part block of the basis
    engine, 3 blocks of the NEURON engine): the same realizations, the same moments."""
    config = load(CONFIGS / "two_population.yaml")
    args = (config, "I", "E", 40, 5, COMM)
    basis = get_engine("basis").ensemble_kernels(*args, log=None)
    neuron = get_engine("neuron").ensemble_kernels(*args, log=None)
    for probe in ("lfp", "dipole"):
        for key in ("kernel", "std"):
            assert relative(basis[probe][key], neuron[probe][key]) <= RTOL, (probe, key)
    assert np.abs(basis["lfp"]["std"]).max() > 0.05 * np.abs(basis["lfp"]["kernel"]).max()


# ------------------------------------------------------------------------ files
@pytest.fixture(scope="module")
def basis_E(tmp_path_factory, mechanisms_loaded):
    config = load(CONFIGS / "two_population.yaml")
    path = tmp_path_factory.mktemp("basis") / "E.h5"
    basis = BASIS.population_basis(config, "E", COMM, log=None)
    io_basis.write_basis(path, config, basis)
    return config, basis, path


def test_basis_file_round_trip(basis_E):
    config, basis, path = basis_E
    stored, attrs = io_basis.read_basis(path)
    assert io_basis.basis_file_differences(attrs, config, "E") == []
    assert stored.post == "E" and stored.n_steps == config.n_steps_tau
    assert (
        set(stored.kinetics)
        == set(basis.kinetics)
        == {
            "Exp2Syn(tau1=0.1,tau2=9.0)",
            "Exp2Syn(tau1=0.2,tau2=1.8)",
        }
    )
    for label, kinetics in basis.kinetics.items():
        assert np.array_equal(stored.kinetics[label].columns, kinetics.columns)
        for probe, response in kinetics.responses.items():
            assert np.array_equal(stored.kinetics[label].responses[probe], response)
    for pre in ("E", "I"):
        assert np.array_equal(stored.placements[pre], basis.placements[pre])
    mine = BasisPathway(stored, config, "I", "E").mean_field_kernels()
    theirs = BasisPathway(basis, config, "I", "E").mean_field_kernels()
    assert all(np.array_equal(mine[p], theirs[p]) for p in mine)


def edited(config, edit):
    data = copy.deepcopy(config.data)
    edit(data)
    return NetworkConfig(data, base_dir=config.base_dir)


def test_basis_file_belongs_to_its_config(basis_E):
    """What enters the basis is checked; what does not (delays, ensemble settings, the
    population's disk radius, head models) is not."""
    config, _, path = basis_E
    _, attrs = io_basis.read_basis(path)
    cases = {
        "probes.lfp.sigma": lambda d: d["probes"]["lfp"].update(sigma=0.4),
        # g_eff: the weight of I->E changes E's leak
        "leak_connections[1].synapse.weight": lambda d: d["connections"][2]["synapse"].update(
            weight=0.005
        ),
        "connections[1].kinetics": lambda d: d["connections"][2]["synapse"].update(tau2=8.0),
    }
    for where, edit in cases.items():
        found = io_basis.basis_file_differences(attrs, edited(config, edit), "E")
        assert found and any(where in line for line in found), (where, found)
    for edit in (
        lambda d: d["connections"][2]["delay"].update(loc=1.5),
        lambda d: d["ensemble"].update(realizations=12, seed=3),
        lambda d: d["populations"]["E"]["position"].update(radius=100.0),
        lambda d: d["probes"].update(
            eeg=dict(load(CONFIGS / "config.yaml").probes["eeg"], dipole="dipole")
        ),
    ):
        assert io_basis.basis_file_differences(attrs, edited(config, edit), "E") == []
    assert io_basis.basis_file_differences(attrs, config, "I") == ["post is E, expected I"]


def test_cached_membrane_currents_give_the_same_basis(tmp_path, basis_E, mechanisms_loaded):
    """A probe edit with a cache: the basis is projected from stored membrane currents
    (no NEURON run) and equals a fresh computation."""
    config, _, _ = basis_E
    cache = ResponseCache(tmp_path / "cache")
    BASIS.population_basis(config, "E", COMM, cache=cache, log=None)
    assert len(list((tmp_path / "cache").glob("*.h5"))) == 2  # one per kinetics
    other = edited(config, lambda d: d["probes"]["lfp"].update(sigma=0.4, R=120.0))
    log = io.StringIO()
    cached = BASIS.population_basis(other, "E", COMM, cache=cache, log=log)
    assert log.getvalue().count("from cache") == 2, log.getvalue()
    fresh = BASIS.population_basis(other, "E", COMM, log=None)
    for label, kinetics in fresh.kinetics.items():
        for probe, response in kinetics.responses.items():
            assert np.array_equal(cached.kinetics[label].responses[probe], response)


# ------------------------------------------------------------------------ draws
def test_delay_steps_follow_the_rounded_delay_distribution():
    """P(k) = P(rint(D / dt) = k): against the rounded draws of the distribution itself,
    for a truncated normal and a discrete distribution; mass beyond tau is the last bin."""
    dt, n = 0.0625, 80
    spec = {"distribution": "truncnorm", "a": -2.2, "b": np.inf, "loc": 1.3, "scale": 0.5}
    pmf = distributions.delay_step_pmf(spec, dt, n)
    assert pmf.shape == (n + 2,) and abs(pmf.sum() - 1) < 1e-12
    draws = np.rint(distributions.frozen(spec).rvs(400_000, random_state=1) / dt).astype(int)
    observed = np.bincount(np.minimum(draws, n + 1), minlength=n + 2) / draws.size
    assert np.abs(observed - pmf).max() < 4e-3
    assert abs(pmf[n + 1] - st.truncnorm(-2.2, np.inf, 1.3, 0.5).sf((n + 0.5) * dt)) < 1e-12
    discrete = {"distribution": "randint", "low": 1, "high": 4}  # 1, 2 or 3 ms
    pmf = distributions.delay_step_pmf(discrete, 0.5, 4)  # steps 2, 4 and beyond
    assert np.allclose(pmf, [0, 0, 1 / 3, 0, 1 / 3, 1 / 3])


def test_segments_are_drawn_as_generator_choice():
    """The sampler's guide-table draws are Generator.choice's numbers."""
    config = load(CONFIGS / "two_population.yaml")
    placement = np.random.default_rng(0).dirichlet(np.ones(27))
    placement[5] = 0.0
    sampler = SynapseSampler(config, "I", "E", placement / placement.sum())
    rng_a, rng_b = np.random.default_rng(9), np.random.default_rng(9)
    mine = sampler._segments.draw(rng_a, 50_000)
    theirs = rng_b.choice(27, size=50_000, p=sampler.placement)
    assert np.array_equal(mine, theirs) and not np.any(mine == 5)
    # a pmf with a long flat tail (delay steps): the same as a binary search
    pmf = np.r_[np.zeros(5), st.norm.pdf(np.arange(60), 30, 6), np.full(700, 1e-9)]
    draws = DiscreteDraws(pmf)
    u = np.random.default_rng(2).random(50_000)
    assert np.array_equal(
        draws.draw(np.random.default_rng(2), 50_000), draws.cdf.searchsorted(u, side="right")
    )


def absolute_config(path):
    """A shipped config with its relative file paths made absolute."""
    data = copy.deepcopy(load(path).data)
    data["mechanisms"] = [str(CONFIGS / folder) for folder in data.get("mechanisms", [])]
    for population in data["populations"].values():
        cell = population.get("cell")
        if cell:
            if "template" in cell:
                cell["template"]["file"] = str(CONFIGS / cell["template"]["file"])
            cell["morphology"] = str(CONFIGS / cell["morphology"])
    if not data["mechanisms"]:
        del data["mechanisms"]
    return NetworkConfig(data, base_dir=CONFIGS)


@pytest.mark.slow
@pytest.mark.parametrize(
    "name,pathways",
    [
        # the linearized active cell (Ih quasi-active, LinearMode point processes)
        ("hay_l5pc.yaml", [("E", "E"), ("I", "E")]),
        # the microcircuit's own cells (a few hundred segments, ExpSyn, no g_eff, FIR)
        ("microcircuit.yaml", [("L4E", "L23E"), ("L5I", "L5E")]),
    ],
)
def test_shipped_cells_equal_neuron_engine(name, pathways):
    """The basis engine on the cells of the shipped models: mean-field kernels and two
    realizations equal the per-pathway NEURON engine (<= 1e-9 of the maximum)."""
    from hpckernels import mechanisms

    config = absolute_config(CONFIGS / name)
    mechanisms.load_all(config)
    for pre, post in pathways:
        basis = BASIS.population_basis(config, post, COMM, [pre], log=None)
        mean_field, realizations = neuron_kernels(config, pre, post, 5, (0, 1))
        pathway = BasisPathway(basis, config, pre, post)
        for probe, kernel in pathway.mean_field_kernels().items():
            assert relative(kernel, mean_field[probe]) <= RTOL, (name, pre, post, probe)
        batch = pathway.realization_kernels(5, (0, 1))
        for k, realization in enumerate(realizations):
            for probe, kernel in realization.items():
                assert relative(batch[probe][k], kernel) <= RTOL, (name, pre, post, probe, k)
