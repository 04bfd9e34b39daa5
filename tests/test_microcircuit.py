"""The cortical microcircuit (config/microcircuit.yaml): the config against the published
parameters of Potjans & Diesmann (2014) as NEST's example derives them, its morphologies,
its layer-specific placement, and the NEST network at a tiny scale."""

import copy
import sys

import h5py
import numpy as np
import pytest
import scipy.stats as st
import yaml
from conftest import CONFIGS, load, run_main
from synthetic_configs import reduced_microcircuit

from hpckernels import cell as cellmod
from hpckernels import distributions, network
from hpckernels.config import NetworkConfig

pytestmark = pytest.mark.unit

POPULATIONS = ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]
# NEST's example (github.com/nest/nest-simulator, pynest/examples/Potjans_2014/
# network_params.py): sizes, connection probabilities [post, pre], external in-degrees
SIZES = np.array([20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948], dtype=float)
CONN_PROBS = np.array(
    [
        [0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0.0, 0.0076, 0.0],
        [0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0.0, 0.0042, 0.0],
        [0.0077, 0.0059, 0.0497, 0.135, 0.0067, 0.0003, 0.0453, 0.0],
        [0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0.0, 0.1057, 0.0],
        [0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.0],
        [0.0548, 0.0269, 0.0257, 0.0022, 0.06, 0.3158, 0.0086, 0.0],
        [0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252],
        [0.0364, 0.001, 0.0034, 0.0005, 0.0277, 0.008, 0.0658, 0.1443],
    ]
)
K_EXT = [1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100]
LAYERS = {  # hybridLFPy's microcircuit model (um)
    "L1": (0.0, -81.6),
    "L23": (-81.6, -587.1),
    "L4": (-587.1, -922.2),
    "L5": (-922.2, -1170.0),
    "L6": (-1170.0, -1491.7),
}


def nest_indegrees():
    """helpers.num_synapses_from_conn_probs / N_post: [post, pre]."""
    prod = np.outer(SIZES, SIZES)
    return np.log(1.0 - CONN_PROBS) / np.log((prod - 1.0) / prod) / SIZES[:, None]


def nest_psc(psp, C_m=250.0, tau_m=10.0, tau_syn=0.5):
    """helpers.postsynaptic_potential_to_current times the PSP (mV): PSC (pA)."""
    sub = 1.0 / (tau_syn - tau_m)
    pre = tau_m * tau_syn / C_m * sub
    frac = (tau_m / tau_syn) ** sub
    return psp / (pre * (frac**tau_m - frac**tau_syn))


@pytest.fixture(scope="module")
def config():
    return load(CONFIGS / "microcircuit.yaml")


# ------------------------------------------------------------------------- the config
def test_full_scale_config_differs_only_in_scale_and_run(config):
    full = load(CONFIGS / "microcircuit_full_scale.yaml")
    a, b = copy.deepcopy(config.data), copy.deepcopy(full.data)
    assert a["network"]["scale"] < 1 and b["network"]["scale"] == 1.0
    assert b["workflow"]["run"] == "microcircuit_full_scale"
    for data in (a, b):
        for key in ("scale", "duration", "threads"):
            del data["network"][key]
        del data["workflow"]["run"]
        del data["signals"]
    assert a == b


def test_network_has_the_published_parameters(config):
    p = network.network_parameters(config)
    assert p.populations == tuple(POPULATIONS)
    assert [p.population_sizes[n] for n in POPULATIONS] == SIZES.astype(int).tolist()
    assert p.connection_rule == "fixed_total_number"
    assert (p.dt, p.delay_min, p.delay_rel_sd, p.weight_rel_sd) == (0.1, 0.1, 0.5, 0.1)
    kin = nest_indegrees()
    psc = nest_psc(0.15)
    assert abs(psc - 87.8085) < 1e-3  # 0.15 mV of iaf_psc_exp (C_m 250 pF, tau_m 10 ms)
    projections = {(q.pre, q.post): q for q in p.projections}
    assert len(projections) == np.count_nonzero(CONN_PROBS) == 55
    for i, post in enumerate(POPULATIONS):
        for j, pre in enumerate(POPULATIONS):
            if CONN_PROBS[i, j] == 0:
                assert (pre, post) not in projections
                continue
            q = projections[(pre, post)]
            assert q.indegree == pytest.approx(kin[i, j], rel=1e-5)
            expected_J = psc * (1 if pre.endswith("E") else -4) * (2 if j == 2 and i == 0 else 1)
            assert q.J == pytest.approx(expected_J, rel=1e-7), (pre, post)
            assert q.delay == (1.5 if pre.endswith("E") else 0.75)
    assert p.external_J == pytest.approx(psc, rel=1e-7)
    assert [p.external_rate[n] for n in POPULATIONS] == [8.0 * k for k in K_EXT]
    for name in POPULATIONS:
        assert p.neuron[name] == {
            "C_m": 250.0,
            "tau_m": 10.0,
            "E_L": -65.0,
            "V_reset": -65.0,
            "V_th": -50.0,
            "t_ref": 2.0,
            "tau_syn_ex": 0.5,
            "tau_syn_in": 0.5,
        }


def test_kernels_use_the_networks_synapses(config):
    """Probability C, k_in equal to the network's in-degree, PSC weights in nA, the
    network's delays; passive cells with tau_m = 10 ms."""
    kin = nest_indegrees()
    p = {(q.pre, q.post): q for q in network.network_parameters(config).projections}
    assert len(config.connections) == 55
    for connection in config.connections:
        pre, post = connection["pre"], connection["post"]
        i, j = POPULATIONS.index(post), POPULATIONS.index(pre)
        assert connection["probability"] == CONN_PROBS[i, j]
        stats = cellmod.ConnectionStatistics(config, connection)
        assert stats.indegree == pytest.approx(kin[i, j], rel=1e-4), (pre, post)
        synapse = connection["synapse"]
        assert synapse["type"] == "ExpSyn" and synapse["tau"] == 0.5
        assert synapse["current_based"] is True
        assert synapse["weight"] == pytest.approx(p[(pre, post)].J / 1000.0, rel=1e-7)
        delay = distributions.frozen(connection["delay"])
        mean = p[(pre, post)].delay
        # normal(mean, mean / 2) redrawn below dt = 0.1 ms
        assert delay.support()[0] == pytest.approx(0.1, abs=1e-6)
        assert delay.kwds["loc"] == mean and delay.kwds["scale"] == 0.5 * mean
    for name, population in config.populations.items():
        biophysics = population["cell"]["biophysics"]
        assert biophysics == {"type": "passive", "g_pas": 1.0 / (10.0 * 1e3)}
        top, bottom = LAYERS["L" + name[1:-1]]
        position = population["position"]
        assert position["loc"] == pytest.approx((top + bottom) / 2)
        assert position["scale"] == pytest.approx((top - bottom) / 4)
        assert position["radius"] == pytest.approx(np.sqrt(1000.0**2 / np.pi), rel=1e-8)
    assert config.simulation["g_eff"] is False and config.simulation["vrest"] == -65.0


# --------------------------------------------------------------------- morphologies
#: Segments (fixed_length 10 um) and depth extents (um, cell at its mean depth) as
#: documented in make_morphologies.py and the README.
MORPHOLOGIES = {
    "L23E": (244, -438.1, -17.9),
    "L23I": (234, -446.4, -222.3),
    "L4E": (255, -819.8, -38.0),
    "L4I": (234, -866.7, -642.6),
    "L5E": (446, -1157.5, -19.4),
    "L5I": (234, -1158.2, -934.0),
    "L6E": (290, -1422.1, -544.5),
    "L6I": (234, -1442.9, -1218.8),
}


def test_morphology_files_are_the_generators_output():
    sys.path.insert(0, str(CONFIGS / "morphologies" / "microcircuit"))
    import make_morphologies

    for name, cell in make_morphologies.cells().items():
        path = CONFIGS / "morphologies" / "microcircuit" / f"{name}.hoc"
        assert path.read_text() == cell.hoc(), f"{path} differs from make_morphologies.py"


def test_morphologies_span_their_layers(config, mechanisms_loaded):
    for name, (n_segments, low, high) in MORPHOLOGIES.items():
        cell = cellmod.build_cell(config, name, tstop=1.0)
        z = cell.z.copy()
        totnsegs = cell.totnsegs
        sections = {s.split(".")[-1].split("[")[0] for s in cell.allsecnames}
        cell.strip_hoc_objects()
        assert totnsegs == n_segments, name
        assert z.min() == pytest.approx(low, abs=0.06) and z.max() == pytest.approx(high, abs=0.06)
        assert sections == {"soma", "dend", "apic"}
        layer = LAYERS["L" + name[1:-1]]
        if name.endswith("I"):  # compact interneurons within their layer
            assert layer[1] < z.min() and z.max() < layer[0], name
        elif name in ("L23E", "L4E", "L5E"):  # apical tufts in L1
            assert LAYERS["L1"][1] < z.max() < 0.0, name
        else:  # L6E: through L5 and L4 to the bottom of L2/3
            assert LAYERS["L4"][0] < z.max() < LAYERS["L4"][0] + 50.0


# ------------------------------------------------------------------------ placement
#: Shares of the synapses per layer from the Binzegger et al. (2004) table as used by
#: hybridLFPy (summed over the cell types of the populations; layers < 1 % dropped).
BINZEGGER_SHARES = {
    ("L23E", "L5E"): {"L1": 0.034, "L23": 0.154, "L5": 0.812},
    ("L23E", "L4E"): {"L1": 0.041, "L23": 0.437, "L4": 0.522},
    ("L4E", "L6E"): {"L23": 0.046, "L4": 0.547, "L5": 0.206, "L6": 0.201},
    ("L5I", "L6E"): {"L5": 0.513, "L6": 0.487},
}


def test_layer_shares_of_the_placement(config, mechanisms_loaded):
    """Each layer's density gets its share of the synapses on the model cell."""
    for (pre, post), expected in BINZEGGER_SHARES.items():
        connection = config.connection(pre, post)
        cell = cellmod.build_cell(config, post, tstop=1.0)
        z, area = cell.z.mean(axis=-1), cell.area.copy()
        pmf = cellmod.placement_pmf(
            cell, connection["placement"], config.populations[post]["position"]["scale"]
        )
        cell.strip_hoc_objects()
        spread = config.populations[post]["position"]["scale"]
        parts = {}
        for density in connection["placement"]["densities"]:
            layer = next(
                k for k, (t, b) in LAYERS.items() if density["loc"] == pytest.approx((t + b) / 2)
            )
            parts[layer] = area * distributions.placement_weights(z, [density], spread)
        total = sum(parts.values())
        np.testing.assert_allclose(total / total.sum(), pmf, rtol=1e-10)
        shares = {layer: part.sum() / total.sum() for layer, part in parts.items()}
        assert shares == pytest.approx(expected, abs=2e-3), (pre, post, shares)


# --------------------------------------------------------------------- NEST network
def test_tiny_network_builds_the_published_connectivity_and_spikes(config):
    data = copy.deepcopy(config.data)
    data["network"].update(scale=0.005, duration=200.0)
    tiny = NetworkConfig(data, base_dir=config.base_dir)
    p = network.network_parameters(tiny)
    built = network.build(p)
    nest = built.nest
    kin = nest_indegrees()
    for q in p.projections:
        i, j = POPULATIONS.index(q.post), POPULATIONS.index(q.pre)
        connections = nest.GetConnections(built.neurons[q.pre], built.neurons[q.post])
        # round(in-degree x simulated neurons) synapses; the config's in-degree is the
        # formula's to 6 digits
        expected = int(np.floor(q.indegree * p.simulated_sizes[q.post] + 0.5))
        assert len(connections) == expected, (q.pre, q.post)
        assert abs(expected - kin[i, j] * p.simulated_sizes[q.post]) < 1.0 + 1e-5 * expected
        if (q.pre, q.post) in (("L23E", "L23E"), ("L4E", "L23E"), ("L4I", "L4E")):
            # the synapses of at most 40 presynaptic neurons (reading all of them is slow)
            senders = built.neurons[q.pre][: min(40, p.simulated_sizes[q.pre])]
            sample = nest.GetConnections(senders, built.neurons[q.post])
            weights = np.asarray(sample.get("weight"))
            delays = np.asarray(sample.get("delay"))
            # normal(J, 0.1 |J|) keeping the sign (J doubled for L4E -> L2/3E)
            assert np.all(np.sign(weights) == np.sign(q.J))
            sem = 0.1 * abs(q.J) / np.sqrt(weights.size)
            assert abs(weights.mean() - q.J) < 5 * sem, (q.pre, q.post)
            # normal(d, d / 2) redrawn below dt = 0.1 ms, on the 0.1 ms grid
            truncated = st.truncnorm((0.1 - q.delay) / (q.delay / 2), np.inf, q.delay, q.delay / 2)
            assert delays.min() >= 0.1 - 1e-9
            assert (
                abs(delays.mean() - truncated.mean())
                < 5 * truncated.std() / np.sqrt(delays.size) + 0.05
            )
    nest.Simulate(p.duration)
    rates = {name: s.mean_rate(p.duration) for name, s in network.collect(built).items()}
    for name in POPULATIONS:
        assert rates[name] > 0, f"{name} is silent"
        assert rates[name] < 100.0, f"{name}: {rates[name]} spikes/s"


def test_config_documents_its_numbers():
    """The config cites its sources (a config without comments would pass the schema)."""
    text = (CONFIGS / "microcircuit.yaml").read_text()
    sources = ("Potjans & Diesmann (2014)", "Hagen et al. (2022)", "Potjans_2014", "Binzegger")
    for source in sources:
        assert source in text, source
    assert yaml.safe_load(text)["network"]["connection_rule"] == "fixed_total_number"


# ------------------------------------------------------- probes with population values
def test_basis_command_resolves_population_probe_parameters(tmp_path, mechanisms_loaded):
    """The microcircuit's LFP and CSD probes take R and sigma_z from each postsynaptic
    population: the basis command (response file of the linear engine, basis of the basis
    engine) and a kernel from its file equal the per-pathway NEURON engine (the basis
    route once failed on them)."""
    path = tmp_path / "microcircuit.yaml"
    path.write_text(yaml.safe_dump(reduced_microcircuit(), sort_keys=False))
    kernels = {}
    for engine in ("linear", "basis", "neuron"):
        extra = []
        if engine != "neuron":
            basis = tmp_path / f"L5I_{engine}.h5"
            done = run_main(["basis", path, "--post", "L5I", "--engine", engine, "-o", basis])
            assert done.returncode == 0, done.stderr
            extra = ["--basis", basis]
        out = tmp_path / f"{engine}.h5"
        args = ["kernel", path, "--pre", "L5E", "--post", "L5I", "--engine", engine]
        done = run_main([*args, *extra, "-o", out])
        assert done.returncode == 0, done.stderr
        with h5py.File(out, "r") as fh:
            kernels[engine] = {probe: fh[probe]["kernel"][()] for probe in ("lfp", "csd")}
    for probe in ("lfp", "csd"):
        reference = kernels["neuron"][probe]
        assert np.abs(reference).max() > 0
        for engine in ("linear", "basis"):
            error = np.abs(kernels[engine][probe] - reference).max()
            assert error <= 1e-9 * np.abs(reference).max(), (engine, probe)
