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

import numpy as np

from ..binning import count_scale
from ..errors import InputError
from ..registry import Registry
from .h5 import atomic_h5, open_h5, provenance, set_attrs, text

#: Spike formats of the config by name.
SPIKE_FORMATS = Registry("spike format")

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


class SpikeWarning(UserWarning):
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
    with open_h5(path, "SONATA spikes") as h5:
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
            times = _as_times(path, stamps.name, stamps[()]) * _units_scale(path, stamps)
            node_ids = np.asarray(population["node_ids"][()])
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
        with open_h5(path, "spikes") as h5:
            available = [k for k in h5.keys() if not hasattr(h5[k], "keys")]
            result = {}
            for name, dataset in _dataset_selections(path, populations, available).items():
                times = _as_times(path, dataset, h5[dataset][()])
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


def _guess_format(paths):
    suffix = paths[0].suffix.lower()
    if suffix in Sonata.suffixes:
        with open_h5(paths[0], "spikes") as h5:
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
    format : str, optional
        A name of :data:`SPIKE_FORMATS`; default from the suffix (``.dat``
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
    reader = (
        _guess_format(paths) if format is None else SPIKE_FORMATS.lookup(format, "spikes.format")()
    )
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

    def read(self, t_start=0.0, t_stop=None):
        """Spike times (ms) per population from every file."""
        return read_spike_times(
            self.files, self.populations, format=self.format.name, t_start=t_start, t_stop=t_stop
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
        reader = SPIKE_FORMATS.lookup(section["format"], "spikes.format")()
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
    recorded = reader.simulated_sizes(source.files, source.populations)
    for name, size in recorded.items():
        if source.simulated_sizes.get(name) is None:
            source.simulated_sizes[name] = size
    return source


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
    SONATA selection with ``node_ids``), else SONATA node ids ``0 .. n - 1`` with ``n``
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
    if not isinstance(fmt, (Sonata, NestFormat)):
        raise InputError(
            "spikes.format",
            f"{fmt.name} has no node ids; per-neuron spike trains need sonata, nest_ascii "
            "or nest_gdf spikes",
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
    return {
        name: SpikeTrains.from_spikes(
            np.arange(ranges[name][0], ranges[name][1] + 1), *spikes[name], f"{where}: {name}"
        )
        for name in names
    }


# ---------------------------------------------------------------------------------------
# SONATA output
# ---------------------------------------------------------------------------------------


def write_sonata(path, config, result):
    """Write a :class:`~hpckernels.network.NetworkResult` as SONATA spikes, atomically.

    ``/spikes/<population>`` holds ``timestamps`` (ms, sorted) and ``node_ids`` (from
    0) with attributes ``sorting``, ``simulated_size`` and ``population_size``.
    """
    p = result.parameters
    with atomic_h5(path) as fh:
        set_attrs(
            fh,
            {
                **provenance(config),
                "nest_version": result.nest_version,
                "neuron_model": "iaf_psc_exp",
                "duration": p.duration,
                "scale": p.scale,
                "seed": p.seed,
                "threads": p.threads,
            },
        )
        spikes = fh.create_group("spikes")
        for name, population in result.spikes.items():
            group = spikes.create_group(name)
            set_attrs(
                group,
                {
                    "sorting": "by_time",
                    "simulated_size": int(population.simulated_size),
                    "population_size": int(population.population_size),
                },
            )
            times = group.create_dataset(
                "timestamps", data=np.asarray(population.times, dtype=np.float64)
            )
            times.attrs["units"] = "ms"
            group.create_dataset("node_ids", data=np.asarray(population.node_ids, dtype=np.uint64))
