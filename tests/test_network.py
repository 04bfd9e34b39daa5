"""The built-in point-neuron network: NEST simulation, SONATA output, NEST ASCII round trip."""

import h5py
import numpy as np
import pytest
from conftest import load, network_config, run_main

from hpckernels import network
from hpckernels.errors import ConfigError
from hpckernels.io.spikes import read_spike_times

pytestmark = pytest.mark.unit


TINY = {"scale": 0.02, "duration": 300.0}


def tiny(data, **extra):
    data["network"].update(TINY, **extra)


def read_file(path):
    with h5py.File(path, "r") as fh:
        attrs = dict(fh.attrs)
        pops = {
            name: {
                "attrs": dict(g.attrs),
                "node_ids": g["node_ids"][()],
                "timestamps": g["timestamps"][()],
                "units": g["timestamps"].attrs["units"],
            }
            for name, g in fh["spikes"].items()
        }
    return attrs, pops


# ------------------------------------------------------------------------- parameters
def test_parameters_of_default_config(tmp_path):
    p = network.network_parameters(load(network_config(tmp_path, base="config.yaml")))
    assert p.populations == ("E", "I")
    assert p.simulated_sizes == {"E": 4096, "I": 512}
    assert p.population_sizes == {"E": 8192, "I": 1024}
    assert {(q.pre, q.post): q.indegree for q in p.projections} == {
        ("E", "E"): 4096,
        ("E", "I"): 4096,
        ("I", "E"): 512,
        ("I", "I"): 512,
    }
    assert p.external_rate == {"E": 40.0 * 450, "I": 40.0 * 160}
    assert p.dt == 0.0625 and p.threads == 2 and p.seed == 12345


def test_parameters_defaults_and_errors(tmp_path):
    def no_indegree(data):
        del data["network"]["indegree"]
        data["network"]["scale"] = 0.0001
        data["network"]["external"]["count"] = {"I": 7}

    p = network.network_parameters(load(network_config(tmp_path, no_indegree, base="config.yaml")))
    # default in-degree: connection probability x full presynaptic size, not scaled
    assert {(q.pre, q.post): q.indegree for q in p.projections}[("E", "I")] == round(0.05 * 8192)
    assert p.simulated_sizes == {"E": 1, "I": 1}
    assert p.external_rate == {"E": 40.0 * 450, "I": 40.0 * 7}

    def no_delay(data):
        del data["network"]["delay"]["I"]["E"]

    with pytest.raises(ConfigError, match=r"network\.delay\.I\.E"):
        network.network_parameters(load(network_config(tmp_path, no_delay, base="config.yaml")))

    def unknown(data):
        data["network"]["J"]["X"] = {"E": 1.0}

    with pytest.raises(ConfigError, match=r"network\.J\.X: unknown population"):
        network.network_parameters(load(network_config(tmp_path, unknown, base="config.yaml")))


# ------------------------------------------------------------------------ CLI + SONATA
def test_cli_writes_sonata_and_is_reproducible(tmp_path):
    config = network_config(tmp_path, tiny, base="config.yaml")
    outputs = [tmp_path / "a.h5", tmp_path / "b.h5"]
    for output in outputs:
        result = run_main(["network", config, "-o", output])
        assert result.returncode == 0, result.stderr
        assert "mean rates" in result.stderr and result.stdout == ""

    attrs, pops = read_file(outputs[0])
    assert attrs["nest_version"] == network.nest_version() != "not installed"
    assert attrs["duration"] == 300.0 and attrs["dt"] == 0.0625 and attrs["scale"] == 0.02
    assert attrs["seed"] == 12345 and len(attrs["config_hash"]) == 64
    assert list(pops) == ["E", "I"]
    sizes = {"E": (164, 8192), "I": (20, 1024)}
    for name, pop in pops.items():
        simulated, full = sizes[name]
        assert pop["attrs"]["simulated_size"] == simulated
        assert pop["attrs"]["population_size"] == full
        assert pop["units"] == "ms"
        assert pop["node_ids"].dtype == np.uint64 and pop["timestamps"].dtype == np.float64
        assert pop["timestamps"].size > 0, f"{name} is silent"
        assert np.all(np.diff(pop["timestamps"]) >= 0)
        assert pop["node_ids"].max() < simulated
        assert pop["timestamps"].min() > 0 and pop["timestamps"].max() <= 300.0
        rate = pop["timestamps"].size / simulated / 0.3
        assert 0.1 < rate < 50.0, f"{name}: {rate} spikes/s"

    spikes = read_spike_times(outputs[0], format="sonata", t_start=0.0, t_stop=300.0)
    assert {k: v.size for k, v in spikes.items()} == {
        k: p["timestamps"].size for k, p in pops.items()
    }

    _, again = read_file(outputs[1])
    for name in pops:
        np.testing.assert_array_equal(again[name]["timestamps"], pops[name]["timestamps"])
        np.testing.assert_array_equal(again[name]["node_ids"], pops[name]["node_ids"])


def test_other_seed_gives_other_spikes(tmp_path):
    p = network.network_parameters(load(network_config(tmp_path, tiny, base="config.yaml")))
    first = network.simulate(p)
    same = network.simulate(p)  # the kernel is reset: a second run in one process
    other = network.simulate(network.NetworkParameters(**{**vars(p), "seed": p.seed + 1}))
    for name in p.populations:
        np.testing.assert_array_equal(first.spikes[name].times, same.spikes[name].times)
        assert not np.array_equal(first.spikes[name].times, other.spikes[name].times)


# -------------------------------------------------------------------- NEST ASCII backend
def test_nest_ascii_round_trip(tmp_path):
    """NEST's own ASCII backend (one file per thread) reads back as the memory recording."""
    p = network.network_parameters(load(network_config(tmp_path, tiny, base="config.yaml")))
    built = network.build(p)
    nest = built.nest
    nest.SetKernelStatus({"data_path": str(tmp_path), "overwrite_files": True})
    ascii_recorder = nest.Create(
        "spike_recorder",
        1,
        {"record_to": "ascii", "label": "net", "time_in_steps": False, "precision": 8},
    )
    everyone = built.neurons["E"] + built.neurons["I"]
    nest.Connect(everyone, ascii_recorder)
    nest.Simulate(p.duration)
    memory = network.collect(built)

    files = sorted(tmp_path.glob("net-*.dat"))
    assert len(files) == p.threads
    ranges = {
        name: (nodes[0].global_id, nodes[-1].global_id) for name, nodes in built.neurons.items()
    }
    from_ascii = read_spike_times(
        tmp_path / "net-*.dat", ranges, format="nest_ascii", t_start=0.0, t_stop=p.duration
    )
    assert list(from_ascii) == ["E", "I"]
    for name in p.populations:
        assert memory[name].times.size > 0
        np.testing.assert_array_equal(from_ascii[name], np.sort(memory[name].times))


# ----------------------------------------------------------------------------- errors
def test_config_without_network_is_bad_input(tmp_path):
    def drop(data):
        del data["network"]

    config = network_config(tmp_path, drop, base="config.yaml")
    output = tmp_path / "spikes.h5"
    result = run_main(["network", config, "-o", output])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hpckernels: error: network:"), lines
    assert not output.exists()
    assert not list(tmp_path.glob(".spikes.h5*"))


def test_unknown_neuron_parameter_is_bad_input(tmp_path):
    def bad(data):
        tiny(data)
        data["network"]["neuron"]["E"]["tau_foo"] = 1.0

    output = tmp_path / "spikes.h5"
    result = run_main(["network", network_config(tmp_path, bad, base="config.yaml"), "-o", output])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "hpckernels: error: network.neuron.E.tau_foo: not a parameter of NEST's iaf_psc_exp"
    ]
    assert not output.exists()
