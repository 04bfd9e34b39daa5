"""Spike files: readers of the spike formats, the config's spike source, SONATA output.

Readers return spike times in ms as sorted float64 1-D arrays, one per population,
in a ``dict`` ordered like the population mapping they were given. Each format of
the config's ``spikes.format`` is one class registered in :data:`SPIKE_FORMATS`:

``nest_ascii`` (NEST 3 ``.dat``)
    Output of NEST 3's ``RecordingBackendASCII`` for a ``spike_recorder`` with
    ``time_in_steps=False``: one file per device and virtual process
    (``<label>-<node id>-<vp>.dat``), each starting with ``#`` header lines
    (``# NEST version: ...``, ``# RecordingBackendASCII version: 2``), then the
    column-name line ``sender<TAB>time_ms``, then one row ``sender<TAB>time`` per spike.
``nest_gdf`` (NEST 2 ``.gdf``)
    No header; whitespace-separated columns ``sender time`` (NEST 2 ends each value
    with a tab, so lines may carry trailing whitespace).
``sonata`` (HDF5)
    ``/spikes/<population>/timestamps`` (ms; attribute ``units`` is ``'ms'`` when
    present, ``'s'`` is converted) and ``/spikes/<population>/node_ids``.
``hdf5`` / ``npz``
    One 1-D dataset (HDF5, at the file's root) or array (NPZ) of spike times in ms per
    population, named after the population. HDF5 datasets may carry a ``units``
    attribute like SONATA timestamps.
``nwb`` (NWB 2)
    The ``Units`` table of an NWB file (``/units``: ragged ``spike_times`` in seconds
    with ``spike_times_index``); a unit belongs to the population named in the column
    ``spikes.population_column`` (default ``population``); every unit counts as one
    simulated neuron. ``hpckernels export-nwb`` writes such a table.

Every problem with the input raises :class:`SpikeInputError`; its message names the
file and, for text formats, the 1-based line number.
"""

from __future__ import annotations

import glob
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import h5py
import numpy as np

from ..binning import count_scale
from ..errors import HpckernelsWarning, InputError
from ..registry import Registry
from .h5 import atomic_h5, open_h5, provenance, read, set_attrs, text

#: Spike formats of the config by name.
SPIKE_FORMATS = Registry("spike format")
#: Below this share of its neurons firing, a population's node-id range is probably not
#: the one of its spikes (warning).
MIN_FIRING_SHARE = 0.5
#: A window whose spikes stop this many mean inter-spike intervals (of all populations
#: together) before its end reaches past the recording (the chance of such a gap in a
#: Poisson process is exp(-20) = 2e-9).
SILENT_END_INTERVALS = 20

# t_stop / 1000 ms almost certainly stores seconds instead of ms.
_UNIT_CHECK_MIN_RUN_MS = 1000.0
# Too few spikes say nothing about units: a sparse population may well fire early only.
_UNIT_CHECK_MIN_SPIKES = 10
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


class SpikeWarning(HpckernelsWarning):
    """Spike input that is allowed but probably not meant."""


class SpikeUnitsWarning(SpikeWarning):
    """Spike times that look like seconds although ms are expected."""


class SpikeSendersWarning(SpikeWarning):
    """Spikes of senders outside every population's node-id range (they are ignored)."""


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


def _split_by_ranges(path, senders, times, ranges):
    """Spike times per population; senders outside every range are ignored (warned)."""
    masks = {
        name: (senders >= first) & (senders <= last) for name, (first, last) in ranges.items()
    }
    outside = ~np.logical_or.reduce([*masks.values(), np.zeros(senders.size, bool)])
    if outside.any():
        ids = np.unique(senders[outside])
        shown = ", ".join(str(i) for i in ids[:5]) + (", ..." if ids.size > 5 else "")
        warnings.warn(
            f"{path}: {int(outside.sum())} spikes of {ids.size} senders ({shown}) "
            "are in no population's node_ids range (spikes.populations) and are "
            "ignored",
            SpikeSendersWarning,
            stacklevel=3,
        )
    return {name: times[mask] for name, mask in masks.items()}


# ---------------------------------------------------------------------------------------
# Checks shared by all readers
# ---------------------------------------------------------------------------------------


def warn_if_seconds(path, times, t_start, t_stop):
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
# Files
# ---------------------------------------------------------------------------------------


def expand_files(patterns, base_dir=None, where="spike files"):
    """File paths and glob patterns -> list of paths, patterns expanded in sorted order.

    Parameters
    ----------
    patterns : str, os.PathLike or sequence of them
    base_dir : Path, optional
        Folder against which relative paths are resolved.
    where : str
        Config key or option named when a pattern matches nothing.
    """
    if isinstance(patterns, (str, Path)):
        patterns = [patterns]
    if not patterns:
        raise SpikeInputError(where, "empty list of spike files")
    files = []
    for pattern in patterns:
        path = Path(pattern)
        if base_dir is not None and not path.is_absolute():
            path = Path(base_dir) / path
        if glob.has_magic(str(path)):
            matches = sorted(glob.glob(str(path)))
            if not matches:
                raise SpikeInputError(where, f"no file matches {path}")
            files += [Path(m) for m in matches]
        else:
            files.append(path)
    return files


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
            hint = " (a header-less NEST 2 .gdf file? set spikes.format: nest_gdf)"
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
    paths = files
    parts = {name: [] for name in ranges}
    for path in paths:
        _require_file(path)
        with open(path, encoding="utf-8", errors="replace") as fh:
            skip = _read_nest3_header(path, fh) if nest3 else 0
            senders, times = _load_rows(path, fh, skip, t_start, t_stop)
        warn_if_seconds(path, times, t_start, t_stop)
        for name, selected in _split_by_ranges(path, senders, times, ranges).items():
            parts[name].append(selected)
    return {name: np.sort(np.concatenate(p)) for name, p in parts.items()}


# ---------------------------------------------------------------------------------------
# HDF5 / NPZ formats
# ---------------------------------------------------------------------------------------


def time_units_to_ms(units, where):
    """Factor from a ``units`` attribute (ms or s, any spelling; None is ms) to ms."""
    if units is None:
        return 1.0
    scale = _UNIT_SCALE_TO_MS.get(text(units).strip().lower())
    if scale is None:
        raise SpikeInputError(where, f"unsupported time units {text(units)!r}; allowed: ms, s")
    return scale


def _units_scale(path, dataset):
    return time_units_to_ms(dataset.attrs.get("units"), f"{path}: {dataset.name}")


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


@dataclass
class SonataPopulation:
    """Spikes of one SONATA population: node ids and times (ms), and its sizes."""

    node_ids: np.ndarray
    times: np.ndarray
    simulated_size: int | None
    population_size: int | None


def read_sonata_populations(path, names=None, *, t_start=None, t_stop=None):
    """Every (or the named) population of a SONATA spikes file, in file order.

    Parameters
    ----------
    path : str or Path
        HDF5 file with ``/spikes/<population>/timestamps`` and ``node_ids``; the
        optional attributes ``simulated_size`` and ``population_size`` of
        ``/spikes/<population>`` (written by ``hpckernels network``) are returned too.
    names : iterable of str, optional
    t_start, t_stop : float, optional
        Run interval (ms): every time must lie in it.

    Returns
    -------
    dict of str to SonataPopulation
    """
    with open_h5(path, "SONATA spikes", external=True) as h5:
        group = h5.get("spikes")
        if group is None or not hasattr(group, "keys"):
            raise SpikeInputError(path, "no '/spikes' group: not a SONATA spikes file")
        available = [k for k in group.keys() if hasattr(group[k], "keys")]
        names = available if names is None else list(dict.fromkeys(names))
        _missing_names(path, names, available, "SONATA populations")
        out = {}
        for name in names:
            population = group[name]
            for key in ("timestamps", "node_ids"):
                if key not in population:
                    raise SpikeInputError(path, f"{population.name}: missing dataset {key!r}")
            stamps = population["timestamps"]
            times = _as_times(path, stamps.name, read(stamps)) * _units_scale(path, stamps)
            node_ids = np.asarray(read(population["node_ids"]))
            if node_ids.shape != times.shape or not np.issubdtype(node_ids.dtype, np.integer):
                raise SpikeInputError(
                    path,
                    f"{population.name}: node_ids (dtype {node_ids.dtype}, shape "
                    f"{node_ids.shape}) must be integers matching timestamps (shape "
                    f"{times.shape})",
                )
            _check_times(path, times, t_start, t_stop, what=f"{stamps.name} value")
            sizes = [
                int(np.asarray(population.attrs[k]).ravel()[0]) if k in population.attrs else None
                for k in ("simulated_size", "population_size")
            ]
            out[name] = SonataPopulation(node_ids.astype(np.int64), times, *sizes)
    return out


# ---------------------------------------------------------------------------------------
# Formats
# ---------------------------------------------------------------------------------------


class SpikeFormat:
    """A spike file format of the config (``spikes.format``).

    Attributes
    ----------
    name : str
        The config's name of the format.
    suffixes : tuple of str
        File suffixes that suggest it.
    many_files : bool
        Whether one read takes several files (one per device and virtual process).
    """

    name: ClassVar[str]
    suffixes: ClassVar[tuple] = ()
    many_files: ClassVar[bool] = False

    @classmethod
    def from_section(cls, section):
        """The reader of a config's ``spikes`` section (format-wide settings)."""
        return cls()

    def selection(self, name, spec, where):
        """Reader selection of one population from its ``spikes.populations`` entry."""
        return spec.get("dataset", name)

    def read(self, paths, populations, t_start=None, t_stop=None):
        """Sorted spike times (ms) per population from ``paths``.

        Parameters
        ----------
        paths : list of Path
        populations : mapping
            Population name -> selection (see :meth:`SpikeFormat.selection`).
        t_start, t_stop : float, optional
            Run interval (ms). When given, every spike time must lie in
            ``[t_start, t_stop]``; with ``t_stop`` given, times that look like seconds
            trigger a :class:`SpikeUnitsWarning`.
        """
        raise NotImplementedError

    def simulated_sizes(self, paths, populations):
        """Simulated sizes per population that the files record (none by default)."""
        return {}


class NestFormat(SpikeFormat):
    """NEST text output: senders are split into populations by node-id ranges."""

    many_files = True
    has_header: ClassVar[bool]

    def selection(self, name, spec, where):
        ids = spec.get("node_ids")
        if ids is None:
            raise InputError(
                f"{where}.node_ids",
                f"required for format {self.name} (the senders of this population)",
            )
        return tuple(ids)

    def read(self, paths, populations, t_start=None, t_stop=None):
        return _read_text_files(paths, populations, t_start, t_stop, nest3=self.has_header)


@SPIKE_FORMATS.register
class NestAscii(NestFormat):
    """NEST 3 ASCII recording backend (``.dat``, header and columns sender, time_ms)."""

    name = "nest_ascii"
    suffixes = (".dat",)
    has_header = True


@SPIKE_FORMATS.register
class NestGdf(NestFormat):
    """NEST 2 ``.gdf`` files (no header, columns sender, time)."""

    name = "nest_gdf"
    suffixes = (".gdf",)
    has_header = False


@SPIKE_FORMATS.register
class Sonata(SpikeFormat):
    """SONATA spikes: a population is a SONATA population, optionally a node-id range
    of it (``sonata_population``, ``node_ids``)."""

    name = "sonata"
    suffixes = (".h5", ".hdf5", ".hdf")

    def selection(self, name, spec, where):
        source = spec.get("sonata_population", name)
        ids = spec.get("node_ids")
        return source if ids is None else (source, *ids)

    @staticmethod
    def _parse(path, name, spec):
        if isinstance(spec, str):
            return spec, None
        try:
            source, first, last = spec
        except (TypeError, ValueError):
            raise SpikeInputError(
                path,
                f"population {name!r}: expected a SONATA population "
                f"name or (population, first, last), got "
                f"{spec!r}",
            ) from None
        return source, _node_range(path, name, (first, last))

    def read(self, paths, populations, t_start=None, t_stop=None):
        (path,) = paths
        if populations is None:
            populations = {name: name for name in read_sonata_populations(path)}
        selections = {name: self._parse(path, name, spec) for name, spec in populations.items()}
        loaded = read_sonata_populations(
            path, [s for s, _ in selections.values()], t_start=t_start, t_stop=t_stop
        )
        result = {}
        for name, (source, node_range) in selections.items():
            times = loaded[source].times
            if node_range is not None:
                ids = loaded[source].node_ids
                times = times[(ids >= node_range[0]) & (ids <= node_range[1])]
            result[name] = np.sort(times)
        warn_if_seconds(path, np.concatenate([np.empty(0), *result.values()]), t_start, t_stop)
        return result

    def simulated_sizes(self, paths, populations):
        whole = {name: spec for name, spec in populations.items() if isinstance(spec, str)}
        found = {}
        for path in paths:
            loaded = read_sonata_populations(path, whole.values())
            for name, source in whole.items():
                if loaded[source].simulated_size is not None:
                    found.setdefault(name, loaded[source].simulated_size)
        return found


def _dataset_selections(path, populations, available):
    """Population name -> dataset name: all datasets, names, or a mapping of both."""
    if populations is None:
        selections = {name: name for name in available}
    elif isinstance(populations, dict):
        selections = dict(populations)
    else:
        selections = {name: name for name in populations}
    _missing_names(path, list(dict.fromkeys(selections.values())), available, "populations")
    return selections


@SPIKE_FORMATS.register
class PlainHDF5(SpikeFormat):
    """One root dataset of spike times (ms) per population (``dataset`` names it)."""

    name = "hdf5"
    suffixes = (".h5", ".hdf5", ".hdf")

    def read(self, paths, populations, t_start=None, t_stop=None):
        (path,) = paths
        with open_h5(path, "spikes", external=True) as h5:
            available = [k for k in h5.keys() if not hasattr(h5[k], "keys")]
            result = {}
            for name, dataset in _dataset_selections(path, populations, available).items():
                times = _as_times(path, dataset, read(h5[dataset]))
                times *= _units_scale(path, h5[dataset])
                _check_times(path, times, t_start, t_stop, what=f"population {name!r}: time")
                result[name] = np.sort(times)
        warn_if_seconds(path, np.concatenate([np.empty(0), *result.values()]), t_start, t_stop)
        return result


@SPIKE_FORMATS.register
class PlainNPZ(SpikeFormat):
    """One array of spike times (ms) per population in a NumPy ``.npz`` archive."""

    name = "npz"
    suffixes = (".npz",)

    def read(self, paths, populations, t_start=None, t_stop=None):
        (path,) = paths
        _require_file(path)
        try:
            archive = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise SpikeInputError(path, f"cannot open as NPZ: {err}") from None
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise SpikeInputError(path, "not an NPZ archive (a single .npy array?)")
        with archive:
            result = {}
            for name, key in _dataset_selections(path, populations, archive.files).items():
                try:
                    array = archive[key]
                except ValueError as err:  # object arrays need pickle, which stays disabled
                    raise SpikeInputError(path, f"{name}: {err}") from None
                times = _as_times(path, name, array)
                _check_times(path, times, t_start, t_stop, what=f"population {name!r}: time")
                result[name] = np.sort(times)
        warn_if_seconds(path, np.concatenate([np.empty(0), *result.values()]), t_start, t_stop)
        return result


#: Column of an NWB Units table that names each unit's population (default of
#: ``spikes.population_column``).
NWB_POPULATION_COLUMN = "population"


@dataclass
class NWBUnitsTable:
    """The spike trains of an NWB ``Units`` table: one row per unit.

    Attributes
    ----------
    ids : ndarray of int64
        The table's ``id`` column.
    node_ids : ndarray of int64
        The ``node_id`` column when present (``hpckernels export-nwb`` writes the
        network's node ids), else ``ids``.
    population : ndarray of str
        The population column.
    offsets : ndarray of int64, shape (n_units + 1,)
        The spikes of unit ``k`` are ``times[offsets[k]:offsets[k + 1]]``.
    times : ndarray of float64
        Spike times in ms (the file stores seconds).
    """

    ids: np.ndarray
    node_ids: np.ndarray
    population: np.ndarray
    offsets: np.ndarray
    times: np.ndarray

    def times_of(self, value):
        """Sorted spike times (ms) of every unit whose population is ``value``."""
        rows = np.flatnonzero(self.population == value)
        parts = [self.times[self.offsets[k] : self.offsets[k + 1]] for k in rows]
        return np.sort(np.concatenate([np.empty(0), *parts]))


def read_nwb_units(path, column=NWB_POPULATION_COLUMN):
    """The ``Units`` table (``/units``) of an NWB file, read with h5py.

    Raises
    ------
    SpikeInputError
        No Units table, no spike times, no column ``column``, or a broken ragged index.
    """
    with open_h5(path, "NWB", external=True) as h5:
        units = h5.get("units")
        if units is None or not hasattr(units, "keys"):
            raise SpikeInputError(path, "no '/units' table: not an NWB file with spikes")
        available = sorted(k for k in units.keys() if not k.endswith("_index") and k != "id")
        if column not in units:
            raise SpikeInputError(
                path,
                f"the Units table has no column {column!r} (spikes.population_column); "
                f"its columns are {available}",
            )
        for key in ("id", "spike_times", "spike_times_index"):
            if key not in units:
                raise SpikeInputError(path, f"/units has no {key!r} dataset")
        ids = np.asarray(units["id"][()], dtype=np.int64)
        ends = np.asarray(units["spike_times_index"][()], dtype=np.int64)
        times = _as_times(path, "/units/spike_times", units["spike_times"][()]) * 1000.0
        population = np.array([text(v) for v in units[column][()]], dtype=object)
        node_ids = np.asarray(units["node_id"][()], dtype=np.int64) if "node_id" in units else ids
        if not (ends.size == ids.size == population.size == node_ids.size):
            raise SpikeInputError(
                path,
                f"/units columns differ in length (id {ids.size}, spike_times_index "
                f"{ends.size}, {column} {population.size})",
            )
        offsets = np.concatenate([[0], ends]).astype(np.int64)
        if np.any(np.diff(offsets) < 0) or offsets[-1] != times.size:
            raise SpikeInputError(path, "/units/spike_times_index is not a valid ragged index")
    return NWBUnitsTable(ids, node_ids, population, offsets, times)


@SPIKE_FORMATS.register
class NWBUnits(SpikeFormat):
    """The ``Units`` table of an NWB file: a population is the units whose
    ``spikes.population_column`` holds its name (or its ``nwb_population``)."""

    name = "nwb"
    suffixes = (".nwb",)

    def __init__(self, population_column=NWB_POPULATION_COLUMN):
        self.population_column = population_column

    @classmethod
    def from_section(cls, section):
        return cls(section.get("population_column", NWB_POPULATION_COLUMN))

    def selection(self, name, spec, where):
        return spec.get("nwb_population", name)

    def _values(self, table, populations):
        if populations is None:
            return {str(v): str(v) for v in dict.fromkeys(table.population)}
        return dict(populations) if isinstance(populations, dict) else {p: p for p in populations}

    def read(self, paths, populations, t_start=None, t_stop=None):
        (path,) = paths
        table = read_nwb_units(path, self.population_column)
        values = self._values(table, populations)
        _missing_names(
            path,
            list(dict.fromkeys(values.values())),
            set(table.population),
            f"populations (column {self.population_column!r})",
        )
        result = {}
        for name, value in values.items():
            times = table.times_of(value)
            _check_times(path, times, t_start, t_stop, what=f"population {name!r}: time")
            result[name] = times
        warn_if_seconds(path, np.concatenate([np.empty(0), *result.values()]), t_start, t_stop)
        return result

    def simulated_sizes(self, paths, populations):
        """Every unit of the table is a simulated neuron."""
        found = {}
        for path in paths:
            table = read_nwb_units(path, self.population_column)
            for name, value in self._values(table, populations).items():
                n = int(np.count_nonzero(table.population == value))
                if n:
                    found[name] = found.get(name, 0) + n
        return found


def _guess_format(paths):
    suffix = paths[0].suffix.lower()
    if suffix in Sonata.suffixes:
        with open_h5(paths[0], "spikes", external=True) as h5:
            return Sonata() if hasattr(h5.get("spikes"), "keys") else PlainHDF5()
    for cls in SPIKE_FORMATS.values():
        if suffix in cls.suffixes:
            return cls()
    raise SpikeInputError(
        paths[0],
        f"cannot tell the spike format from suffix {suffix!r}; "
        f"give the format, one of {', '.join(SPIKE_FORMATS)}",
    )


def read_spike_times(files, populations=None, *, format=None, t_start=None, t_stop=None):
    """Read spike times with the format's reader.

    Parameters
    ----------
    files : str, os.PathLike or sequence of them
        File, glob pattern or list of files (several files only for the NEST formats;
        the other formats are read file by file and concatenated).
    populations : mapping or iterable, optional
        Reader selections per population (node-id ranges for NEST, SONATA
        selections, dataset names for the plain layouts); default every population
        of the file (not for NEST).
    format : str or SpikeFormat, optional
        A name of :data:`SPIKE_FORMATS` (or a reader); default from the suffix (``.dat``
        nest_ascii, ``.gdf`` nest_gdf, ``.npz`` npz, ``.h5`` sonata when a ``/spikes``
        group exists, else hdf5).
    t_start, t_stop : float, optional
        Run interval (ms), see :meth:`SpikeFormat.read`.

    Returns
    -------
    dict of str to numpy.ndarray
        Sorted spike times (ms, float64) per population.
    """
    paths = expand_files(files)
    if isinstance(format, SpikeFormat):
        reader = format
    elif format is None:
        reader = _guess_format(paths)
    else:
        reader = SPIKE_FORMATS.lookup(format, "spikes.format")()
    if isinstance(reader, NestFormat) and populations is None:
        raise SpikeInputError(paths[0], "NEST spike files need node-id ranges per population")
    if reader.many_files:
        return reader.read(paths, populations, t_start, t_stop)
    parts = {}
    for path in paths:
        for name, times in reader.read([path], populations, t_start, t_stop).items():
            parts.setdefault(name, []).append(times)
    return {name: np.sort(np.concatenate(p)) for name, p in parts.items()}


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
# The config's spike source
# ---------------------------------------------------------------------------------------


@dataclass
class SpikeSource:
    """Where a config's spikes are and how they map onto its populations.

    Attributes
    ----------
    format : SpikeFormat
    files : list of Path
    populations : dict
        Population name -> reader selection.
    simulated_sizes : dict
        Population name -> neurons simulated (None: unknown, the whole population).
    """

    format: SpikeFormat
    files: list
    populations: dict
    simulated_sizes: dict
    #: End of the recording (ms), when the files or the config say it.
    recording_end: float | None = None

    def read(self, t_start=0.0, t_stop=None):
        """Spike times (ms) per population from every file."""
        return read_spike_times(
            self.files, self.populations, format=self.format, t_start=t_start, t_stop=t_stop
        )


def spike_source(config, files=None):
    """The spike source of a config: its ``spikes`` section, or the SONATA file of the
    built-in network.

    Parameters
    ----------
    config : NetworkConfig
    files : list of str, optional
        Files that replace ``spikes.files`` (required without a ``spikes`` section).
    """
    section = config.data.get("spikes")
    if section is None:
        if not files:
            raise InputError(
                "--spikes",
                "required: the config has no 'spikes' section; give "
                "the SONATA file written by 'hpckernels network'",
            )
        reader = Sonata()
        names = list(config.populations)
        source = SpikeSource(
            reader,
            expand_files(files, where="--spikes"),
            {name: name for name in names},
            dict.fromkeys(names),
        )
    else:
        reader = SPIKE_FORMATS.lookup(section["format"], "spikes.format").from_section(section)
        paths = (
            expand_files(files, where="--spikes")
            if files
            else expand_files(section["files"], config.base_dir, "spikes.files")
        )
        selections, simulated = {}, {}
        for name, spec in section["populations"].items():
            where = f"spikes.populations.{name}"
            ids = spec.get("node_ids")
            if ids is not None and ids[0] > ids[1]:
                raise InputError(f"{where}.node_ids", f"first node id {ids[0]} > last {ids[1]}")
            selections[name] = reader.selection(name, spec, where)
            simulated[name] = spec.get(
                "simulated_size", ids[1] - ids[0] + 1 if ids is not None else None
            )
        source = SpikeSource(reader, paths, selections, simulated)
    for path in source.files:
        _require_file(path)
    _check_distinct_files(source.files, "spikes.files" if section and not files else "--spikes")
    _check_distinct_selections(source.populations)
    recorded = reader.simulated_sizes(source.files, source.populations)
    for name, size in recorded.items():
        if source.simulated_sizes.get(name) is None:
            source.simulated_sizes[name] = size
    for name, size in source.simulated_sizes.items():
        modelled = config.populations.get(name, {}).get("size")
        if size is not None and modelled is not None and size > modelled:
            raise InputError(
                f"spikes.populations.{name}",
                f"{size} simulated neurons (simulated_size or node_ids) > populations.{name}"
                f".size = {modelled}: the spikes are a sample of the modelled population",
            )
    if section is None and config.data.get("network") is not None:
        _check_network(source.files, config)
    source.recording_end = (section or {}).get("t_stop", _recorded_duration(source))
    return source


def _check_distinct_files(files, where):
    """Refuse a spike file named twice (two entries, or overlapping patterns): its spikes
    would count twice."""
    seen = {}
    for path in files:
        key = Path(path).resolve()
        if key in seen:
            raise InputError(
                where,
                f"{path} is given twice (as {seen[key]} too): its spikes would count twice",
            )
        seen[key] = path


def _check_distinct_selections(populations):
    """Refuse two populations that read the same spikes (the same SONATA population or
    dataset, or overlapping node-id ranges of one source)."""
    ranges = {}
    for name, selection in populations.items():
        if isinstance(selection, tuple) and len(selection) == 3:
            source, first, last = selection
        elif isinstance(selection, tuple) and len(selection) == 2:
            source, (first, last) = None, selection
        else:
            source, first, last = selection, -np.inf, np.inf
        for other, (other_source, a, b) in ranges.items():
            if other_source == source and first <= b and a <= last:
                raise InputError(
                    f"spikes.populations.{name}",
                    f"reads the same spikes as population {other} ({source or 'node ids'} "
                    f"{'' if np.isinf(first) else f'{first}..{last}'}): each neuron's "
                    "spikes belong to one population",
                )
        ranges[name] = (source, first, last)


def _recorded_duration(source):
    """Duration (ms) the spike files record (``hpckernels network``'s SONATA files), or
    None."""
    ends = []
    for path in source.files:
        if Path(path).suffix.lower() not in (".h5", ".hdf5", ".hdf"):
            return None
        with open_h5(path, "spikes", external=True) as fh:
            if "duration" not in fh.attrs:
                return None
            ends.append(float(np.asarray(fh.attrs["duration"]).ravel()[0]))
    return min(ends) if ends else None


def _check_network(files, config):
    """Refuse SONATA spikes of ``hpckernels network`` whose network is not the config's
    (its ``network_hash`` differs)."""
    from ..inputs import network_hash

    expected = network_hash(config)
    for path in files:
        with open_h5(path, "SONATA spikes", external=True) as fh:
            found = fh.attrs.get("network_hash")
        if found is not None and text(found) != expected:
            raise InputError(
                str(path),
                "spikes of another network than the config's network section (its "
                "network_hash differs): simulate it again with 'hpckernels network'",
            )


def check_recording(times, t_start, t_stop, recording_end, where="signals.t_stop"):
    """Raise InputError when the signal window reaches past the end of the recording:
    after its known end, or, without one, when the spikes stop more than
    :data:`SILENT_END_INTERVALS` mean inter-spike intervals (of all populations
    together) before ``t_stop`` (a flat-zero tail, not a silent network).

    Parameters
    ----------
    times : dict of str to ndarray
        Spike times (ms) per population.
    recording_end : float or None
        End of the recording (ms) if known (``spikes.t_stop``, the SONATA duration).
    """
    if recording_end is not None:
        if t_stop > recording_end * (1 + 1e-12):
            raise InputError(
                where,
                f"{t_stop:g} ms is after the end of the recording ({recording_end:g} ms)",
            )
        return
    every = np.concatenate([np.empty(0), *times.values()])
    inside = every[(every >= t_start) & (every < t_stop)]
    if inside.size < 100:
        return
    gap = t_stop - inside.max()
    if gap > SILENT_END_INTERVALS * (t_stop - t_start) / inside.size:
        raise InputError(
            where,
            f"the spikes end at {inside.max():g} ms, {gap:g} ms before t_stop = {t_stop:g} ms "
            f"({SILENT_END_INTERVALS} mean inter-spike intervals): is the window past the "
            "end of the recording? (spikes.t_stop states where it ends)",
        )


def count_scales(config, source, names):
    """Population size / simulated size per population (1 when unknown).

    A down-scaled built-in network records its simulated sizes in the SONATA file;
    without them the network section's ``scale`` gives them.
    """
    network = config.data.get("network")
    scales = {}
    for name in names:
        if name not in config.populations:
            raise InputError(
                f"populations.{name}",
                f"population of the spikes and kernels missing from the config; "
                f"config populations are {', '.join(config.populations)}",
            )
        size = config.populations[name]["size"]
        n = source.simulated_sizes.get(name)
        if n is None and network is not None and "spikes" not in config.data:
            from ..network import simulated_size

            n = simulated_size(size, network.get("scale", 1.0))
        scales[name] = count_scale(size, n)
    return scales


def measured_rates(config, source, names):
    """Mean firing rate per neuron (spikes/s) of populations ``names`` in the config's
    signal window (after the onset transient), from the spikes of ``source``: spikes in
    the window over the simulated neurons (:func:`count_scales`) and its duration."""
    t_start, t_stop = config.signal_window()
    times = source.read()
    check_population_names(
        list(times),
        names,
        allow_extra=True,
        found_label=f"spikes ({', '.join(map(str, source.files))})",
        expected_label="the config's measured rates",
    )
    scales = count_scales(config, source, names)
    rates = {}
    for name in names:
        t = times[name]
        count = int(np.count_nonzero((t >= t_start) & (t < t_stop)))
        size = config.populations[name]["size"]
        rates[name] = count * scales[name] / size / ((t_stop - t_start) / 1000.0)
    return rates


# ---------------------------------------------------------------------------------------
# Per-neuron spike trains (the hybrid scheme drives each synapse by its own neuron)
# ---------------------------------------------------------------------------------------


@dataclass
class SpikeTrains:
    """Spike trains of every simulated neuron of one population.

    Attributes
    ----------
    node_ids : ndarray of int64, shape (n_neurons,)
        Node ids of the simulated neurons, sorted; neurons without spikes included.
    offsets : ndarray of int64, shape (n_neurons + 1,)
        The train of ``node_ids[k]`` is ``times[offsets[k]:offsets[k + 1]]``.
    times : ndarray of float64
        Spike times (ms), sorted within each train.
    """

    node_ids: np.ndarray
    offsets: np.ndarray
    times: np.ndarray

    @classmethod
    def from_spikes(cls, node_ids, senders, times, where):
        """Group spikes ``(senders, times)`` by neuron; every sender must be in
        ``node_ids`` (SpikeInputError naming ``where`` otherwise)."""
        node_ids = np.asarray(node_ids, dtype=np.int64)
        senders = np.asarray(senders, dtype=np.int64)
        times = np.asarray(times, dtype=np.float64)
        row = np.searchsorted(node_ids, senders)
        unknown = (row >= node_ids.size) | (
            node_ids[np.minimum(row, node_ids.size - 1)] != senders
        )
        if senders.size and unknown.any():
            bad = np.unique(senders[unknown])
            raise SpikeInputError(
                where,
                f"{bad.size} senders ({', '.join(str(i) for i in bad[:5])}"
                f"{', ...' if bad.size > 5 else ''}) are not among the population's "
                f"{node_ids.size} simulated neurons (node ids {node_ids[0]}..{node_ids[-1]})",
            )
        order = np.lexsort((times, row))
        counts = np.bincount(row, minlength=node_ids.size)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return cls(node_ids, offsets, times[order])

    @property
    def size(self):
        """Number of simulated neurons."""
        return self.node_ids.size

    def train(self, k):
        """Spike times (ms) of neuron ``node_ids[k]``."""
        return self.times[self.offsets[k] : self.offsets[k + 1]]


def _senders_of_text_files(files, ranges, t_start, t_stop, nest3):
    """(senders, times) per population of NEST text files split by node-id ranges."""
    parts = {name: ([], []) for name in ranges}
    for path in files:
        _require_file(path)
        with open(path, encoding="utf-8", errors="replace") as fh:
            skip = _read_nest3_header(path, fh) if nest3 else 0
            senders, times = _load_rows(path, fh, skip, t_start, t_stop)
        for name, (first, last) in ranges.items():
            mask = (senders >= first) & (senders <= last)
            parts[name][0].append(senders[mask])
            parts[name][1].append(times[mask])
    return {name: (np.concatenate(s), np.concatenate(t)) for name, (s, t) in parts.items()}


def read_spike_trains(config, source, names, t_start=0.0, t_stop=None):
    """Per-neuron spike trains of populations ``names`` of a config's spike source.

    The simulated neurons are the node-id range of a population (NEST formats, or a
    SONATA selection with ``node_ids``), the units of an NWB Units table (their
    ``node_id`` column, else their ids), else SONATA node ids ``0 .. n - 1`` with ``n``
    the simulated size (recorded by ``hpckernels network``, or ``simulated_size``, or
    the population's size).

    Parameters
    ----------
    config : NetworkConfig
    source : SpikeSource
    names : sequence of str
    t_start, t_stop : float, optional
        Run interval (ms): every spike time must lie in it.

    Returns
    -------
    dict of str to SpikeTrains

    Raises
    ------
    InputError
        A format without node ids (hdf5, npz), or senders outside the simulated neurons.
    """
    where = ", ".join(str(p) for p in source.files)
    fmt = source.format
    if isinstance(fmt, NWBUnits):
        return _nwb_trains(source, names, t_start, t_stop)
    if not isinstance(fmt, (Sonata, NestFormat)):
        raise InputError(
            "spikes.format",
            f"{fmt.name} has no node ids; per-neuron spike trains need sonata, nest_ascii, "
            "nest_gdf or nwb spikes",
        )
    ranges, selections = {}, {}
    for name in names:
        spec = source.populations[name]
        if isinstance(fmt, NestFormat):
            ranges[name] = _node_range(where, name, spec)
            continue
        population, node_range = Sonata._parse(where, name, spec)
        # a population that is a node-id range of a SONATA population keeps those spikes
        selections[name] = (population, node_range is not None)
        if node_range is None:
            n = source.simulated_sizes.get(name) or int(config.populations[name]["size"])
            node_range = (0, int(n) - 1)
        ranges[name] = node_range
    if isinstance(fmt, NestFormat):
        spikes = _senders_of_text_files(source.files, ranges, t_start, t_stop, fmt.has_header)
    else:
        parts = {name: ([], []) for name in names}
        for path in source.files:
            loaded = read_sonata_populations(
                path, {s for s, _ in selections.values()}, t_start=t_start, t_stop=t_stop
            )
            for name, (population, is_range) in selections.items():
                ids, times = loaded[population].node_ids, loaded[population].times
                if is_range:
                    keep = (ids >= ranges[name][0]) & (ids <= ranges[name][1])
                    ids, times = ids[keep], times[keep]
                parts[name][0].append(ids)
                parts[name][1].append(times)
        spikes = {n: (np.concatenate(s), np.concatenate(t)) for n, (s, t) in parts.items()}
    trains = {
        name: SpikeTrains.from_spikes(
            np.arange(ranges[name][0], ranges[name][1] + 1), *spikes[name], f"{where}: {name}"
        )
        for name in names
    }
    for name, train in trains.items():
        fired = int(np.count_nonzero(np.diff(train.offsets)))
        if train.size and fired < MIN_FIRING_SHARE * train.size:
            warnings.warn(
                SpikeWarning(
                    f"{where}: only {fired} of the {train.size} neurons of population {name} "
                    f"(node ids {train.node_ids[0]}..{train.node_ids[-1]}) fire: synapses from "
                    "the others never do (are its node ids right?)"
                ),
                stacklevel=2,
            )
    return trains


def _nwb_trains(source, names, t_start, t_stop):
    """Per-unit spike trains of an NWB Units table (one file)."""
    fmt = source.format
    parts = {name: ([], []) for name in names}
    for path in source.files:
        table = read_nwb_units(path, fmt.population_column)
        _missing_names(
            path,
            [source.populations[n] for n in names],
            set(table.population),
            f"populations (column {fmt.population_column!r})",
        )
        counts = np.diff(table.offsets)
        for name in names:
            rows = np.flatnonzero(table.population == source.populations[name])
            times = [table.times[table.offsets[k] : table.offsets[k + 1]] for k in rows]
            senders = np.repeat(table.node_ids[rows], counts[rows])
            times = np.concatenate([np.empty(0), *times])
            _check_times(path, times, t_start, t_stop, what=f"population {name!r}: time")
            parts[name][0].append(table.node_ids[rows])
            parts[name][1].append((senders, times))
    out = {}
    for name, (ids, spikes) in parts.items():
        node_ids = np.concatenate(ids)
        if np.unique(node_ids).size != node_ids.size:
            raise SpikeInputError(
                ", ".join(str(p) for p in source.files),
                f"population {name!r}: node ids of its units are not unique",
            )
        order = np.argsort(node_ids)
        senders = np.concatenate([s for s, _ in spikes])
        times = np.concatenate([t for _, t in spikes])
        out[name] = SpikeTrains.from_spikes(node_ids[order], senders, times, name)
    return out


# ---------------------------------------------------------------------------------------
# SONATA output
# ---------------------------------------------------------------------------------------


#: The ``sorting`` attribute of a SONATA spikes population: an HDF5 enum of uint8.
SONATA_SORTING = {"none": 0, "by_id": 1, "by_time": 2}
SONATA_SORTING_TYPE = h5py.enum_dtype(SONATA_SORTING, basetype="u1")


def write_sonata(path, config, result):
    """Write a :class:`~hpckernels.network.NetworkResult` as SONATA spikes, atomically.

    ``/spikes/<population>`` holds ``timestamps`` (ms, sorted) and ``node_ids`` (from
    0) with attributes ``sorting`` (the specification's enum, ``by_time``),
    ``simulated_size`` and ``population_size``; libsonata reads it
    (``tests/test_cross_checks.py``).
    """
    from ..inputs import network_hash

    p = result.parameters
    with atomic_h5(path) as fh:
        set_attrs(
            fh,
            {
                **provenance(config),
                "nest_version": result.nest_version,
                "neuron_model": "iaf_psc_exp",
                "duration": p.duration,
                "network_hash": network_hash(config),
                "scale": p.scale,
                "seed": p.seed,
                "threads": p.threads,
            },
        )
        spikes = fh.create_group("spikes")
        for name, population in result.spikes.items():
            group = spikes.create_group(name)
            # the SONATA specification's enum (libsonata refuses a string)
            group.attrs.create("sorting", SONATA_SORTING["by_time"], dtype=SONATA_SORTING_TYPE)
            set_attrs(
                group,
                {
                    "simulated_size": int(population.simulated_size),
                    "population_size": int(population.population_size),
                },
            )
            times = group.create_dataset(
                "timestamps", data=np.asarray(population.times, dtype=np.float64)
            )
            times.attrs["units"] = "ms"
            group.create_dataset("node_ids", data=np.asarray(population.node_ids, dtype=np.uint64))
