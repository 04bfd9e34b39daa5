"""NWB: `hpckernels export-nwb` writes a run's signals, spikes, kernels and config as one
NWB file that pynwb reads and nwbinspector passes; the `nwb` spike format reads its Units
table back, and the signals predicted from it are identical to the original ones."""

import h5py
import numpy as np
import pytest
import yaml
from conftest import CONFIGS, load, network_config, run_main
from pynwb import NWBHDF5IO
from test_signals import (
    DT,
    NODE_IDS,
    SIMULATED,
    T_START,
    T_STOP,
    TAU,
    synthetic_spikes,
    write_sonata,
)

from hpckernels.io import kernels as io_kernels

pytestmark = pytest.mark.unit

#: channels of the probes of config/config.yaml plus a CSD probe
CHANNELS = {"lfp": 13, "csd": 13, "dipole": 3, "eeg": 5, "meg": 9}
NWB_SECTION = {
    "session_description": "hpckernels test run",
    "identifier": "hpckernels-test-0001",
    "session_start_time": "2024-05-01T09:00:00+02:00",
    "experimenter": ["Doe, Jane"],
    "institution": "Test Institute",
    "lab": "Test Lab",
    "location": "VISp",
    "keywords": ["LFP", "kernel method"],
    "subject": {
        "subject_id": "model-1",
        "species": "Mus musculus",
        "sex": "U",
        "age": "P90D",
        "description": "point-neuron network model",
    },
}


def sonata_spikes():
    """The synthetic spikes of test_signals with SONATA's node ids (from 0)."""
    return {
        name: (times, senders - NODE_IDS[name][0])
        for name, (times, senders) in synthetic_spikes().items()
    }


def edit(data, spikes=None):
    shipped = yaml.safe_load((CONFIGS / "config.yaml").read_text())
    data["simulation"]["tau"] = TAU
    for connection in data["connections"]:
        connection["delay"] = {"distribution": "uniform", "loc": 0.3, "scale": 1.0}
    data["signals"] = {"t_start": T_START, "t_stop": T_STOP, "chunk_size": 997}
    data["probes"] = {
        **shipped["probes"],
        "csd": {
            "type": "GaussCylinderCSD",
            "z": {"start": 1000.0, "stop": -200.0, "num": 13},
            "h": 100.0,
            "R": 150.0,
            "sigma_z": 75.0,
        },
    }
    data["nwb"] = NWB_SECTION
    if spikes:
        data["spikes"] = spikes


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run: random kernels of five probes, SONATA spikes, its signals and NWB file."""
    tmp = tmp_path_factory.mktemp("nwb")
    config_path = network_config(tmp, edit)
    config = load(config_path)
    assert config.simulation["dt"] == DT
    rng = np.random.default_rng(3)
    files = {}
    for pathway in config.pathways():
        results = {p: {"kernel": rng.normal(size=(n, config.n_lags))} for p, n in CHANNELS.items()}
        path = tmp / f"{pathway.pre}{pathway.post}.h5"
        io_kernels.write_kernel_file(
            path, config, pathway.pre, pathway.post, "mean-field", results
        )
        files.update({(pathway.pre, pathway.post, p): path for p in CHANNELS})
    tensor = tmp / "kernels.h5"
    io_kernels.write_tensor(tensor, config, "mean-field", files)
    spikes = write_sonata(tmp / "spikes.h5", sonata_spikes())
    signals = tmp / "signals.h5"
    result = run_main(
        ["signals", config_path, "--kernels", tensor, "--spikes", spikes, "-o", signals]
    )
    assert result.returncode == 0, result.stderr
    nwb = tmp / "run.nwb"
    result = run_main(
        ["export-nwb", config_path, "--signals", signals, "--kernels", tensor]
        + ["--spikes", spikes, "-o", nwb]
    )
    assert result.returncode == 0, result.stderr
    assert "20 ElectricalSeries" not in result.stderr  # one per pathway and the total
    return {"tmp": tmp, "config": config_path, "signals": signals, "nwb": nwb, "kernels": tensor}


def test_nwb_holds_the_signals_units_spikes_and_provenance(run):
    with h5py.File(run["signals"]) as fh:
        total = {p: fh[p]["total"][()] for p in CHANNELS}
        pathways = fh["lfp"]["pathways"][()]
        depths = fh["lfp"]["channel"][()]
    with NWBHDF5IO(str(run["nwb"]), "r") as io:
        nwb = io.read()
        assert nwb.subject.species == "Mus musculus" and nwb.lab == "Test Lab"
        assert nwb.session_start_time.isoformat() == "2024-05-01T09:00:00+02:00"
        lfp = nwb.processing["ecephys"]["LFP"]
        series = lfp["lfp"]
        # the stored values are the signals file's, bit for bit; conversion gives volts
        np.testing.assert_array_equal(series.data[()], total["lfp"].T)
        assert series.unit == "volts" and series.conversion == 1e-3
        assert series.rate == 1000.0 / DT and series.starting_time == T_START / 1000.0
        # per-pathway series: E -> I is post I, pre E
        np.testing.assert_array_equal(lfp["lfp_E_to_I"].data[()], pathways[1, 0].T)
        electrodes = nwb.electrodes.to_dataframe()
        np.testing.assert_array_equal(electrodes["rel_z"].to_numpy(), depths.astype(np.float32))
        assert set(electrodes["probe"]) == {"lfp"} and len(electrodes) == 13
        assert set(electrodes["location"]) == {"VISp"}
        ecephys = nwb.processing["ecephys"]
        for name, unit, conversion in (
            ("csd", "A/m^3", 1e9),
            ("dipole", "A*m", 1e-15),
            ("eeg", "volts", 1e-3),
            ("meg", "A/m", 1e-3),
        ):
            np.testing.assert_array_equal(ecephys[name].data[()], total[name].T)
            assert (ecephys[name].unit, ecephys[name].conversion) == (unit, conversion)
            assert f"{name}_I_to_E" in ecephys.data_interfaces
        units = nwb.units.to_dataframe()
        assert (units["population"] == "E").sum() == SIMULATED["E"]
        assert (units["population"] == "I").sum() == SIMULATED["I"]
        spikes = sonata_spikes()
        for name in ("E", "I"):
            trains = units[units["population"] == name]["spike_times"].to_list()
            times = np.sort(np.concatenate(trains))
            np.testing.assert_allclose(times * 1000.0, np.sort(spikes[name][0]), rtol=1e-15)
        scratch = nwb.scratch
        assert scratch["kernels_lfp"].data.shape == (2, 2, 13, 65)
        assert "subject_id: model-1" in scratch["config"].data
        assert "config_hash" in scratch["provenance"].data
        assert ("hpckernels", "0.1.0") in [tuple(x) for x in nwb.was_generated_by[()]]


def test_nwbinspector_finds_no_critical_or_best_practice_violation(run):
    check_inspector(run["nwb"])


def check_inspector(path):
    """No nwbinspector message of importance CRITICAL or BEST_PRACTICE_VIOLATION."""
    from nwbinspector import Importance, inspect_nwbfile

    messages = list(inspect_nwbfile(nwbfile_path=str(path)))
    bad = [
        m
        for m in messages
        if m.importance in (Importance.CRITICAL, Importance.BEST_PRACTICE_VIOLATION)
        or m.importance.name == "ERROR"
    ]
    assert not bad, "\n".join(
        f"{m.importance.name} {m.check_function_name}: {m.message}" for m in bad
    )
    return messages


def test_round_trip_nwb_spikes_give_identical_signals(run):
    """NWB out -> spikes in (format nwb) -> the same signals, bit for bit."""
    tmp = run["tmp"]
    spikes = {
        "format": "nwb",
        "files": [str(run["nwb"])],
        "populations": {"E": {}, "I": {"nwb_population": "I"}},
    }
    config = network_config(tmp, lambda data: edit(data, spikes), name="from_nwb.yaml")
    out = tmp / "signals_from_nwb.h5"
    result = run_main(["signals", config, "--kernels", run["kernels"], "-o", out])
    # the tensor belongs to the other config file only by its hash: the physics is equal
    assert result.returncode == 0, result.stderr
    with h5py.File(run["signals"]) as a, h5py.File(out) as b:
        for group in ("lfp", "csd", "dipole", "eeg", "meg"):
            for key in ("total", "pathways"):
                np.testing.assert_array_equal(a[group][key][()], b[group][key][()])
        np.testing.assert_array_equal(a["rates/counts"][()], b["rates/counts"][()])
        np.testing.assert_array_equal(
            a["rates/counts"].attrs["count_scale"], b["rates/counts"].attrs["count_scale"]
        )
        assert b.attrs["spike_format"] == "nwb"


def test_nwb_spikes_of_a_missing_column_or_population_are_one_line(run):
    tmp = run["tmp"]
    for spikes, fragment in (
        (
            {
                "format": "nwb",
                "files": [str(run["nwb"])],
                "population_column": "layer",
                "populations": {"E": {}, "I": {}},
            },
            "no column 'layer'",
        ),
        (
            {
                "format": "nwb",
                "files": [str(run["nwb"])],
                "populations": {"E": {}, "I": {"nwb_population": "PV"}},
            },
            "['PV'] not found",
        ),
    ):
        config = network_config(tmp, lambda data, s=spikes: edit(data, s), name="bad.yaml")
        out = tmp / "bad.h5"
        result = run_main(["signals", config, "--kernels", run["kernels"], "-o", out])
        assert result.returncode == 2 and fragment in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and not out.exists()


def test_export_refuses_signals_of_another_config(run):
    other = network_config(
        run["tmp"], lambda data: (edit(data), data["nwb"].pop("lab")), name="other.yaml"
    )
    out = run["tmp"] / "other.nwb"
    result = run_main(["export-nwb", other, "--signals", run["signals"], "-o", out])
    assert result.returncode == 2 and "computed from another config" in result.stderr
    assert not out.exists()
