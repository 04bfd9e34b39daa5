"""Spike-time readers and spike-count binning.

Readers return spike times in ms as sorted float64 1-D arrays, one per population,
in a ``dict`` ordered like the population mapping they were given.

Supported layouts
-----------------
NEST 3 ASCII (``.dat``)
    Output of NEST 3's ``RecordingBackendASCII`` for a ``spike_recorder`` with
    ``time_in_steps=False``: one file per device and virtual process
    (``<label>-<node id>-<vp>.dat``), each starting with ``#`` header lines
    (``# NEST version: ...``, ``# RecordingBackendASCII version: 2``), then the
    column-name line ``sender<TAB>time_ms``, then one row ``sender<TAB>time`` per spike.
NEST 2 GDF (``.gdf``)
    No header; whitespace-separated columns ``sender time`` (NEST 2 ends each value
    with a tab, so lines may carry trailing whitespace).
SONATA spikes (HDF5)
    ``/spikes/<population>/timestamps`` (ms; attribute ``units`` is ``'ms'`` when
    present, ``'s'`` is converted) and ``/spikes/<population>/node_ids``.
Plain HDF5 / NPZ
    One 1-D dataset (HDF5, at the file's root) or array (NPZ) of spike times in ms per
    population, named after the population. HDF5 datasets may carry a ``units``
    attribute like SONATA timestamps.

Every problem with the input raises :class:`SpikeInputError`; its message names the
file and, for text formats, the 1-based line number.
"""

from __future__ import annotations

import glob
import math
import os
import warnings
from pathlib import Path

import numpy as np

from hpckernels.errors import InputError

__all__ = [
    "SpikeInputError",
    "SpikeUnitsWarning",
    "bin_spike_counts",
    "check_population_names",
    "read_nest2_gdf",
    "read_nest3_ascii",
    "read_plain_hdf5",
    "read_plain_npz",
    "read_sonata",
    "read_spike_times",
]

# A recording at least this long (ms) whose spikes all fall within its first
# t_stop / 1000 ms almost certainly stores seconds instead of ms.
_UNIT_CHECK_MIN_RUN_MS = 1000.0
# Too few spikes say nothing about units: a sparse population may well fire early only.
_UNIT_CHECK_MIN_SPIKES = 10
# Relative tolerance for "a whole number of bins".
_EDGE_TOL = 1e-6
# Spike times this fraction of a bin below an edge are counted in the bin starting at
# that edge: decimal times (0.3 ms with dt = 0.1 ms) land where they read, and so do
# on-grid times that NEST's ASCII backend rounds to 3 decimals by default (12.0625 ms
# written as 12.062 ms at dt = 1/16 ms: 0.8 % of a bin early).
_SNAP_TOL = 0.02
_UNIT_SCALE_TO_MS = {
    "ms": 1.0,
    "millisecond": 1.0,
    "milliseconds": 1.0,
    "s": 1000.0,
    "second": 1000.0,
    "seconds": 1000.0,
}
_NEST3_COLUMNS = ("sender", "time_ms")


class SpikeInputError(InputError):
    """Missing, malformed or inconsistent spike input.

    Parameters
    ----------
    path : str or os.PathLike
        The file at fault (or a short description of the input when not a file).
    message : str
        What is wrong.
    line : int, optional
        1-based line number within a text file.
    """

    def __init__(self, path, message, line=None):
        where = str(path) if line is None else f"{path}, line {line}"
        self.path = str(path)
        self.line = line
        super().__init__(where, message)


class SpikeUnitsWarning(UserWarning):
    """Spike times that look like seconds although ms are expected."""


# ---------------------------------------------------------------------------------------
# Population mappings
# ---------------------------------------------------------------------------------------


def _node_range(path, name, spec):
    """Validate an inclusive ``(first, last)`` node-id range."""
    try:
        first, last = (int(v) for v in spec)
    except (TypeError, ValueError):
        raise SpikeInputError(
            path, f"population {name!r}: node-id range must be (first, last), got {spec!r}"
        ) from None
    if first > last:
        raise SpikeInputError(path, f"population {name!r}: first node id {first} > last {last}")
    return first, last


def _check_disjoint(path, ranges):
    """Overlapping ranges would count a neuron's spikes twice."""
    ordered = sorted((r, name) for name, r in ranges.items())
    for (r0, n0), (r1, n1) in zip(ordered, ordered[1:], strict=False):
        if r1[0] <= r0[1]:
            raise SpikeInputError(
                path, f"node-id ranges of populations {n0!r} {r0} and {n1!r} {r1} overlap"
            )


def _split_by_ranges(senders, times, ranges):
    """Spike times per population; senders outside every range are ignored."""
    return {
        name: times[(senders >= first) & (senders <= last)]
        for name, (first, last) in ranges.items()
    }


# ---------------------------------------------------------------------------------------
# Checks shared by all readers
# ---------------------------------------------------------------------------------------


def _warn_if_seconds(path, times, t_start, t_stop):
    """Warn when ``times`` (ms expected) look like seconds.

    Needs ``t_stop``: only the length of the run tells seconds from early spikes.
    """
    if t_stop is None or times.size < _UNIT_CHECK_MIN_SPIKES:
        return
    start = 0.0 if t_start is None else t_start
    if t_stop - start < _UNIT_CHECK_MIN_RUN_MS:
        return
    # In seconds, a run ending at t_stop ms ends at t_stop / 1000.
    if np.max(times) <= max(t_stop / 1000.0, 1.0):
        warnings.warn(
            f"{path}: all {times.size} spike times are <= {np.max(times):g} although the run "
            f"spans [{start:g}, {t_stop:g}] ms; are they in seconds instead of ms?",
            SpikeUnitsWarning,
            stacklevel=3,
        )


def _out_of_range(times, t_start, t_stop):
    """Boolean mask of times outside the closed interval [t_start, t_stop]."""
    bad = ~np.isfinite(times)
    if t_start is not None:
        bad |= times < t_start
    if t_stop is not None:
        bad |= times > t_stop
    return bad


def _range_text(t_start, t_stop):
    lo = "-inf" if t_start is None else f"{t_start:g}"
    hi = "inf" if t_stop is None else f"{t_stop:g}"
    return f"[{lo}, {hi}] ms"


def _check_times(path, times, t_start, t_stop, what="spike time"):
    """Raise for non-finite or out-of-range times of a binary file (index in message)."""
    bad = _out_of_range(times, t_start, t_stop)
    if bad.any():
        i = int(np.argmax(bad))
        raise SpikeInputError(
            path,
            f"{what} {times[i]!r} at index {i} is outside {_range_text(t_start, t_stop)}"
            f" ({int(bad.sum())} such spikes)",
        )


# ---------------------------------------------------------------------------------------
# Text formats (NEST 3 ASCII, NEST 2 GDF)
# ---------------------------------------------------------------------------------------


def _expand_files(files):
    """A glob pattern, one path, or a sequence of paths -> sorted list of paths."""
    if isinstance(files, str | os.PathLike):
        pattern = os.fspath(files)
        if glob.has_magic(pattern):
            matches = sorted(glob.glob(pattern))
            if not matches:
                raise SpikeInputError(pattern, "no file matches this pattern")
            return [Path(m) for m in matches]
        return [Path(pattern)]
    paths = [Path(f) for f in files]
    if not paths:
        raise SpikeInputError("<spike files>", "empty list of spike files")
    return paths


def _require_file(path):
    if not Path(path).is_file():
        raise SpikeInputError(path, "file not found")


def _read_nest3_header(path, fh):
    """Consume the ``#`` lines and the column-name line; return lines consumed."""
    n = 0
    for raw in iter(fh.readline, ""):
        n += 1
        line = raw.strip()
        if line.startswith("#"):
            continue
        columns = tuple(line.split())
        if columns == _NEST3_COLUMNS:
            return n
        if columns == ("sender", "time_step", "time_offset"):
            raise SpikeInputError(
                path,
                "time_in_steps=True output is not supported; record with "
                "time_in_steps=False (columns sender, time_ms)",
                line=n,
            )
        hint = ""
        if len(columns) == 2 and all(_is_number(c) for c in columns):
            hint = " (a header-less NEST 2 .gdf file? use read_nest2_gdf)"
        raise SpikeInputError(
            path,
            f"expected the NEST 3 column line 'sender<TAB>time_ms', got {line!r}{hint}",
            line=n,
        )
    raise SpikeInputError(path, "no 'sender<TAB>time_ms' column line: truncated NEST 3 file?")


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _locate_bad_row(path, skip_lines, t_start, t_stop):
    """Slow, line-by-line scan that explains why the fast parser rejected a file.

    Returns only if every row is fine.
    """
    expected = "2 columns (sender, time)"
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if lineno <= skip_lines:
                continue
            fields = raw.split()
            if not fields or fields[0].startswith("#"):
                continue
            if len(fields) != 2:
                truncated = " (truncated line?)" if len(fields) < 2 else ""
                raise SpikeInputError(
                    path,
                    f"expected {expected}, found {len(fields)}{truncated}: {raw.rstrip()!r}",
                    line=lineno,
                )
            try:
                sender = float(fields[0])
                time = float(fields[1])
            except ValueError:
                raise SpikeInputError(
                    path, f"non-numeric value in row {raw.rstrip()!r}", line=lineno
                ) from None
            if not (math.isfinite(sender) and sender == int(sender) and sender >= 0):
                raise SpikeInputError(
                    path,
                    f"sender {fields[0]!r} is not a non-negative integer node id",
                    line=lineno,
                )
            if not math.isfinite(time):
                raise SpikeInputError(
                    path, f"spike time {fields[1]!r} is not a finite number", line=lineno
                )
            if _out_of_range(np.array([time]), t_start, t_stop)[0]:
                raise SpikeInputError(
                    path,
                    f"spike time {fields[1]} ms is outside {_range_text(t_start, t_stop)}",
                    line=lineno,
                )


def _load_rows(path, fh, skip_lines, t_start, t_stop):
    """Parse the remaining ``sender time`` rows of an open text file.

    The C parser of :func:`numpy.loadtxt` handles the common, valid case fast; on any
    problem the file is rescanned line by line to report the exact line.
    """
    try:
        with warnings.catch_warnings():
            # An empty body is a valid recording without spikes.
            warnings.filterwarnings("ignore", "loadtxt: input contained no data")
            rows = np.loadtxt(fh, dtype=np.float64, comments="#", ndmin=2)
    except ValueError as err:
        _locate_bad_row(path, skip_lines, t_start, t_stop)
        raise SpikeInputError(path, f"cannot parse spike rows: {err}") from None
    if rows.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.float64)
    senders, times = (rows[:, 0], rows[:, 1]) if rows.shape[1] == 2 else (None, None)
    if (
        senders is None
        or np.any(senders != np.floor(senders))
        or np.any(senders < 0)
        or _out_of_range(times, t_start, t_stop).any()
    ):
        _locate_bad_row(path, skip_lines, t_start, t_stop)
        raise SpikeInputError(path, "invalid spike rows")
    return senders.astype(np.int64), times


def _read_text_files(files, populations, t_start, t_stop, nest3):
    ranges = {name: _node_range("populations", name, spec) for name, spec in populations.items()}
    _check_disjoint("populations", ranges)
    paths = _expand_files(files)
    parts = {name: [] for name in ranges}
    for path in paths:
        _require_file(path)
        with open(path, encoding="utf-8", errors="replace") as fh:
            skip = _read_nest3_header(path, fh) if nest3 else 0
            senders, times = _load_rows(path, fh, skip, t_start, t_stop)
        _warn_if_seconds(path, times, t_start, t_stop)
        for name, selected in _split_by_ranges(senders, times, ranges).items():
            parts[name].append(selected)
    return {name: np.sort(np.concatenate(p)) for name, p in parts.items()}


def read_nest3_ascii(files, populations, *, t_start=None, t_stop=None):
    """Read spike times from NEST 3 ASCII-backend ``spike_recorder`` files.

    Parameters
    ----------
    files : str, os.PathLike or sequence of them
        One file, a glob pattern (e.g. ``"out/spike_recorder-*.dat"``, one file per
        device and virtual process) or a list of files.
    populations : mapping of str to (int, int)
        Population name -> inclusive ``(first, last)`` node-id range. Ranges must not
        overlap; spikes of senders outside every range are ignored.
    t_start, t_stop : float, optional
        Run interval (ms). When given, every spike time must lie in
        ``[t_start, t_stop]``; with ``t_stop`` given, times that look like seconds
        trigger a :class:`SpikeUnitsWarning`.

    Returns
    -------
    dict of str to numpy.ndarray
        Sorted spike times (ms, float64) per population, in the order of ``populations``.

    Raises
    ------
    SpikeInputError
        Missing file, bad header, malformed row (wrong column count, non-numeric,
        non-integer sender) or out-of-range time; the message names file and line.
    """
    return _read_text_files(files, populations, t_start, t_stop, nest3=True)


def read_nest2_gdf(files, populations, *, t_start=None, t_stop=None):
    """Read spike times from NEST 2 ``.gdf`` files (columns ``sender time``, no header).

    Parameters and return value are those of :func:`read_nest3_ascii`.
    """
    return _read_text_files(files, populations, t_start, t_stop, nest3=False)


# ---------------------------------------------------------------------------------------
# HDF5 / NPZ formats
# ---------------------------------------------------------------------------------------


def _open_hdf5(path):
    import h5py  # imported lazily: text-format users need not have h5py

    _require_file(path)
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise SpikeInputError(path, f"cannot open as HDF5: {err}") from None


def _units_scale(path, dataset):
    units = dataset.attrs.get("units")
    if units is None:
        return 1.0
    if isinstance(units, np.ndarray):  # h5py gives arrays for array-valued attributes
        units = units.ravel()[0] if units.size else ""
    if isinstance(units, bytes):  # fixed-length HDF5 strings
        units = units.decode()
    units = str(units)
    scale = _UNIT_SCALE_TO_MS.get(units.strip().lower())
    if scale is None:
        raise SpikeInputError(path, f"{dataset.name}: unsupported time units {units!r}")
    return scale


def _as_times(path, name, array):
    array = np.asarray(array)
    if array.ndim != 1 or not (
        np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)
    ):
        raise SpikeInputError(
            path,
            f"{name}: expected a 1-D numeric array of spike times, got dtype "
            f"{array.dtype} and shape {array.shape}",
        )
    return array.astype(np.float64)


def _missing_names(path, wanted, available, kind):
    missing = [w for w in wanted if w not in available]
    if missing:
        raise SpikeInputError(
            path, f"{kind} {sorted(missing)} not found; the file has {sorted(available)}"
        )


def read_sonata(path, populations=None, *, t_start=None, t_stop=None):
    """Read spike times from a SONATA spikes HDF5 file.

    Parameters
    ----------
    path : str or os.PathLike
        HDF5 file with ``/spikes/<population>/timestamps`` (ms) and ``node_ids``.
    populations : mapping, optional
        Population name -> either a SONATA population name (all its nodes) or a tuple
        ``(sonata_population, first, last)`` selecting the inclusive node-id range
        within it. Default: every SONATA population under its own name.
    t_start, t_stop : float, optional
        Run interval (ms), see :func:`read_nest3_ascii`.

    Returns
    -------
    dict of str to numpy.ndarray
        Sorted spike times (ms, float64) per population.
    """
    with _open_hdf5(path) as h5:
        group = h5.get("spikes")
        if group is None or not hasattr(group, "keys"):
            raise SpikeInputError(path, "no '/spikes' group: not a SONATA spikes file")
        available = [k for k in group.keys() if hasattr(group[k], "keys")]
        if populations is None:
            populations = {name: name for name in available}
        selections = {}
        for name, spec in populations.items():
            if isinstance(spec, str):
                selections[name] = (spec, None)
            else:
                try:
                    source, first, last = spec
                except (TypeError, ValueError):
                    raise SpikeInputError(
                        path,
                        f"population {name!r}: expected a SONATA population name or "
                        f"(population, first, last), got {spec!r}",
                    ) from None
                selections[name] = (source, _node_range(path, name, (first, last)))
        _missing_names(path, {s for s, _ in selections.values()}, available, "SONATA populations")
        loaded = {}
        for source in dict.fromkeys(s for s, _ in selections.values()):
            loaded[source] = _read_sonata_population(path, group[source], t_start, t_stop)
    result = {}
    for name, (source, node_range) in selections.items():
        node_ids, times = loaded[source]
        if node_range is not None:
            times = times[(node_ids >= node_range[0]) & (node_ids <= node_range[1])]
        result[name] = np.sort(times)
    _warn_if_seconds(path, np.concatenate([np.empty(0), *result.values()]), t_start, t_stop)
    return result


def _read_sonata_population(path, group, t_start, t_stop):
    for key in ("timestamps", "node_ids"):
        if key not in group:
            raise SpikeInputError(path, f"{group.name}: missing dataset {key!r}")
    times = _as_times(path, group["timestamps"].name, group["timestamps"][()])
    times *= _units_scale(path, group["timestamps"])
    node_ids = np.asarray(group["node_ids"][()])
    if node_ids.shape != times.shape or not np.issubdtype(node_ids.dtype, np.integer):
        raise SpikeInputError(
            path,
            f"{group.name}: node_ids (dtype {node_ids.dtype}, shape {node_ids.shape}) "
            f"must be integers matching timestamps (shape {times.shape})",
        )
    _check_times(path, times, t_start, t_stop, what=f"{group.name}/timestamps value")
    return node_ids, times


def _select_names(path, populations, available):
    names = list(available) if populations is None else list(populations)
    _missing_names(path, names, available, "populations")
    return names


def read_plain_hdf5(path, populations=None, *, t_start=None, t_stop=None):
    """Read the plain HDF5 layout: one root dataset of spike times (ms) per population.

    Parameters
    ----------
    path : str or os.PathLike
        HDF5 file whose root holds 1-D datasets named after the populations.
    populations : iterable of str, optional
        Populations to read; default all root datasets.
    t_start, t_stop : float, optional
        Run interval (ms), see :func:`read_nest3_ascii`.

    Returns
    -------
    dict of str to numpy.ndarray
        Sorted spike times (ms, float64) per population.
    """
    with _open_hdf5(path) as h5:
        available = [k for k in h5.keys() if not hasattr(h5[k], "keys")]
        result = {}
        for name in _select_names(path, populations, available):
            times = _as_times(path, name, h5[name][()]) * _units_scale(path, h5[name])
            _check_times(path, times, t_start, t_stop, what=f"population {name!r}: time")
            result[name] = np.sort(times)
    _warn_if_seconds(path, np.concatenate([np.empty(0), *result.values()]), t_start, t_stop)
    return result


def read_plain_npz(path, populations=None, *, t_start=None, t_stop=None):
    """Read the plain NPZ layout: one array of spike times (ms) per population name.

    Parameters and return value are those of :func:`read_plain_hdf5`.
    """
    _require_file(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise SpikeInputError(path, f"cannot open as NPZ: {err}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise SpikeInputError(path, "not an NPZ archive (a single .npy array?)")
    with archive:
        result = {}
        for name in _select_names(path, populations, archive.files):
            try:
                array = archive[name]
            except ValueError as err:  # object arrays need pickle, which stays disabled
                raise SpikeInputError(path, f"{name}: {err}") from None
            times = _as_times(path, name, array)
            _check_times(path, times, t_start, t_stop, what=f"population {name!r}: time")
            result[name] = np.sort(times)
    _warn_if_seconds(path, np.concatenate([np.empty(0), *result.values()]), t_start, t_stop)
    return result


# ---------------------------------------------------------------------------------------
# Dispatch and checks
# ---------------------------------------------------------------------------------------

_FORMATS = ("nest3", "nest2", "sonata", "hdf5", "npz")


def _guess_format(paths):
    suffix = paths[0].suffix.lower()
    if suffix == ".dat":
        return "nest3"
    if suffix == ".gdf":
        return "nest2"
    if suffix == ".npz":
        return "npz"
    if suffix in (".h5", ".hdf5", ".hdf"):
        with _open_hdf5(paths[0]) as h5:
            return "sonata" if hasattr(h5.get("spikes"), "keys") else "hdf5"
    raise SpikeInputError(
        paths[0],
        f"cannot tell the spike format from suffix {suffix!r}; pass format= one of {_FORMATS}",
    )


def read_spike_times(source, populations=None, *, format=None, t_start=None, t_stop=None):
    """Read spike times with the reader chosen by ``format`` or the file suffix.

    Parameters
    ----------
    source : str, os.PathLike or sequence of them
        File, glob pattern or list of files (lists only for the NEST formats).
    populations : mapping or iterable, optional
        As required by the selected reader (node-id ranges for NEST, SONATA selections,
        names for the plain layouts).
    format : {'nest3', 'nest2', 'sonata', 'hdf5', 'npz'}, optional
        Default: ``.dat`` -> nest3, ``.gdf`` -> nest2, ``.npz`` -> npz,
        ``.h5``/``.hdf5`` -> sonata when a ``/spikes`` group exists, else hdf5.
    t_start, t_stop : float, optional
        Run interval (ms), see :func:`read_nest3_ascii`.

    Returns
    -------
    dict of str to numpy.ndarray
        Sorted spike times (ms, float64) per population.
    """
    paths = _expand_files(source)
    fmt = _guess_format(paths) if format is None else format
    if fmt not in _FORMATS:
        raise SpikeInputError(paths[0], f"unknown spike format {fmt!r}; use one of {_FORMATS}")
    if fmt in ("nest3", "nest2"):
        if populations is None:
            raise SpikeInputError(paths[0], "NEST spike files need node-id ranges per population")
        reader = read_nest3_ascii if fmt == "nest3" else read_nest2_gdf
        return reader(paths, populations, t_start=t_start, t_stop=t_stop)
    if len(paths) != 1:
        raise SpikeInputError(paths[0], f"format {fmt!r} reads one file, got {len(paths)}")
    reader = {"sonata": read_sonata, "hdf5": read_plain_hdf5, "npz": read_plain_npz}[fmt]
    return reader(paths[0], populations, t_start=t_start, t_stop=t_stop)


def check_population_names(
    found, expected, *, allow_extra=False, found_label="spike data", expected_label="kernels"
):
    """Check that spike populations match those expected (e.g. a kernel tensor's).

    Parameters
    ----------
    found : iterable of str
        Population names present in the spike data.
    expected : iterable of str
        Population names required, e.g. the presynaptic populations of a kernel tensor.
    allow_extra : bool
        Accept names in ``found`` that are not expected (their spikes are unused).
    found_label, expected_label : str
        How the two sets are named in the error message.

    Raises
    ------
    SpikeInputError
        When an expected name is missing or (unless ``allow_extra``) an extra name is
        present; the message lists both sets and the differences.
    """
    found_set, expected_set = set(found), set(expected)
    missing = sorted(expected_set - found_set)
    extra = [] if allow_extra else sorted(found_set - expected_set)
    if missing or extra:
        details = []
        if missing:
            details.append(f"missing from {found_label}: {missing}")
        if extra:
            details.append(f"not in {expected_label}: {extra}")
        raise SpikeInputError(
            found_label,
            f"population names {sorted(found_set)} do not match {expected_label} populations "
            f"{sorted(expected_set)} ({'; '.join(details)})",
        )


# ---------------------------------------------------------------------------------------
# Binning
# ---------------------------------------------------------------------------------------


def bin_count(t_start, t_stop, dt):
    """Number of bins of width ``dt`` (ms) in ``[t_start, t_stop)``.

    Raises
    ------
    ValueError
        When ``dt <= 0``, ``t_stop <= t_start`` or the interval is not a whole number
        of bins.
    """
    if not dt > 0:
        raise ValueError(f"bin width dt must be > 0 ms, got {dt}")
    if not t_stop > t_start:
        raise ValueError(f"t_stop ({t_stop} ms) must exceed t_start ({t_start} ms)")
    n_exact = (t_stop - t_start) / dt
    n_bins = int(round(n_exact))
    if abs(n_exact - n_bins) > _EDGE_TOL * max(1.0, n_bins) or n_bins < 1:
        raise ValueError(
            f"[{t_start}, {t_stop}) ms is not a whole number of bins of {dt} ms ({n_exact})"
        )
    return n_bins


def bin_index(times, t_start, dt):
    """Bin index (float, may be out of range) of each spike time: the binning rule of
    :func:`bin_spike_counts`, bin 0 starting at ``t_start``."""
    times = np.asarray(times, dtype=np.float64).ravel()
    return np.floor((times - t_start) / dt + _SNAP_TOL)


def bin_spike_counts(times, t_start, t_stop, dt, *, dtype=np.int64):
    """Count spikes in bins of width ``dt`` over ``[t_start, t_stop)``.

    Bin ``i`` (``i = 0 .. n_bins - 1``, ``n_bins = (t_stop - t_start) / dt``) is the
    half-open interval ``[t_start + i*dt, t_start + (i+1)*dt)`` and stands for time
    ``t_start + i*dt`` (its left edge) in :mod:`hpckernels.convolution`. A spike at
    exactly ``t_start`` is counted in bin 0; one at exactly ``t_stop`` is dropped, as are
    all spikes outside ``[t_start, t_stop)``. Times less than ``0.02 * dt`` below an
    edge count as on the edge, so that times written in decimal (0.3 ms with
    ``dt = 0.1`` ms, where ``0.3 / 0.1 < 3`` in floating point) land in the bin their
    decimal value says, and so do simulator times on the dt grid that were written
    with few decimals (NEST's ASCII default of 3 decimals at ``dt = 1/16`` ms).

    Parameters
    ----------
    times : array_like
        Spike times (ms), any order.
    t_start, t_stop : float
        Interval (ms); ``t_stop - t_start`` must be a whole number of ``dt``.
    dt : float
        Bin width (ms).
    dtype : numpy dtype
        Output type, e.g. ``float64`` for direct use as a rate in spikes per bin.

    Returns
    -------
    numpy.ndarray
        Spike counts (spikes per bin), shape ``(n_bins,)``.

    Raises
    ------
    ValueError
        When ``dt <= 0``, ``t_stop <= t_start`` or the interval is not a whole number
        of bins.
    """
    n_bins = bin_count(t_start, t_stop, dt)
    index = bin_index(times, t_start, dt)
    index = index[(index >= 0) & (index < n_bins)].astype(np.int64)
    return np.bincount(index, minlength=n_bins).astype(dtype, copy=False)
