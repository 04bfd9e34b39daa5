"""Spike readers (round trips through real file layouts), input errors and binning."""

import functools
import warnings

import h5py
import numpy as np
import pytest

from hpckernels.binning import bin_spike_counts
from hpckernels.errors import InputError
from hpckernels.io.spikes import (
    SpikeInputError,
    SpikeUnitsWarning,
    check_population_names,
    read_spike_times,
)

pytestmark = pytest.mark.unit


def reader(format):
    """read_spike_times for one format of the config."""
    return functools.partial(read_spike_times, format=format)


read_nest3_ascii = reader("nest_ascii")
read_nest2_gdf = reader("nest_gdf")
read_sonata = reader("sonata")
read_plain_hdf5 = reader("hdf5")
read_plain_npz = reader("npz")

T_STOP = 1000.0  # ms
RANGES = {"E": (1, 80), "I": (81, 100)}


@pytest.fixture(scope="module")
def spikes():
    """(senders, times) of 100 neurons firing in [0, T_STOP] ms, times on a 0.001 ms grid."""
    rng = np.random.default_rng(7)
    n = 3000
    senders = rng.integers(1, 101, size=n)
    times = np.round(rng.uniform(0.0, T_STOP, size=n), 3)
    times[:2] = [0.0, T_STOP]  # both ends of the closed interval are allowed
    return senders, times


def expected(senders, times, ranges=RANGES):
    return {
        name: np.sort(times[(senders >= lo) & (senders <= hi)])
        for name, (lo, hi) in ranges.items()
    }


def assert_same(result, reference):
    assert list(result) == list(reference)
    for name in reference:
        assert result[name].dtype == np.float64
        np.testing.assert_array_equal(result[name], reference[name])


def write_nest3(path, senders, times, version="3.6.0"):
    """Write a file exactly as NEST 3's RecordingBackendASCII does (precision 3)."""
    with open(path, "w") as fh:
        fh.write(f"# NEST version: {version}\n# RecordingBackendASCII version: 2\n")
        fh.write("sender\ttime_ms\n")
        for s, t in zip(senders, times, strict=True):
            fh.write(f"{s}\t{t:.3f}\n")


def write_gdf(path, senders, times):
    """NEST 2 spike_detector output: every value followed by a tab."""
    with open(path, "w") as fh:
        for s, t in zip(senders, times, strict=True):
            fh.write(f"{s}\t{t:.3f}\t\n")


def nest3_two_vps(tmp_path, senders, times):
    """Two virtual processes of device 101, each holding the spikes of its neurons."""
    paths = []
    for vp in (0, 1):
        mine = senders % 2 == vp  # NEST assigns neurons to VPs round-robin
        path = tmp_path / f"spike_recorder-101-{vp}.dat"
        write_nest3(path, senders[mine], times[mine])
        paths.append(path)
    return paths


# ---------------------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------------------


def test_nest3_ascii_two_vps_glob_and_list(tmp_path, spikes):
    senders, times = spikes
    paths = nest3_two_vps(tmp_path, senders, times)
    assert (
        paths[0]
        .read_text()
        .startswith("# NEST version: 3.6.0\n# RecordingBackendASCII version: 2\nsender\ttime_ms\n")
    )
    ref = expected(senders, times)
    by_glob = read_nest3_ascii(
        str(tmp_path / "spike_recorder-101-*.dat"), RANGES, t_start=0.0, t_stop=T_STOP
    )
    assert_same(by_glob, ref)
    assert_same(read_nest3_ascii(paths, RANGES), ref)
    assert_same(read_spike_times(paths, RANGES, t_start=0.0, t_stop=T_STOP), ref)


def test_nest3_ignores_unmapped_senders_and_keeps_mapping_order(tmp_path, spikes):
    senders, times = spikes
    paths = nest3_two_vps(tmp_path, senders, times)
    ranges = {"I": (81, 100), "E_part": (10, 19)}
    assert_same(read_nest3_ascii(paths, ranges), expected(senders, times, ranges))


def test_nest3_header_only_file_has_no_spikes(tmp_path):
    path = tmp_path / "spike_recorder-101-0.dat"
    write_nest3(path, [], [])
    result = read_nest3_ascii(path, RANGES, t_start=0.0, t_stop=T_STOP)
    assert all(r.size == 0 and r.dtype == np.float64 for r in result.values())


def test_nest2_gdf(tmp_path, spikes):
    senders, times = spikes
    paths = [tmp_path / "spikes-101-0.gdf", tmp_path / "spikes-101-1.gdf"]
    write_gdf(paths[0], senders[:1000], times[:1000])
    write_gdf(paths[1], senders[1000:], times[1000:])
    ref = expected(senders, times)
    assert_same(read_nest2_gdf(str(tmp_path / "*.gdf"), RANGES, t_start=0, t_stop=T_STOP), ref)
    assert_same(read_spike_times(paths, RANGES), ref)


def write_sonata(path, pops, units="ms"):
    with h5py.File(path, "w") as h5:
        group = h5.create_group("spikes")
        for name, (node_ids, times) in pops.items():
            pop = group.create_group(name)
            pop.attrs["sorting"] = "by_time"
            order = np.argsort(times, kind="stable")
            ts = pop.create_dataset("timestamps", data=times[order])
            if units is not None:
                ts.attrs["units"] = units
            pop.create_dataset("node_ids", data=node_ids[order].astype(np.uint64))


def test_sonata(tmp_path, spikes):
    senders, times = spikes
    node_ids = senders - 1  # SONATA node ids start at 0 within each population
    thal_ids, thal_times = np.array([0, 1, 1]), np.array([5.0, 2.5, 900.0])
    path = tmp_path / "spikes.h5"
    write_sonata(path, {"cortex": (node_ids, times), "thalamus": (thal_ids, thal_times)})
    mapping = {"E": ("cortex", 0, 79), "I": ("cortex", 80, 99), "TC": "thalamus"}
    result = read_sonata(path, mapping, t_start=0.0, t_stop=T_STOP)
    ref = expected(senders, times)
    assert_same(result, {"E": ref["E"], "I": ref["I"], "TC": np.sort(thal_times)})
    everything = read_spike_times(path)  # auto-detected SONATA, own population names
    assert list(everything) == ["cortex", "thalamus"]
    np.testing.assert_array_equal(everything["cortex"], np.sort(times))


def test_sonata_seconds_units_are_converted(tmp_path):
    path = tmp_path / "spikes.h5"
    write_sonata(path, {"pop": (np.array([0, 1]), np.array([0.25, 0.5]))}, units="s")
    np.testing.assert_array_equal(read_sonata(path)["pop"], [250.0, 500.0])


def test_sonata_without_units_and_bad_units(tmp_path):
    path = tmp_path / "spikes.h5"
    write_sonata(path, {"pop": (np.array([0]), np.array([3.0]))}, units=None)
    np.testing.assert_array_equal(read_sonata(path)["pop"], [3.0])
    write_sonata(path, {"pop": (np.array([0]), np.array([3.0]))}, units="fortnights")
    with pytest.raises(SpikeInputError, match="unsupported time units 'fortnights'"):
        read_sonata(path)


def test_sonata_unknown_population_lists_available(tmp_path):
    path = tmp_path / "spikes.h5"
    write_sonata(path, {"cortex": (np.array([0]), np.array([1.0]))})
    with pytest.raises(SpikeInputError, match=r"\['V1'\] not found.*\['cortex'\]"):
        read_sonata(path, {"E": "V1"})


def test_sonata_out_of_range_names_file(tmp_path):
    path = tmp_path / "spikes.h5"
    write_sonata(path, {"cortex": (np.array([0, 1]), np.array([1.0, 1500.0]))})
    with pytest.raises(SpikeInputError, match=r"spikes\.h5.*1500.*outside \[0, 1000\] ms"):
        read_sonata(path, t_start=0.0, t_stop=T_STOP)


def test_plain_hdf5_and_npz(tmp_path, spikes):
    _, times = spikes
    pops = {"E": times[:2000], "I": times[2000:]}
    h5_path, npz_path = tmp_path / "spikes.hdf5", tmp_path / "spikes.npz"
    with h5py.File(h5_path, "w") as h5:
        for name, t in pops.items():
            h5[name] = t
    np.savez(npz_path, **pops)
    ref = {name: np.sort(t) for name, t in pops.items()}
    for reader, path in ((read_plain_hdf5, h5_path), (read_plain_npz, npz_path)):
        assert_same(reader(path, t_start=0.0, t_stop=T_STOP), ref)
        assert_same(reader(path, ["I"]), {"I": ref["I"]})
        assert_same(read_spike_times(path), ref)
        with pytest.raises(SpikeInputError, match=r"\['X'\] not found.*\['E', 'I'\]"):
            reader(path, ["E", "X"])
        with pytest.raises(SpikeInputError, match=path.name):
            reader(path, t_start=0.0, t_stop=500.0)


def test_plain_layout_rejects_non_1d(tmp_path):
    path = tmp_path / "spikes.npz"
    np.savez(path, E=np.zeros((2, 3)))
    with pytest.raises(SpikeInputError, match="1-D numeric"):
        read_plain_npz(path)


# ---------------------------------------------------------------------------------------
# Malformed input
# ---------------------------------------------------------------------------------------


def test_missing_files(tmp_path):
    with pytest.raises(SpikeInputError, match="nope-0.dat: file not found"):
        read_nest3_ascii(tmp_path / "nope-0.dat", RANGES)
    with pytest.raises(SpikeInputError, match="no file matches"):
        read_nest3_ascii(str(tmp_path / "nope-*.dat"), RANGES)
    for read in (read_sonata, read_plain_hdf5, read_plain_npz):
        with pytest.raises(InputError, match="file not found"):
            read(tmp_path / "missing.h5")


def nest3_with_body(tmp_path, body):
    path = tmp_path / "spike_recorder-101-0.dat"
    path.write_text(
        "# NEST version: 3.6.0\n# RecordingBackendASCII version: 2\nsender\ttime_ms\n"
        "12\t0.800\n13\t1.100\n" + body
    )
    return path


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("14\t2.300\n15\t", r"line 7: expected 2 columns .* found 1 \(truncated line\?\)"),
        ("14\t2.300\n1", r"line 7: expected 2 columns .* found 1"),
        ("14\t2.300\t7\n", r"line 6: expected 2 columns .* found 3"),
        ("14\t2.x00\n", r"line 6: non-numeric value"),
        ("abc\t2.300\n", r"line 6: non-numeric value"),
        ("14.5\t2.300\n", r"line 6: sender '14.5' is not a non-negative integer"),
        ("14\tnan\n", r"line 6: spike time 'nan' is not a finite number"),
        ("14\t2.300\n15\t1000.500\n", r"line 7: spike time 1000.500 ms is outside \[0, 1000\]"),
        ("14\t-0.100\n", r"line 6: spike time -0.100 ms is outside"),
    ],
)
def test_nest3_malformed_rows(tmp_path, body, message):
    path = nest3_with_body(tmp_path, body)
    with pytest.raises(SpikeInputError, match=message) as info:
        read_nest3_ascii(path, RANGES, t_start=0.0, t_stop=T_STOP)
    assert str(info.value).startswith(f"{path}, line ")


def test_nest3_all_rows_with_wrong_column_count(tmp_path):
    path = tmp_path / "spike_recorder-101-0.dat"
    path.write_text("# NEST version: 3.6.0\nsender\ttime_ms\n1\t2.0\t3\n4\t5.0\t6\n")
    with pytest.raises(SpikeInputError, match="line 3: expected 2 columns"):
        read_nest3_ascii(path, RANGES)


def test_nest3_bad_headers(tmp_path):
    path = tmp_path / "x-1-0.dat"
    path.write_text("# NEST version: 3.6.0\n# RecordingBackendASCII version: 2\n")
    with pytest.raises(SpikeInputError, match="no 'sender<TAB>time_ms' column line"):
        read_nest3_ascii(path, RANGES)
    path.write_text("12\t3.0\n")
    with pytest.raises(SpikeInputError, match=r"line 1: .*NEST 2 \.gdf"):
        read_nest3_ascii(path, RANGES)
    path.write_text("# NEST version: 3.6.0\nsender\ttime_step\ttime_offset\n12\t30\t0.0\n")
    with pytest.raises(SpikeInputError, match="line 2: time_in_steps=True"):
        read_nest3_ascii(path, RANGES)


def test_gdf_errors_name_file_and_line(tmp_path):
    path = tmp_path / "spikes-101-0.gdf"
    path.write_text("12\t0.800\t\n13\t1.100\t\n14\n")
    with pytest.raises(SpikeInputError, match=r"spikes-101-0\.gdf, line 3: expected 2"):
        read_nest2_gdf(path, RANGES)
    path.write_text("12\t0.800\t\n13\t1200.000\t\n")
    with pytest.raises(SpikeInputError, match=r"line 2: spike time 1200\.000 ms is outside"):
        read_nest2_gdf(path, RANGES, t_stop=T_STOP)


def test_bad_population_ranges(tmp_path):
    files = [tmp_path / "spike_recorder-1-0.dat"]  # ranges are checked before files
    with pytest.raises(SpikeInputError, match="overlap"):
        read_nest3_ascii(files, {"E": (1, 80), "I": (80, 100)})
    with pytest.raises(SpikeInputError, match="first node id 9 > last 3"):
        read_nest3_ascii(files, {"E": (9, 3)})


def test_not_hdf5(tmp_path):
    path = tmp_path / "spikes.h5"
    path.write_text("not hdf5")
    with pytest.raises(InputError, match="cannot open as HDF5"):
        read_spike_times(path)


def test_unknown_suffix(tmp_path):
    path = tmp_path / "spikes.txt"
    path.write_text("")
    with pytest.raises(SpikeInputError, match="give the format"):
        read_spike_times(path, RANGES)


# ---------------------------------------------------------------------------------------
# Units and population names
# ---------------------------------------------------------------------------------------


def test_seconds_instead_of_ms_warns_naming_file(tmp_path, spikes):
    senders, times = spikes
    path = tmp_path / "spike_recorder-101-0.dat"
    write_nest3(path, senders, times / T_STOP)  # all below 1 although the run lasts 10 s
    with pytest.warns(SpikeUnitsWarning, match="spike_recorder-101-0.dat.*seconds"):
        read_nest3_ascii(path, RANGES, t_start=0.0, t_stop=10_000.0)
    npz = tmp_path / "spikes.npz"
    np.savez(npz, E=times / 100.0)  # seconds of a 10 s run: all <= 10
    with pytest.warns(SpikeUnitsWarning, match="spikes.npz"):
        read_plain_npz(npz, t_start=0.0, t_stop=10_000.0)


def test_ms_input_does_not_warn(tmp_path, spikes):
    senders, times = spikes
    path = tmp_path / "spike_recorder-101-0.dat"
    write_nest3(path, senders, times)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_nest3_ascii(path, RANGES, t_start=0.0, t_stop=T_STOP)
        # Few spikes early in a long run are plausible in ms.
        write_nest3(path, [1, 2], [0.2, 0.7])
        read_nest3_ascii(path, RANGES, t_start=0.0, t_stop=10_000.0)


def test_population_name_mismatch_lists_both_sets():
    check_population_names(["E", "I"], {"I", "E"})
    check_population_names(["E", "I", "TC"], ["E", "I"], allow_extra=True)
    with pytest.raises(SpikeInputError) as info:
        check_population_names(["E", "X"], ["E", "I"])
    message = str(info.value)
    assert "['E', 'X']" in message and "['E', 'I']" in message
    assert "missing from spike data: ['I']" in message
    assert "not in kernels: ['X']" in message
    with pytest.raises(SpikeInputError, match="missing from spike data: \\['I'\\]"):
        check_population_names(["E"], ["E", "I"], allow_extra=True)


# ---------------------------------------------------------------------------------------
# Binning
# ---------------------------------------------------------------------------------------


def test_bin_edges_are_half_open():
    dt = 0.25
    times = [
        0.0,  # t_start: bin 0
        0.24,  # below the first interior edge (by more than the 2 % snap): bin 0
        0.25,  # on an interior edge: bin 1
        0.97,  # last bin
        1.0,  # t_stop: excluded
        -0.01,  # before t_start: excluded
        7.0,  # after t_stop: excluded
    ]
    counts = bin_spike_counts(times, 0.0, 1.0, dt)
    np.testing.assert_array_equal(counts, [2, 1, 0, 1])
    assert counts.dtype == np.int64


def test_bin_nest_three_decimal_times_land_on_their_grid_bin():
    # NEST's ASCII backend writes 3 decimals: 12.0625 ms becomes 12.062 ms at dt = 1/16 ms
    dt = 1 / 16
    on_grid = np.arange(1, 200) * dt
    written = np.round(on_grid, 3)
    np.testing.assert_array_equal(
        bin_spike_counts(written, 0.0, 20.0, dt), bin_spike_counts(on_grid, 0.0, 20.0, dt)
    )


def test_bin_decimal_times_land_on_their_edge():
    # 0.3 / 0.1 == 2.9999999999999996 in floating point; 0.3 still belongs to bin 3.
    counts = bin_spike_counts([0.3, 0.7, 0.29], 0.0, 1.0, 0.1)
    np.testing.assert_array_equal(counts, [0, 0, 1, 1, 0, 0, 0, 1, 0, 0])


def test_bin_with_offset_start_float_output_and_totals(spikes):
    _, times = spikes
    counts = bin_spike_counts(times, 100.0, 900.0, 1 / 16, dtype=np.float64)
    assert counts.shape == (12800,) and counts.dtype == np.float64
    # the rule: a time within 2 % of a bin below an edge counts as on the edge
    snapped = times + 0.02 / 16
    assert counts.sum() == np.count_nonzero((snapped >= 100.0) & (snapped < 900.0))
    reference, _ = np.histogram(snapped, bins=100.0 + np.arange(12801) / 16)
    # np.histogram closes its last bin on the right; ours is half-open.
    reference[-1] -= np.count_nonzero(snapped == 900.0)
    np.testing.assert_array_equal(counts, reference)


def test_bin_argument_errors():
    with pytest.raises(ValueError, match="whole number of bins"):
        bin_spike_counts([], 0.0, 1.0, 0.3)
    with pytest.raises(ValueError, match="dt must be > 0"):
        bin_spike_counts([], 0.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="must exceed"):
        bin_spike_counts([], 1.0, 1.0, 0.1)
