"""Signal figures (``hpckernels plot-signals``) from synthetic SONATA spikes and signals
files in the layouts ``hpckernels network`` and ``hpckernels signals`` write: every
expected PNG exists and is not blank, absent probes are skipped, bad input exits 2 (or
raises InputError) before any figure is written."""

import json

import h5py
import numpy as np
import pytest
from conftest import run_main, sealed_h5

pytestmark = pytest.mark.unit

DT = 0.0625  # ms
T_START, T_STOP = 200.0, 1000.0
POPULATIONS = {"E": (80, 800, 3.0), "I": (20, 200, 6.0)}  # simulated, full size, rate (1/s)
DEPTHS = np.linspace(1000.0, -200.0, 13)
FIGURES = (
    "raster_rates.png",
    "lfp_image.png",
    "lfp_traces.png",
    "csd_image.png",
    "dipole.png",
    "eeg.png",
    "eeg_scalp.png",
    "meg.png",
    "pathway_shares.png",
)
TYPES = (
    "GaussCylinderPotential",
    "GaussCylinderCSD",
    "CurrentDipoleMoment",
    "FourSphereVolumeConductor",
    "InfiniteHomogeneousVolCondMEG",
)
VERSIONS = {
    "hpckernels_version": "0.1.0",
    "neuron_version": "9.0.0",
    "lfpy_version": "2.3",
    "lfpykit_version": "0.5",
}


# ---------------------------------------------------------------------------------------
# Synthetic inputs
# ---------------------------------------------------------------------------------------


def make_spikes(rng):
    """{population: (times ms, node ids)}: Poisson trains modulated at 8 Hz from t = 0."""
    spikes = {}
    for name, (simulated, _, rate) in POPULATIONS.items():
        n_max = rng.poisson(simulated * 2 * rate * T_STOP / 1000.0)
        times = rng.uniform(0, T_STOP, n_max)
        accept = rng.uniform(0, 2, n_max) < 1 + 0.8 * np.sin(2 * np.pi * 8e-3 * times)
        times = np.sort(times[accept])
        spikes[name] = (times, rng.integers(0, simulated, times.size))
    return spikes


def write_sonata(path, spikes):
    with sealed_h5(path) as fh:
        fh.attrs["config_hash"] = "abc123"
        for key in ("hpckernels_version", "neuron_version", "lfpy_version"):
            fh.attrs[key] = VERSIONS[key]
        for name, (times, ids) in spikes.items():
            group = fh.create_group(f"spikes/{name}")
            group.attrs["sorting"] = "by_time"
            group.attrs["simulated_size"] = POPULATIONS[name][0]
            group.attrs["population_size"] = POPULATIONS[name][1]
            group.create_dataset("timestamps", data=times).attrs["units"] = "ms"
            group.create_dataset("node_ids", data=ids.astype(np.uint64))


def _scale(group, name, values, units=None):
    values = np.asarray(values)
    if values.dtype.kind in "OU":
        dset = group.create_dataset(
            name, data=np.array(values, dtype=object), dtype=h5py.string_dtype()
        )
    else:
        dset = group.create_dataset(name, data=values)
    dset.make_scale(name)
    if units:
        dset.attrs["units"] = units
    return dset


def _alpha(tau, n):
    t = np.arange(n) * DT
    return t / tau * np.exp(1 - t / tau)


def pathway_drives(counts):
    """(post, pre, time): counts of X convolved with a pathway-specific alpha function."""
    n = counts.shape[1]
    taus = {
        ("E", "E"): (2.0, 1.0),
        ("E", "I"): (6.0, -2.5),
        ("I", "E"): (2.0, 0.8),
        ("I", "I"): (6.0, -1.5),
    }
    names = list(POPULATIONS)
    drive = np.zeros((2, 2, n))
    for (post, pre), (tau, weight) in taus.items():
        kernel = _alpha(tau, int(10 * tau / DT))
        drive[names.index(post), names.index(pre)] = (
            weight * np.convolve(counts[names.index(pre)], kernel)[:n] * 1e-3
        )
    return drive


def write_signals(path, spikes, probes=("lfp", "csd", "dipole", "eeg", "meg"), pathways=True):
    names = list(POPULATIONS)
    time = np.arange(T_START, T_STOP, DT)
    counts = np.zeros((len(names), time.size))
    for i, name in enumerate(names):
        times = spikes[name][0]
        index = np.floor((times[times >= T_START] - T_START) / DT).astype(int)
        np.add.at(counts[i], index[index < time.size], 1.0)
        counts[i] *= POPULATIONS[name][1] / POPULATIONS[name][0]
    drive = pathway_drives(counts)  # (post, pre, time)
    # LFP depth profiles per postsynaptic population: E a dipole, I a local sink
    profile = {
        0: np.exp(-(((DEPTHS - 500) / 150) ** 2)) - np.exp(-((DEPTHS / 150) ** 2)),
        1: -np.exp(-(((DEPTHS - 100) / 100) ** 2)) * 0.3,
    }
    lfp = np.stack(
        [
            np.stack([profile[i][:, None] * drive[i, j][None] * 1e-2 for j in range(2)])
            for i in range(2)
        ]
    )
    # CSD: minus the second spatial difference of the LFP profiles (sinks where it peaks)
    csd = -np.diff(np.pad(lfp, ((0, 0), (0, 0), (1, 1), (0, 0)), mode="edge"), 2, axis=2) * 1e-6
    p_z = drive * np.array([1e4, 2e3])[:, None, None]
    dipole = np.zeros((2, 2, 3, time.size))
    dipole[:, :, 2] = p_z
    eeg_gain = np.array([3.0, 2.8, 2.2, 1.5, 0.8]) * 1e-9  # mV per nA um
    eeg = eeg_gain[None, None, :, None] * p_z[:, :, None]
    meg = np.zeros((2, 2, 9, time.size))
    meg[:, :, 4] = 2e-10 * p_z  # sensor 1, y
    meg[:, :, 7] = 1.5e-10 * p_z  # sensor 2, y
    layouts = {
        "lfp": (
            "GaussCylinderPotential",
            lfp,
            DEPTHS,
            "um",
            "mV",
            {"R": 150.0, "sigma": 0.3, "sigma_z": 75.0},
        ),
        "csd": (
            "GaussCylinderCSD",
            csd,
            DEPTHS,
            "um",
            "nA/um3",
            {"h": 100.0, "R": 150.0, "sigma_z": 75.0},
        ),
        "dipole": (
            "CurrentDipoleMoment",
            dipole,
            np.array([b"x", b"y", b"z"]),
            None,
            "nA um",
            {"rotational_symmetry": True},
        ),
        "eeg": (
            "FourSphereVolumeConductor",
            eeg,
            np.arange(5),
            None,
            "mV",
            {
                "dipole": "dipole",
                "dipole_location": [0.0, 0.0, 78000.0],
                "radii": [79000.0, 80000.0, 85000.0, 90000.0],
                "sigmas": [0.3, 1.5, 0.015, 0.3],
                "r_electrodes": [
                    [0.0, 0.0, 89999.0],
                    [15628.2, 0.0, 88631.7],
                    [30781.5, 0.0, 84571.4],
                    [44999.5, 0.0, 77941.4],
                    [57850.2, 0.0, 68943.2],
                ],
            },
        ),
        "meg": (
            "InfiniteHomogeneousVolCondMEG",
            meg,
            np.array([f"{s}:{c}".encode() for s in range(3) for c in "xyz"]),
            None,
            "nA/um",
            {
                "sensor_locations": [
                    [0.0, 0.0, 110000.0],
                    [19101.3, 0.0, 108328.9],
                    [37622.2, 0.0, 103366.2],
                ]
            },
        ),
    }
    with sealed_h5(path) as fh:
        fh.attrs.update(
            {
                "config_hash": "def456",
                **VERSIONS,
                "dt": DT,
                "t_start": T_START,
                "t_stop": T_STOP,
                "time_units": "ms",
            }
        )
        rates = fh.create_group("rates")
        population = _scale(rates, "population", np.array(names, dtype=object))
        rate_time = _scale(rates, "time", time, "ms")
        dset = rates.create_dataset("counts", data=counts)
        dset.dims[0].attach_scale(population)
        dset.dims[1].attach_scale(rate_time)
        for name in probes:
            probe_type, parts, channels, channel_units, units, parameters = layouts[name]
            group = fh.create_group(name)
            group.attrs["probe_type"] = probe_type
            group.attrs["probe_parameters"] = json.dumps(parameters)
            channel = _scale(group, "channel", channels, channel_units)
            post = _scale(group, "post", np.array(names, dtype=object))
            pre = _scale(group, "pre", np.array(names, dtype=object))
            group_time = _scale(group, "time", time, "ms")
            total = group.create_dataset("total", data=parts.sum(axis=(0, 1)))
            total.attrs["units"] = units
            total.dims[0].attach_scale(channel)
            total.dims[1].attach_scale(group_time)
            if pathways:
                dset = group.create_dataset("pathways", data=parts)
                dset.attrs["units"] = units
                for axis, scale in enumerate((post, pre, channel, group_time)):
                    dset.dims[axis].attach_scale(scale)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("signals")
    spikes = make_spikes(np.random.default_rng(7))
    write_sonata(folder / "spikes.h5", spikes)
    write_signals(folder / "signals.h5", spikes)
    return folder, spikes


# ---------------------------------------------------------------------------------------
# Pixel check: a blank or flat figure fails it
# ---------------------------------------------------------------------------------------


def pixel_stats(path):
    """Fraction of pixels that differ from the white background, and the grey std (0..255)."""
    from matplotlib import image

    rgb = image.imread(str(path))[..., :3].astype(float)
    if rgb.max() > 1.0:
        rgb = rgb / 255.0
    drawn = np.abs(rgb - 1.0).max(axis=2) > 0.1
    return float(drawn.mean()), float(rgb.mean(axis=2).std() * 255)


def check_drawn(path):
    """Raise AssertionError unless the PNG looks like a figure with data in it."""
    assert path.is_file(), f"{path} missing"
    assert path.stat().st_size > 5000, f"{path}: only {path.stat().st_size} bytes"
    fraction, std = pixel_stats(path)
    # calibrated: empty axes with labels draw 1.5 % (one panel) to 3.6 % (three panels)
    # of the pixels; these figures draw 5 % (line plots) to 25 % (images)
    assert 0.045 < fraction < 0.9, f"{path.name}: {fraction:.3f} of pixels drawn"
    assert std > 25, f"{path.name}: grey std {std:.1f}"


def _save(fig, path):
    fig.savefig(path, dpi=110)


def test_check_fails_on_blank_and_flat_png(tmp_path):
    from hpckernels.plotting.common import pyplot

    plt = pyplot()
    blank = tmp_path / "blank.png"
    fig = plt.figure(figsize=(9, 6))
    _save(fig, blank)
    plt.close(fig)
    grey = tmp_path / "grey.png"
    fig = plt.figure(figsize=(9, 6), facecolor="0.5")
    _save(fig, grey)
    plt.close(fig)
    axes_only = tmp_path / "axes_only.png"
    fig, ax = plt.subplots(figsize=(9, 6))
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("LFP (mV)")
    ax.set_title("no data")
    _save(fig, axes_only)
    plt.close(fig)
    panels_only = tmp_path / "panels_only.png"
    fig, axes = plt.subplots(3, 1, figsize=(9, 6), sharex=True)
    for ax in axes:
        ax.set_ylabel("EEG (nV)")
    axes[-1].set_xlabel("time (ms)")
    fig.suptitle("three empty panels")
    fig.tight_layout()
    _save(fig, panels_only)
    plt.close(fig)
    for path in (blank, grey, axes_only, panels_only):
        with pytest.raises(AssertionError):
            check_drawn(path)


# ---------------------------------------------------------------------------------------
# The CLI
# ---------------------------------------------------------------------------------------


def test_plot_signals_writes_every_figure(inputs, tmp_path):
    from PIL import Image

    from hpckernels import plotting

    folder, _ = inputs
    out = tmp_path / "figures"
    result = run_main(
        [
            "plot-signals",
            folder / "signals.h5",
            "--spikes",
            folder / "spikes.h5",
            "--output-dir",
            out,
        ],
    )
    assert result.returncode == 0, result.stderr
    assert "skipped" not in result.stdout
    for name in FIGURES:
        check_drawn(out / name)
        text = Image.open(out / name).text
        assert "config_hash=def456" in text["Description"], name
        assert "hpckernels_version=0.1.0" in text["Description"], name
    assert "config_hash=abc123" in Image.open(out / "raster_rates.png").text["Description"]
    assert sorted(p.name for p in out.iterdir()) == sorted(FIGURES)  # no temporary files
    assert plotting.expected_figures(TYPES, sonata=True) == list(FIGURES)


def test_absent_probes_and_spikes_are_skipped(inputs, tmp_path):
    from hpckernels import plotting

    folder, spikes = inputs
    signals = tmp_path / "lfp_only.h5"
    write_signals(signals, spikes, probes=("lfp",), pathways=False)
    out = tmp_path / "figures"
    result = run_main(["plot-signals", signals, "--output-dir", out, "--window", "0"])
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["lfp_image.png", "lfp_traces.png"]
    assert plotting.expected_figures(["GaussCylinderPotential"], pathways=False) == [
        "lfp_image.png",
        "lfp_traces.png",
    ]
    for name in ("lfp_image.png", "lfp_traces.png"):
        check_drawn(out / name)
    for name in (
        "raster_rates.png",
        "csd_image.png",
        "dipole.png",
        "eeg.png",
        "eeg_scalp.png",
        "meg.png",
        "pathway_shares.png",
    ):
        assert f"skipped {name}" in result.stdout, result.stdout


def test_pathway_shares_without_lfp(inputs, tmp_path):
    folder, spikes = inputs
    signals = tmp_path / "head.h5"
    write_signals(signals, spikes, probes=("dipole", "eeg"))
    out = tmp_path / "figures"
    result = run_main(["plot-signals", signals, "--output-dir", out])
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "dipole.png",
        "eeg.png",
        "eeg_scalp.png",
        "pathway_shares.png",
    ]
    for path in out.iterdir():
        check_drawn(path)


@pytest.mark.parametrize("which", ["signals", "spikes", "not-hdf5", "not-sonata"])
def test_bad_input_exits_2_with_one_line(inputs, tmp_path, which):
    folder, _ = inputs
    signals, spikes = folder / "signals.h5", folder / "spikes.h5"
    if which == "signals":
        signals = tmp_path / "missing.h5"
    elif which == "spikes":
        spikes = tmp_path / "missing.h5"
    elif which == "not-hdf5":
        signals = tmp_path / "text.h5"
        signals.write_text("not hdf5\n")
    else:
        spikes = tmp_path / "signals_copy.h5"
        spikes.write_bytes(signals.read_bytes())
    out = tmp_path / "figures"
    result = run_main(["plot-signals", signals, "--spikes", spikes, "--output-dir", out])
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hpckernels: error:"), result.stderr
    assert str(tmp_path) in lines[0]
    assert not out.exists() or not any(out.iterdir())


# ---------------------------------------------------------------------------------------
# The numbers behind the figures
# ---------------------------------------------------------------------------------------


def test_pathway_shares_definitions():
    from hpckernels.plotting.pathway_shares import pathway_shares

    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 3, 4000))
    parts = np.stack([a, b, -0.5 * a])  # third pathway cancels half of the first
    shares = pathway_shares(parts, parts.sum(axis=0))
    np.testing.assert_allclose(shares["covariance"].sum(axis=0), 1.0, rtol=1e-12)
    np.testing.assert_allclose(shares["covariance_all"].sum(), 1.0, rtol=1e-12)
    # a + b - a/2 = a/2 + b: Var = 1.25, so Var(a) / Var(total) ~ 0.8
    np.testing.assert_allclose(shares["variance"][0], 1 / 1.25, rtol=0.1)
    assert (shares["covariance"][2] < 0).all()
    single = pathway_shares(a[None], a)
    np.testing.assert_allclose(single["variance"], 1.0)
    flat = pathway_shares(np.ones((2, 1, 10)), 2 * np.ones((1, 10)))
    assert np.isnan(flat["variance"]).all()


def test_population_rates_in_spikes_per_second_per_neuron():
    from hpckernels.plotting.raster_rates import population_rates

    # 800 neurons at 5 spikes/s: 800 * 5 * 0.0625e-3 = 0.25 spikes per 0.0625 ms bin
    counts = np.full((1, 1600), 0.25)
    rates, k = population_rates(counts, [800], DT, bin_width=1.0)
    assert k == 16 and rates.shape == (1, 100)
    np.testing.assert_allclose(rates, 5.0)


def test_display_units():
    from hpckernels.plotting.common import display_scale, pretty_units

    factor, units, _ = display_scale(np.array([2e-3, -1e-3]), "mV")
    assert units == "\u00b5V" and np.isclose(factor, 1e3)
    factor, units, quantity = display_scale(np.array([1e-4]), "nA/um")  # B = 126 fT
    assert (units, quantity) == ("fT", "B") and np.isclose(1e-4 * factor, 125.66, rtol=1e-4)
    assert display_scale(np.array([5.0]), "nA um")[1] == "nA \u00b5m"
    # one unit for every CSD, whatever its size: 1 nA/um3 = 1 A/mm3 = 1e6 uA/mm3
    for value in (3e-9, 3e2):
        factor, units, _ = display_scale(np.array([value, -1e-9]), "nA/um3")
        assert units == "\u00b5A/mm\u00b3" and np.isclose(value * factor, value * 1e6)
    assert pretty_units("nA/um3") == "nA/\u00b5m\u00b3"


# ---------------------------------------------------------------------------------------
# Input checked before any figure is written
# ---------------------------------------------------------------------------------------


def test_hdf5_that_is_not_signals_is_an_error(inputs, tmp_path):
    from hpckernels.errors import InputError
    from hpckernels.plotting import plot_signals

    folder, _ = inputs
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as fh:
        fh.attrs["config_hash"] = "abc123"
        fh.create_group("lfp").create_dataset("total", data=np.zeros((2, 10)))  # no probe_type
        fh.create_dataset("data", data=np.arange(3))
    out = tmp_path / "figures"
    with pytest.raises(InputError) as err:
        plot_signals(other, out, folder / "spikes.h5", log=lambda line: None)
    assert err.value.where == str(other)
    assert "not a signals file" in err.value.message
    assert "\n" not in str(err.value)
    assert not list(tmp_path.rglob("*.png"))
    # the SONATA spikes file is HDF5 too, and not a signals file either
    with pytest.raises(InputError, match="not a signals file"):
        plot_signals(folder / "spikes.h5", out, log=lambda line: None)
    assert not list(tmp_path.rglob("*.png"))


@pytest.mark.parametrize("window", [DT / 2, 0.01])
def test_window_shorter_than_a_bin_is_an_error(inputs, tmp_path, window):
    from hpckernels.errors import InputError
    from hpckernels.plotting import plot_signals
    from hpckernels.plotting.lfp import plot_lfp_traces

    folder, _ = inputs
    out = tmp_path / "figures"
    with pytest.raises(InputError) as err:
        plot_signals(
            folder / "signals.h5", out, folder / "spikes.h5", window=window, log=lambda line: None
        )
    assert err.value.where == "--window"
    assert f"{DT:g} ms" in err.value.message and "\n" not in str(err.value)
    assert not list(tmp_path.rglob("*.png"))
    with pytest.raises(InputError, match="--window"):  # the figures alone check it too
        plot_lfp_traces(folder / "signals.h5", out / "lfp_traces.png", window=window)
    assert not list(tmp_path.rglob("*.png"))


@pytest.mark.parametrize("window", [None, 0, DT])
def test_whole_signal_or_one_bin_windows_draw(inputs, tmp_path, window):
    from hpckernels.plotting import plot_signals

    folder, spikes = inputs
    signals = tmp_path / "dipole_only.h5"
    write_signals(signals, spikes, probes=("dipole",), pathways=False)
    results = plot_signals(signals, tmp_path / "figures", window=window, log=lambda line: None)
    assert results["dipole.png"] == tmp_path / "figures" / "dipole.png"
    assert (tmp_path / "figures" / "dipole.png").stat().st_size > 0


# ---------------------------------------------------------------------------------------
# Eight populations, 64 pathways (the cortical microcircuit)
# ---------------------------------------------------------------------------------------
MC_POPULATIONS = ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]
MC_DEPTHS = np.linspace(0.0, -1500.0, 16)
MC_DT, MC_T_START, MC_T_STOP = 0.5, 100.0, 700.0  # ms


@pytest.fixture(scope="module")
def microcircuit_files(tmp_path_factory):
    """SONATA spikes, a signals file (LFP, CSD and dipole with all 64 pathways, 9 of them
    without a connection) and a kernel tensor (16 channels) of 8 populations."""
    folder = tmp_path_factory.mktemp("microcircuit")
    rng = np.random.default_rng(11)
    n = len(MC_POPULATIONS)
    simulated, sizes = [60, 20, 60, 20, 20, 10, 50, 10], [20683, 5834, 21915, 5479, 4850, 1065]
    sizes += [14395, 2948]
    rates = [1.0, 3.0, 4.4, 5.9, 7.7, 8.7, 1.1, 7.9]
    time = np.arange(MC_T_START, MC_T_STOP, MC_DT)
    counts = np.zeros((n, time.size))
    with sealed_h5(folder / "spikes.h5") as fh:
        fh.attrs["config_hash"] = "mc123"
        for i, name in enumerate(MC_POPULATIONS):
            times = np.sort(rng.uniform(0, MC_T_STOP, rng.poisson(simulated[i] * rates[i] * 0.7)))
            ids = rng.integers(0, simulated[i], times.size)
            group = fh.create_group(f"spikes/{name}")
            group.attrs.update(
                sorting="by_time", simulated_size=simulated[i], population_size=sizes[i]
            )
            group.create_dataset("timestamps", data=times).attrs["units"] = "ms"
            group.create_dataset("node_ids", data=ids.astype(np.uint64))
            index = np.floor((times[times >= MC_T_START] - MC_T_START) / MC_DT).astype(int)
            np.add.at(counts[i], index[index < time.size], sizes[i] / simulated[i])
    connected = np.ones((n, n), dtype=bool)
    connected[[0, 0, 1, 1, 3, 3, 2, 4, 5], [5, 7, 5, 7, 5, 7, 7, 7, 7]] = False
    layer_of = [0, 0, 1, 1, 2, 2, 3, 3]
    middles = np.array([-334.0, -755.0, -1046.0, -1331.0])
    kernel_t = np.arange(1, 101) * MC_DT
    lfp = np.zeros((n, n, MC_DEPTHS.size, time.size))
    tensor = np.zeros((n, n, MC_DEPTHS.size, kernel_t.size))
    for i in range(n):
        # a dipole around the postsynaptic layer: sink above, source below
        profile = np.exp(-(((MC_DEPTHS - middles[layer_of[i]] - 150) / 120) ** 2)) - np.exp(
            -(((MC_DEPTHS - middles[layer_of[i]] + 100) / 120) ** 2)
        )
        for j in range(n):
            if not connected[i, j]:
                continue
            sign = 1.0 if MC_POPULATIONS[j].endswith("E") else -2.0
            shape = kernel_t / 2.0 * np.exp(1 - kernel_t / 2.0) * sign * 1e-6
            tensor[i, j] = profile[:, None] * shape[None, :]
            drive = np.convolve(counts[j], shape)[: time.size]
            lfp[i, j] = profile[:, None] * drive[None, :]
    csd = -np.diff(np.pad(lfp, ((0, 0), (0, 0), (1, 1), (0, 0)), mode="edge"), 2, axis=2) * 1e-6
    dipole = np.zeros((n, n, 3, time.size))
    dipole[:, :, 2] = lfp[:, :, 3] * 1e5
    layouts = {
        "lfp": ("GaussCylinderPotential", lfp, MC_DEPTHS, "um", "mV"),
        "csd": ("GaussCylinderCSD", csd, MC_DEPTHS, "um", "nA/um3"),
        "dipole": ("CurrentDipoleMoment", dipole, np.array([b"x", b"y", b"z"]), None, "nA um"),
    }
    names = np.array(MC_POPULATIONS, dtype=object)
    with sealed_h5(folder / "signals.h5") as fh:
        fh.attrs.update(config_hash="mc456", dt=MC_DT, t_start=MC_T_START, t_stop=MC_T_STOP)
        rates_group = fh.create_group("rates")
        population = _scale(rates_group, "population", names)
        rate_time = _scale(rates_group, "time", time, "ms")
        dset = rates_group.create_dataset("counts", data=counts)
        dset.dims[0].attach_scale(population)
        dset.dims[1].attach_scale(rate_time)
        for name, (probe_type, parts, channels, channel_units, units) in layouts.items():
            group = fh.create_group(name)
            group.attrs["probe_type"] = probe_type
            group.attrs["probe_parameters"] = "{}"
            scales = (
                _scale(group, "post", names),
                _scale(group, "pre", names),
                _scale(group, "channel", channels, channel_units),
                _scale(group, "time", time, "ms"),
            )
            total = group.create_dataset("total", data=parts.sum(axis=(0, 1)))
            total.attrs["units"] = units
            total.dims[0].attach_scale(scales[2])
            total.dims[1].attach_scale(scales[3])
            dset = group.create_dataset("pathways", data=parts)
            dset.attrs["units"] = units
            for axis, scale in enumerate(scales):
                dset.dims[axis].attach_scale(scale)
    with sealed_h5(folder / "kernels.h5") as fh:
        fh.attrs["config_hash"] = "mc789"
        group = fh.create_group("lfp")
        group.attrs["probe_type"] = "GaussCylinderPotential"
        _scale(group, "post", names)
        _scale(group, "pre", names)
        _scale(group, "channel", MC_DEPTHS, "um")
        _scale(group, "lag", kernel_t, "ms")
        group.create_dataset("kernel", data=tensor).attrs["units"] = "mV"
    return folder


@pytest.mark.slow
def test_eight_populations_are_drawn_readably(microcircuit_files, tmp_path):
    """Raster, LFP and CSD images, pathway shares (64 pathways: matrices per probe) and the
    8 x 8 kernel panel of 16 channels: every figure drawn, of a size a screen shows."""
    from PIL import Image

    from hpckernels.plotting import available_figures, plot_kernel_tensor
    from hpckernels.plotting.csd import plot_csd_image
    from hpckernels.plotting.pathway_shares import plot_pathway_shares
    from hpckernels.plotting.raster_rates import plot_raster_rates

    folder = microcircuit_files
    signals = folder / "signals.h5"
    reasons = available_figures(signals, folder / "spikes.h5")
    assert sorted(name for name, why in reasons.items() if why is None) == sorted(
        ["raster_rates.png", "lfp_image.png", "lfp_traces.png", "csd_image.png", "dipole.png"]
        + ["pathway_shares.png"]
    )
    paths = [
        plot_raster_rates(signals, folder / "spikes.h5", tmp_path / "raster.png", 300.0),
        plot_csd_image(signals, tmp_path / "csd.png", 300.0),  # the LFP image's code
        plot_pathway_shares(signals, tmp_path / "shares.png"),
        plot_kernel_tensor(folder / "kernels.h5", "lfp", tmp_path / "kernels_lfp.png"),
    ]
    kernels = paths[-1]
    for path in paths:
        check_drawn(path)
        width, height = Image.open(path).size
        assert width <= 2600 and height <= 2600, (path.name, width, height)
    # the kernel panel stops where every kernel stays below 1 % of its maximum (alpha
    # function of 2 ms on a 0.5 ms grid: from 15.5 ms on)
    title = Image.open(kernels).text["Title"]
    assert title == "lfp kernels"
    from hpckernels.io.kernels import read_tensor
    from hpckernels.plotting.kernel_tensor import decay_lag

    tensor = read_tensor(folder / "kernels.h5").probes["lfp"]
    assert decay_lag(tensor.kernel, tensor.lags) == 15.0


def test_scalp_maps_put_the_1020_electrodes_on_the_head_model():
    """Cz lies on the model's z axis above the dipole (there the map's potential is the
    head model's at an electrode on top), Fz towards the nasion (+y), T7 left, T8 right;
    every electrode on the outer sphere."""
    from lfpykit import eegmegcalc

    from hpckernels.plotting import eeg_scalp

    names = list(eeg_scalp.ELECTRODES_1020)
    directions = eeg_scalp.electrode_directions(eeg_scalp.montage_info())
    np.testing.assert_allclose(np.linalg.norm(directions, axis=1), 1.0)
    np.testing.assert_allclose(directions[names.index("Cz")], [0, 0, 1], atol=1e-12)
    assert directions[names.index("Fz"), 1] > 0.5
    assert directions[names.index("T7"), 0] < -0.8 < 0.8 < directions[names.index("T8"), 0]
    parameters = {
        "radii": [79000.0, 80000.0, 85000.0, 90000.0],
        "sigmas": [0.3, 1.5, 0.015, 0.3],
        "dipole_location": [0.0, 0.0, 78000.0],
    }
    matrix = eeg_scalp.scalp_matrix(parameters, directions)
    top = eegmegcalc.FourSphereVolumeConductor(
        np.array([[0.0, 0.0, 89999.0]]), radii=parameters["radii"], sigmas=parameters["sigmas"]
    ).get_transformation_matrix(np.array(parameters["dipole_location"]))
    np.testing.assert_allclose(matrix[names.index("Cz")], top[0], rtol=1e-6, atol=1e-18)
