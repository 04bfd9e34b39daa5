"""Predicted signals: spikes + kernel tensor -> per-probe signals, checked end to end
against a direct np.convolve reference, plus the input errors of `hpckernels signals`."""

import json

import h5py
import numpy as np
import pytest
from conftest import CONFIGS, load, network_config, run_main

from hpckernels.binning import (
    bin_count,
    bin_spike_counts,
    count_scale,
    iter_population_counts,
    population_counts,
)
from hpckernels.convolution import (
    centered_kernel,
    compute_signals,
    default_chunk_size,
    iter_signals,
)
from hpckernels.io import kernels as io_kernels
from hpckernels.signals import iter_window_signals, time_axis

pytestmark = pytest.mark.unit


DT = 0.0625  # ms, as config/two_population.yaml
TAU = 2.0  # ms: 65 lags keep the np.convolve reference cheap
T_START, T_STOP = 20.0, 320.0  # ms: 4800 bins
CHUNK = 997  # bins: splits the run into 5 uneven chunks
SIZES = {"E": 8192, "I": 1024}
SIMULATED = {"E": 819, "I": 102}
NODE_IDS = {"E": (1, 819), "I": (820, 921)}


def assert_close(actual, expected):
    scale = np.abs(expected).max()
    np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-10 * scale)


# ---------------------------------------------------------------------------------------
# Fixtures: a synthetic kernel tensor (io_kernels.write_tensor) and synthetic spikes
# ---------------------------------------------------------------------------------------


def small_config(tmp_path, fir=False, extra=None, name="config.yaml"):
    def edit(data):
        data["simulation"]["tau"] = TAU
        data["simulation"]["fir"] = fir
        for connection in data["connections"]:  # delays within the short tau
            connection["delay"] = {"distribution": "uniform", "loc": 0.3, "scale": 1.0}
        data["signals"] = {"t_start": T_START, "t_stop": T_STOP, "chunk_size": CHUNK}
        if extra:
            extra(data)

    return network_config(tmp_path, edit, name=name)


def make_tensor(tmp_path, config_path, seed=0):
    """Random kernels of every pathway and probe, assembled by io_kernels.write_tensor.

    Returns the tensor path and {probe: (n_post, n_pre, n_channels, n_lags)} as stored.
    """
    config = load(config_path)
    rng = np.random.default_rng(seed)
    n_lags = config.n_steps_tau if config.simulation["fir"] else config.n_lags
    files = {}
    for pathway in config.pathways():
        results = {
            "lfp": {"kernel": rng.normal(size=(13, n_lags))},
            "dipole": {"kernel": 100.0 * rng.normal(size=(3, n_lags))},
        }
        path = tmp_path / f"{pathway.pre}{pathway.post}.h5"
        io_kernels.write_kernel_file(
            path, config, pathway.pre, pathway.post, "mean-field", results
        )
        for probe in results:
            files[(pathway.pre, pathway.post, probe)] = path
    tensor = tmp_path / "kernels.h5"
    io_kernels.write_tensor(tensor, config, "mean-field", files)
    with h5py.File(tensor, "r") as fh:
        return tensor, {p: fh[p]["kernel"][()] for p in ("lfp", "dipole")}


def synthetic_spikes(seed=1):
    """Spike times (ms) and senders of both populations over [0, T_STOP] ms, including
    spikes right at bin edges, at t_start and t_stop and before t_start."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, rate in (("E", 2.3), ("I", 4.9)):
        first, last = NODE_IDS[name]
        n = rng.poisson(SIMULATED[name] * rate * T_STOP / 1000.0)
        times = np.round(rng.uniform(0.0, T_STOP, n), 3)  # NEST writes 3 decimals
        times[:4] = [T_START, T_START + 8 * DT, T_STOP, 1.0]  # 3 decimals exact
        out[name] = (np.sort(times), rng.integers(first, last + 1, times.size))
    return out


def write_sonata(path, spikes, simulated=SIMULATED, units="ms", factor=1.0):
    with h5py.File(path, "w") as fh:
        for name, (times, senders) in spikes.items():
            group = fh.create_group(f"spikes/{name}")
            group["timestamps"] = times * factor
            group["timestamps"].attrs["units"] = units
            group["node_ids"] = senders
            if simulated:
                group.attrs["simulated_size"] = simulated[name]
    return path


def write_nest3(path, spikes):
    rows = sorted(
        (t, s) for times, senders in spikes.values() for t, s in zip(times, senders, strict=True)
    )
    with open(path, "w") as fh:
        fh.write("# NEST version: 3.6.0\n# RecordingBackendASCII version: 2\nsender\ttime_ms\n")
        for t, s in rows:
            fh.write(f"{s}\t{t:.3f}\n")
    return path


def reference(spikes, kernels, scales, fir=False, t_start=T_START, t_stop=T_STOP):
    """Per-pathway signals by direct np.convolve of counts x scale, per channel.

    Spikes up to tau outside [t_start, t_stop) (not before 0 ms) reach into the window:
    the counts are binned over the extended window and the window is cut out.
    """
    n_post, n_pre, n_ch, n_lags = kernels.shape
    before = min(int(TAU / DT), int(round(t_start / DT)))
    lo, hi = t_start - before * DT, t_stop + TAU
    counts = [bin_spike_counts(spikes[x][0], lo, hi, DT) * scales[x] for x in "EI"]
    n = int(round((t_stop - t_start) / DT))
    out = np.zeros((n_post, n_pre, n_ch, counts[0].size))
    for y in range(n_post):
        for x in range(n_pre):
            for c in range(n_ch):
                if fir:  # kernel sample j is lag (j + 1) dt: y[n] = full[n - 1]
                    full = np.convolve(counts[x], kernels[y, x, c])
                    out[y, x, c, 1:] = full[: counts[x].size - 1]
                else:
                    out[y, x, c] = np.convolve(counts[x], kernels[y, x, c], "same")
    return out[..., before : before + n]


@pytest.fixture(scope="module")
def spikes():
    return synthetic_spikes()


# ---------------------------------------------------------------------------------------
# End to end through the CLI
# ---------------------------------------------------------------------------------------


def check_output(out, spikes, kernels, scales, fir=False):
    with h5py.File(out, "r") as fh:
        assert fh.attrs["dt"] == DT and fh.attrs["t_start"] == T_START
        assert fh.attrs["t_stop"] == T_STOP and fh.attrs["time_units"] == "ms"
        for key in ("config_hash", "hpckernels_version", "kernels_sha256", "kernels_config_hash"):
            assert key in fh.attrs
        counts = fh["rates/counts"][()]
        assert fh["rates/counts"].attrs["units"] == "spikes per bin"
        assert [v.decode() for v in fh["rates/population"][()]] == ["E", "I"]
        time = fh["rates/time"][()]
        np.testing.assert_allclose(time, T_START + DT * np.arange(counts.shape[1]))
        for i, x in enumerate("EI"):
            expected = bin_spike_counts(spikes[x][0], T_START, T_STOP, DT) * scales[x]
            np.testing.assert_array_equal(counts[i], expected)
        for probe, kernel in kernels.items():
            group = fh[probe]
            ref = reference(spikes, kernel, scales, fir)
            assert group["pathways"].shape == ref.shape
            assert_close(group["pathways"][()], ref)
            assert_close(group["total"][()], ref.sum(axis=(0, 1)))
            # per-pathway contributions sum to the total
            assert_close(group["pathways"][()].sum(axis=(0, 1)), group["total"][()])
            units = {"lfp": "mV", "dipole": "nA um"}[probe]
            assert group["total"].attrs["units"] == group["pathways"].attrs["units"] == units
            assert group.attrs["probe_type"] in ("GaussCylinderPotential", "CurrentDipoleMoment")
            spec = load(CONFIGS / "two_population.yaml").probes[probe]
            assert json.loads(group.attrs["probe_parameters"]) == {
                k: v for k, v in spec.items() if k != "type"
            }
            np.testing.assert_array_equal(group["time"][()], time)


def test_sonata_end_to_end_matches_np_convolve(tmp_path, spikes):
    config = small_config(tmp_path)
    tensor, kernels = make_tensor(tmp_path, config)
    sonata = write_sonata(tmp_path / "spikes.h5", spikes)
    out = tmp_path / "signals.h5"
    result = run_main(["signals", config, "--kernels", tensor, "--spikes", sonata, "-o", out])
    assert result.returncode == 0, result.stderr
    assert "4800 bins" in result.stderr
    scales = {x: SIZES[x] / SIMULATED[x] for x in "EI"}
    check_output(out, spikes, kernels, scales)


def test_nest_spikes_section_and_fir_tensor(tmp_path, spikes):
    """spikes section (files relative to the config, scale from the node-id range) and an
    FIR tensor (lags dt..tau) padded to the symmetric layout."""
    folder = tmp_path / "cfg"
    folder.mkdir()
    write_nest3(folder / "spike_recorder-101-0.dat", {"E": spikes["E"]})
    write_nest3(folder / "spike_recorder-101-1.dat", {"I": spikes["I"]})

    def extra(data):
        data["spikes"] = {
            "format": "nest_ascii",
            "files": ["spike_recorder-*.dat"],
            "populations": {x: {"node_ids": list(NODE_IDS[x])} for x in "EI"},
        }
        data["signals"]["pathways"] = True

    config = small_config(folder, fir=True, extra=extra)
    tensor, kernels = make_tensor(tmp_path, config)
    assert kernels["lfp"].shape[-1] == int(TAU / DT)  # FIR: lags dt..tau
    out = tmp_path / "signals.h5"
    result = run_main(["signals", config, "--kernels", tensor, "-o", out])
    assert result.returncode == 0, result.stderr
    scales = {x: SIZES[x] / (NODE_IDS[x][1] - NODE_IDS[x][0] + 1) for x in "EI"}
    check_output(out, spikes, kernels, scales, fir=True)


def test_xarray_opens_groups_with_named_dims(tmp_path, spikes):
    import xarray as xr

    config = small_config(tmp_path)
    tensor, _ = make_tensor(tmp_path, config)
    sonata = write_sonata(tmp_path / "spikes.h5", spikes)
    out = tmp_path / "signals.h5"
    result = run_main(["signals", config, "--kernels", tensor, "--spikes", sonata, "-o", out])
    assert result.returncode == 0, result.stderr
    with xr.open_dataset(out, engine="h5netcdf", group="lfp") as ds:
        assert ds["total"].dims == ("channel", "time")
        assert ds["pathways"].dims == ("post", "pre", "channel", "time")
        assert list(ds["post"].values) == ["E", "I"] and list(ds["pre"].values) == ["E", "I"]
        assert ds.sizes == {"post": 2, "pre": 2, "channel": 13, "time": 4800}
        assert ds["total"].attrs["units"] == "mV"
        assert float(ds["time"][0]) == T_START and ds["time"].attrs["units"] == "ms"
        # a pathway selected by name sums with the others to the total
        summed = ds["pathways"].sum(dim=("post", "pre"))
        assert_close(summed.values, ds["total"].values)
        one = ds["pathways"].sel(post="E", pre="I")
        assert one.dims == ("channel", "time")
    with xr.open_dataset(out, engine="h5netcdf", group="rates") as ds:
        assert ds["counts"].dims == ("population", "time")
        assert list(ds["population"].values) == ["E", "I"]


def test_pathways_false_stores_total_only(tmp_path, spikes):
    def extra(data):
        data["signals"]["pathways"] = False

    config = small_config(tmp_path, extra=extra)
    tensor, kernels = make_tensor(tmp_path, config)
    sonata = write_sonata(tmp_path / "spikes.h5", spikes, simulated=None)
    out = tmp_path / "signals.h5"
    result = run_main(["signals", config, "--kernels", tensor, "--spikes", sonata, "-o", out])
    assert result.returncode == 0, result.stderr
    with h5py.File(out, "r") as fh:
        assert "pathways" not in fh["lfp"]
        # no simulated_size attribute and no network section: counts are not scaled
        ref = reference(spikes, kernels["lfp"], {"E": 1.0, "I": 1.0})
        assert_close(fh["lfp/total"][()], ref.sum(axis=(0, 1)))


# ---------------------------------------------------------------------------------------
# Input errors: one line, exit 2, no output file
# ---------------------------------------------------------------------------------------


def assert_bad_input(result, out, *fragments):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hpckernels: error:"), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert not out.exists()
    assert not list(out.parent.glob(f".{out.name}.tmp-*"))


def test_population_name_mismatch_lists_both_sets(tmp_path, spikes):
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as fh:
        fh["E"] = spikes["E"][0]
        fh["L4I"] = spikes["I"][0]

    def extra(data):
        data["spikes"] = {
            "format": "hdf5",
            "files": [str(plain)],
            "populations": {"E": {}, "L4I": {}},
        }

    config = small_config(tmp_path, extra=extra)
    tensor, _ = make_tensor(tmp_path, config)
    out = tmp_path / "signals.h5"
    result = run_main(["signals", config, "--kernels", tensor, "-o", out])
    assert_bad_input(result, out, "['E', 'L4I']", "['E', 'I']", str(plain), "L4I")


def test_missing_spike_file(tmp_path):
    config = small_config(tmp_path)
    tensor, _ = make_tensor(tmp_path, config)
    out = tmp_path / "signals.h5"
    missing = tmp_path / "nowhere" / "spikes.h5"
    result = run_main(["signals", config, "--kernels", tensor, "--spikes", missing, "-o", out])
    assert_bad_input(result, out, str(missing), "not found")


def test_malformed_nest_file_names_file_and_line(tmp_path, spikes):
    bad = write_nest3(tmp_path / "spike_recorder-101-0.dat", spikes)
    lines = bad.read_text().splitlines()
    lines[9] = "17\t12.5\t3"  # line 10: three columns
    bad.write_text("\n".join(lines) + "\n")

    def extra(data):
        data["spikes"] = {
            "format": "nest_ascii",
            "files": [bad.name],
            "populations": {x: {"node_ids": list(NODE_IDS[x])} for x in "EI"},
        }

    config = small_config(tmp_path, extra=extra)
    tensor, _ = make_tensor(tmp_path, config)
    out = tmp_path / "signals.h5"
    result = run_main(["signals", config, "--kernels", tensor, "-o", out])
    assert_bad_input(result, out, f"{bad}, line 10", "3")


def test_sonata_missing_population_and_not_hdf5(tmp_path, spikes):
    config = small_config(tmp_path)
    tensor, _ = make_tensor(tmp_path, config)
    out = tmp_path / "signals.h5"
    only_e = write_sonata(tmp_path / "only_e.h5", {"E": spikes["E"]}, {"E": 819})
    result = run_main(["signals", config, "--kernels", tensor, "--spikes", only_e, "-o", out])
    assert_bad_input(result, out, str(only_e), "['I']")
    text = tmp_path / "text.h5"
    text.write_text("not hdf5\n")
    result = run_main(["signals", config, "--kernels", tensor, "--spikes", text, "-o", out])
    assert_bad_input(result, out, str(text), "HDF5")


def test_missing_t_stop_and_kernels(tmp_path, spikes):
    def extra(data):
        del data["signals"]["t_stop"]

    config = small_config(tmp_path, extra=extra)
    tensor, _ = make_tensor(tmp_path, config)
    sonata = write_sonata(tmp_path / "spikes.h5", spikes)
    out = tmp_path / "signals.h5"
    result = run_main(["signals", config, "--kernels", tensor, "--spikes", sonata, "-o", out])
    assert_bad_input(result, out, "signals.t_stop", "required")
    config = small_config(tmp_path, name="ok.yaml")
    missing = tmp_path / "missing.h5"
    result = run_main(["signals", config, "--kernels", missing, "--spikes", sonata, "-o", out])
    assert_bad_input(result, out, str(missing), "not found")
    result = run_main(["signals", config, "--kernels", tensor, "-o", out])
    assert_bad_input(result, out, "--spikes", "required")


def test_seconds_warning(tmp_path, spikes):
    """Spike times stored as seconds under 'ms' units: all < 1 for a 300 ms... run is too
    short to judge, so stretch the run to 2 s."""

    def extra(data):
        data["signals"]["t_stop"] = 2020.0

    config = small_config(tmp_path, extra=extra)
    tensor, _ = make_tensor(tmp_path, config)
    sonata = write_sonata(tmp_path / "spikes.h5", spikes, factor=1e-3)
    out = tmp_path / "signals.h5"
    result = run_main(["signals", config, "--kernels", tensor, "--spikes", sonata, "-o", out])
    assert result.returncode == 0, result.stderr
    assert "hpckernels: warning:" in result.stderr and "seconds" in result.stderr
    assert str(sonata) in result.stderr


# ---------------------------------------------------------------------------------------
# Pure functions
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 997, 4800, 10_000])
def test_counts_chunked_equal_bin_spike_counts(spikes, chunk_size):
    times = {x: spikes[x][0] for x in "EI"}
    scales = {"E": 10.0, "I": 0.5}
    pieces = list(
        iter_population_counts(
            times, ["I", "E"], T_START, T_STOP, DT, scales=scales, chunk_size=chunk_size
        )
    )
    assert all(p.shape[1] == chunk_size for p in pieces[:-1])
    counts = np.concatenate(pieces, axis=1)
    for row, x in enumerate(["I", "E"]):
        expected = bin_spike_counts(times[x], T_START, T_STOP, DT) * scales[x]
        np.testing.assert_array_equal(counts[row], expected)
    np.testing.assert_array_equal(
        population_counts(times, ["I", "E"], T_START, T_STOP, DT, scales=scales), counts
    )


def test_window_helpers():
    assert bin_count(0.0, 1.0, 0.1) == 10
    assert bin_count(T_START, T_STOP, DT) == 4800
    with pytest.raises(ValueError, match="whole number"):
        bin_count(0.0, 1.03, 0.1)
    with pytest.raises(ValueError, match="exceed"):
        bin_count(5.0, 5.0, 0.1)
    np.testing.assert_allclose(time_axis(10.0, 0.5, 2, 5), [11.0, 11.5, 12.0])
    assert count_scale(8192, 819) == 8192 / 819 and count_scale(10, None) == 1.0
    for n_lags in (1, 65, 1601, 20001):
        nfft = default_chunk_size(n_lags) + n_lags - 1
        assert nfft >= 2**14 and nfft & (nfft - 1) == 0 and nfft >= 8 * (n_lags - 1)


def test_centered_kernel_layouts():
    k = np.arange(1.0, 5.0)[np.newaxis]  # lags dt..4dt (FIR)
    out = centered_kernel(k, DT * np.arange(1, 5), DT)
    np.testing.assert_array_equal(out, [[0, 0, 0, 0, 0, 1, 2, 3, 4]])
    sym = np.arange(9.0)
    np.testing.assert_array_equal(centered_kernel(sym, DT * np.arange(-4, 5), DT), sym)
    with pytest.raises(ValueError, match="multiples"):
        centered_kernel(sym, DT * (np.arange(-4, 5) + 0.5), DT)
    with pytest.raises(ValueError, match="lags"):
        centered_kernel(sym, DT * np.arange(5), DT)


def test_fir_kernel_is_causal():
    """A spike in bin n0 with an FIR kernel at lag dt only shows up at n0 + 1."""
    counts = np.zeros((1, 50))
    counts[0, 20] = 1.0
    fir = np.zeros((1, 1, 1, 5))
    fir[..., 0] = 1.0  # lag dt
    kernel = centered_kernel(fir, DT * np.arange(1, 6), DT)
    total = compute_signals(counts, {"p": kernel}, chunk_size=7).total["p"]
    np.testing.assert_allclose(total[0], np.eye(50)[21], atol=1e-14)


def test_probes_of_different_lengths_and_lazy_streaming(spikes):
    """Two probes with different lag counts in one pass; output blocks appear before the
    input is exhausted; results equal the single-probe convolution."""
    rng = np.random.default_rng(3)
    kernels = {"a": rng.normal(size=(2, 2, 3, 41)), "b": rng.normal(size=(2, 2, 2, 9))}
    times = {x: spikes[x][0] for x in "EI"}
    consumed = []

    def pieces():
        for piece in iter_population_counts(
            times, ["E", "I"], T_START, T_STOP, DT, chunk_size=100
        ):
            consumed.append(piece.shape[1])
            yield piece

    blocks = iter_signals(pieces(), kernels, chunk_size=500, pathways=True)
    first = next(blocks)
    assert first.start == 0 and first.size == 500
    assert sum(consumed) < 4800 / 2
    rest = list(blocks)
    counts = population_counts(times, ["E", "I"], T_START, T_STOP, DT)
    for name, kernel in kernels.items():
        per = np.concatenate([b.pathways[name] for b in [first, *rest]], axis=-1)
        total = np.concatenate([b.total[name] for b in [first, *rest]], axis=-1)
        ref = np.array(
            [
                [
                    [
                        np.convolve(counts[x], kernel[y, x, c], "same")
                        for c in range(kernel.shape[2])
                    ]
                    for x in range(2)
                ]
                for y in range(2)
            ]
        )
        assert_close(per, ref)
        assert_close(total, ref.sum(axis=(0, 1)))
    streamed = np.concatenate([b.total["b"] for b in [first, *rest]], axis=-1)
    totals = compute_signals(counts, kernels, chunk_size=333, pathways=False)
    assert totals.pathways is None
    assert_close(totals.total["b"], streamed)
    pieces_in = (counts[:, a : a + 250] for a in range(0, counts.shape[1], 250))
    assert_close(compute_signals(pieces_in, kernels).total["b"], streamed)


@pytest.mark.parametrize("t_start", [0.0, 1.0, T_START])
def test_window_signals_include_spikes_within_reach(spikes, t_start):
    """Spikes up to tau before t_start (not before 0 ms) and after t_stop contribute."""
    rng = np.random.default_rng(5)
    kernels = {"a": rng.normal(size=(2, 2, 3, 2 * int(TAU / DT) + 1))}
    times = {x: spikes[x][0] for x in "EI"}
    scales = {"E": 3.0, "I": 0.25}
    t_stop = 100.0
    blocks = list(
        iter_window_signals(
            times, ["E", "I"], kernels, t_start, t_stop, DT, scales=scales, chunk_size=211
        )
    )
    assert blocks[0].start == 0
    assert sum(b.size for b in blocks) == bin_count(t_start, t_stop, DT)
    per = np.concatenate([b.pathways["a"] for b in blocks], axis=-1)
    ref = reference(spikes, kernels["a"], scales, t_start=t_start, t_stop=t_stop)
    assert_close(per, ref)
    assert_close(np.concatenate([b.total["a"] for b in blocks], axis=-1), ref.sum(axis=(0, 1)))
