"""HDF5 files of hpckernels: atomic writes, dimension scales, units and provenance.

Every output is written to a hidden temporary file that is renamed into place, so a
killed job never leaves a file that looks complete. Every dataset carries ``units``
and ``long_name`` and has dimension scales (so ``xarray.open_dataset(path,
engine="h5netcdf", group=...)`` shows named dimensions); every file carries the
config's content hash and the versions of hpckernels, NEURON, LFPy and LFPykit.

Layouts
-------
pathway kernel file (``hpckernels kernel``)
    One group per probe with ``kernel`` (channel, lag) and, for ensembles, ``std``;
    root attributes pre, post, mode, dt, tau, config and pathway hashes, versions.
kernel tensor (``hpckernels assemble``)
    One group per probe with ``kernel`` (post, pre, channel, lag) (and ``std``).
signals (``hpckernels signals``)
    ``rates/counts`` (population, time) and one group per probe with ``total``
    (channel, time) and optionally ``pathways`` (post, pre, channel, time).
SONATA spikes (``hpckernels network``)
    ``/spikes/<population>/timestamps`` (ms) and ``node_ids``.
population basis (``hpckernels basis``)
    The cell's segments and one group per synapse kinetics with per probe ``response``
    (channel, column, lag); see :func:`write_basis`.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import h5py
import numpy as np

from . import __version__
from .errors import InputError
from .probes import probe_type

#: Long name of the lag axis of kernels.
LAG_NAME = "time lag after the presynaptic spike"


def text(value):
    """An HDF5 attribute or string element as ``str`` (bytes decoded, 1-element arrays
    unpacked)."""
    if isinstance(value, np.ndarray):
        value = value.ravel()[0] if value.size else ""
    return value.decode() if isinstance(value, bytes) else str(value)


def versions():
    """Versions of hpckernels and the simulators, for provenance attributes."""
    out = {"hpckernels_version": __version__}
    for key, dist in (
        ("neuron_version", "neuron"),
        ("lfpy_version", "LFPy"),
        ("lfpykit_version", "LFPykit"),
    ):
        try:
            out[key] = version(dist)
        except PackageNotFoundError:
            out[key] = "not installed"
    return out


def remove_stale_temporaries(path):
    """Remove temporary files of ``path`` left by writers that were killed (their process
    no longer exists)."""
    path = Path(path)
    for tmp in path.parent.glob(f".{path.stem}.tmp-*{path.suffix}"):
        pid = tmp.name[len(f".{path.stem}.tmp-") : len(tmp.name) - len(path.suffix)]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a hidden temporary path next to ``path``; rename it into place on success.

    A writer killed before the rename leaves only the temporary file, never a file
    at ``path`` that looks complete; on an exception the temporary file is removed.
    """
    path = Path(path)
    remove_stale_temporaries(path)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_h5(path):
    """Open a temporary HDF5 file next to ``path`` for writing; rename it on success."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w", track_order=True) as fh:
        yield fh


def set_attrs(obj, attrs):
    """Write a dict of attributes (None values are skipped)."""
    for key, value in attrs.items():
        if value is not None:
            obj.attrs[key] = value


def write_scale(group, name, values, units, long_name):
    """Create a dimension-scale dataset (strings are stored as variable-length UTF-8)."""
    data = np.asarray(values)
    if data.dtype.kind in "USO":
        scale = group.create_dataset(
            name, data=np.array([text(v) for v in data], dtype=object), dtype=h5py.string_dtype()
        )
    else:
        scale = group.create_dataset(name, data=data)
    scale.make_scale(name)
    set_attrs(scale, {"units": units or None, "long_name": long_name})
    return scale


def write_dataset(group, name, scales, units, long_name, data=None, shape=None):
    """Create a float64 dataset with one dimension scale per axis, units and long name.

    Parameters
    ----------
    group : h5py.Group
    name : str
    scales : sequence of h5py.Dataset
        Dimension scales, one per axis.
    units, long_name : str
    data : array_like, optional
        Contents; otherwise an empty dataset of ``shape`` is created (filled later).
    """
    if data is not None:
        dset = group.create_dataset(name, data=np.asarray(data, dtype=np.float64))
    else:
        dset = group.create_dataset(name, shape=shape, dtype="f8")
    for axis, scale in enumerate(scales):
        dset.dims[axis].attach_scale(scale)
    set_attrs(dset, {"units": units, "long_name": long_name})
    return dset


def write_probe_scales(group, probe, n_channels):
    """Write the probe's type and parameters as attributes and its channel scale."""
    group.attrs["probe_type"] = probe.name
    group.attrs["probe_parameters"] = json.dumps(probe.parameters(), sort_keys=True, default=float)
    labels, label_units = probe.channel_labels(n_channels)
    return write_scale(group, "channel", labels, label_units, probe.channel_name)


def population_scales(group, post, pre):
    """The ``post`` and ``pre`` population scales of a tensor-shaped group."""
    return (
        write_scale(group, "post", post, "", "postsynaptic population Y"),
        write_scale(group, "pre", pre, "", "presynaptic population X"),
    )


def kernel_attrs(config, mode):
    """Root attributes of kernel files: provenance, mode and the kernel settings."""
    sim = config.simulation
    settings = {key: sim[key] for key in ("tau", "vrest", "g_eff", "fir")}
    return {**provenance(config), "mode": mode, **settings}


def lag_axis(dt, n_steps, fir=False):
    """Kernel lags (ms): -tau..tau, or dt..tau for FIR kernels."""
    steps = np.arange(1, n_steps + 1) if fir else np.arange(-n_steps, n_steps + 1)
    return steps * dt


def provenance(config):
    """Root attributes every output of a config carries."""
    sim = config.simulation
    return {
        "config_file": str(config.source),
        "config_hash": config.hash,
        "dt": sim["dt"],
        "time_units": "ms",
        **versions(),
    }


def open_h5(path, what):
    """Open an existing HDF5 file for reading, or raise InputError naming it."""
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), f"{what} file not found")
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise InputError(
            str(path), f"cannot open as HDF5 (expected the {what} file): {err}"
        ) from None


# ----------------------------------------------------------------- pathway kernels
def write_kernel_file(path, config, pre, post, mode, results, extra_attrs=None, ensemble=None):
    """Write the kernels of one pathway to ``path`` atomically.

    Parameters
    ----------
    path : str or Path
    config : NetworkConfig
    pre, post : str
    mode : {"mean-field", "ensemble"}
    results : dict of str to dict of str to ndarray
        {probe name: {"kernel": (n_channels, n_lags), ["std": ...]}}.
    extra_attrs : dict, optional
        More root attributes (e.g. realizations, seed).
    ensemble : dict, optional
        Ensemble settings used ({realizations, seed}) where they differ from the config.

    Notes
    -----
    The root attributes ``pathway_hash`` and ``pathway_inputs`` (JSON) record what the
    kernels were computed from
    (:meth:`~hpckernels.config.NetworkConfig.pathway_inputs`); each probe group has its
    ``pathway_hash`` with the probe included. Readers compare them with their
    config (:func:`kernel_file_differences`).
    """
    sim = config.simulation
    lags = lag_axis(sim["dt"], config.n_steps_tau, sim["fir"])
    with atomic_h5(path) as fh:
        set_attrs(
            fh,
            {
                **kernel_attrs(config, mode),
                "pre": pre,
                "post": post,
                "pathway_hash": config.pathway_hash(pre, post, mode, ensemble=ensemble),
                "pathway_inputs": json.dumps(
                    config.pathway_inputs(pre, post, mode, ensemble), sort_keys=True, default=float
                ),
                **(extra_attrs or {}),
            },
        )
        for name, arrays in results.items():
            probe = probe_type(config.probes[name], config.probes)
            group = fh.create_group(name)
            channel = write_probe_scales(group, probe, arrays["kernel"].shape[0])
            lag = write_scale(group, "lag", lags, "ms", LAG_NAME)
            for key, data in arrays.items():
                write_dataset(
                    group,
                    key,
                    (channel, lag),
                    probe.units,
                    f"{probe.name} per presynaptic spike"
                    if key == "kernel"
                    else f"standard deviation of {probe.name} across realizations",
                    data=data,
                )
            group.attrs["pathway_hash"] = config.pathway_hash(pre, post, mode, name, ensemble)


def differences(stored, current, path=""):
    """Where two JSON-like values differ: ``["connection.synapse.weight: 0.002 in the file,
    0.0045 in the config", ...]``."""
    if isinstance(stored, dict) and isinstance(current, dict):
        out = []
        for key in sorted(set(stored) | set(current)):
            where = f"{path}.{key}" if path else str(key)
            if key not in stored or key not in current:
                out.append(f"{where}: only in the {'config' if key in current else 'file'}")
            else:
                out += differences(stored[key], current[key], where)
        return out
    if isinstance(stored, list) and isinstance(current, list) and len(stored) == len(current):
        return [
            d
            for i, (a, b) in enumerate(zip(stored, current, strict=True))
            for d in differences(a, b, f"{path}[{i}]")
        ]
    if stored != current:
        return [f"{path}: {stored!s} in the file, {current!s} in the config"]
    return []


def kernel_file_differences(attrs, config, pre, post, mode):
    """What a pathway kernel file (its root attributes) has that the config does not.

    Returns
    -------
    list of str
        Empty when the file holds the kernels of pathway pre -> post of this config.
    """
    found = {key: text(attrs.get(key, "")) for key in ("pre", "post", "mode")}
    out = [
        f"{key} is {found[key] or 'missing'}, expected {want}"
        for key, want in (("pre", pre), ("post", post), ("mode", mode))
        if found[key] != want
    ]
    if out:
        return out
    if text(attrs.get("pathway_hash", "")) == config.pathway_hash(pre, post, mode):
        return []
    stored = attrs.get("pathway_inputs")
    current = json.loads(json.dumps(config.pathway_inputs(pre, post, mode), default=float))
    if stored is None:
        return ["computed from other inputs (the file does not record them)"]
    return differences(json.loads(text(stored)), current) or ["pathway hash differs"]


def read_kernel_group(path, probe, n_lags):
    """(arrays, root attributes) of one probe group of a pathway kernel file.

    Raises
    ------
    InputError
        Not HDF5 (truncated, empty), no group of the probe, or arrays of another shape.
    """
    with open_h5(path, "pathway kernel") as fh:
        if probe not in fh or not isinstance(fh[probe], h5py.Group) or "kernel" not in fh[probe]:
            raise InputError(
                str(path), f"no '{probe}/kernel' dataset: not a pathway kernel file of this probe"
            )
        group = fh[probe]
        arrays = {key: group[key][()] for key in ("kernel", "std") if key in group}
        shape = arrays["kernel"].shape
        if len(shape) != 2 or shape[1] != n_lags or any(a.shape != shape for a in arrays.values()):
            raise InputError(
                str(path), f"{probe}/kernel has shape {shape}, expected (channels, {n_lags} lags)"
            )
        if not all(np.all(np.isfinite(a)) for a in arrays.values()):
            raise InputError(str(path), f"{probe}: kernels contain non-finite values")
        return arrays, dict(fh.attrs)


# ------------------------------------------------------------------- kernel tensor
def write_tensor(path, config, mode, kernel_files, allow_stale=False):
    """Assemble pathway kernel files into one tensor per probe, atomically.

    Parameters
    ----------
    path : str or Path
        Output HDF5 file.
    config : NetworkConfig
    mode : str
    kernel_files : dict of (str, str, str) to path
        {(pre, post, probe): pathway kernel file}. Pathways without a connection are
        zero in the tensor.
    allow_stale : bool
        Use kernel files that do not belong to the config (they are listed in the
        tensor's ``stale_inputs`` attribute) instead of refusing them.

    Raises
    ------
    InputError
        A kernel file that belongs to another pathway, mode or config (naming the file
        and what differs), or whose arrays do not fit.

    Notes
    -----
    Per probe a group with dataset ``kernel`` (and ``std`` for ensembles) of shape
    (n_post, n_pre, n_channel, n_lag) and dimension scales post, pre, channel and lag;
    its attributes ``pathway_hashes`` and ``pathway_inputs`` (JSON, keyed
    ``"<post><-<pre>"``) record what each pathway was computed from.
    """
    names = list(config.populations)
    n = len(names)
    sim = config.simulation
    lags = lag_axis(sim["dt"], config.n_steps_tau, sim["fir"])
    stale = {}
    groups = {}
    for name, spec in config.probes.items():
        arrays, hashes, inputs = {}, {}, {}
        for (pre, post, probe_name), file in kernel_files.items():
            if probe_name != name:
                continue
            data, attrs = read_kernel_group(file, name, lags.size)
            found = kernel_file_differences(attrs, config, pre, post, mode)
            if found and not allow_stale:
                raise InputError(
                    str(file),
                    f"not the {mode} kernels of {pre}->{post} of "
                    f"this config: {'; '.join(found[:3])}"
                    " (--allow-stale uses it anyway)",
                )
            if found:
                stale[str(file)] = found
            for key, value in data.items():
                arrays.setdefault(key, np.zeros((n, n, *value.shape)))
                if arrays[key].shape[2:] != value.shape:
                    raise InputError(
                        str(file),
                        f"{name} has {value.shape[0]} channels, the "
                        f"other pathways {arrays[key].shape[2]}",
                    )
                arrays[key][names.index(post), names.index(pre)] = value
            hashes[f"{post}<-{pre}"] = config.pathway_hash(pre, post, mode, name)
            inputs[f"{post}<-{pre}"] = json.loads(text(attrs.get("pathway_inputs", "{}")))
        groups[name] = (probe_type(spec, config.probes), arrays, hashes, inputs)
    with atomic_h5(path) as fh:
        set_attrs(
            fh,
            {
                **kernel_attrs(config, mode),
                "description": "H[post, pre]: signal per spike of one presynaptic "
                "neuron, summed over the postsynaptic population; zero "
                "where there is no connection",
                "stale_inputs": json.dumps(stale, sort_keys=True) if stale else None,
            },
        )
        for name, (probe, arrays, hashes, inputs) in groups.items():
            group = fh.create_group(name)
            post_scale, pre_scale = population_scales(group, names, names)
            channel = write_probe_scales(group, probe, next(iter(arrays.values())).shape[2])
            lag = write_scale(group, "lag", lags, "ms", LAG_NAME)
            for key, data in arrays.items():
                write_dataset(
                    group,
                    key,
                    (post_scale, pre_scale, channel, lag),
                    probe.units,
                    f"{probe.name} per presynaptic spike",
                    data=data,
                )
            group.attrs["pathway_hashes"] = json.dumps(hashes, sort_keys=True)
            group.attrs["pathway_inputs"] = json.dumps(inputs, sort_keys=True, default=float)


def tensor_differences(tensor, config):
    """What a kernel tensor was computed from that the config does not say.

    Returns
    -------
    list of str
        Empty when every pathway and probe of the tensor belongs to the config.
    """
    mode = text(tensor.attrs.get("mode", "mean-field"))
    out = []
    if list(tensor.post) != list(config.populations):
        out.append(
            f"populations {tensor.post} differ from the config's {list(config.populations)}"
        )
        return out
    missing = sorted(set(config.probes) - set(tensor.probes))
    if missing:
        out.append(f"no kernels of probes {missing}")
    for name, probe in tensor.probes.items():
        if name not in config.probes:
            out.append(f"probe {name} is not in the config")
            continue
        stored = json.loads(probe.pathway_hashes or "{}")
        inputs = json.loads(probe.pathway_inputs or "{}")
        expected = {
            f"{p.post}<-{p.pre}": config.pathway_hash(p.pre, p.post, mode, name)
            for p in config.pathways()
        }
        for key in sorted(set(stored) | set(expected)):
            if stored.get(key) == expected.get(key):
                continue
            if key not in expected or key not in stored:
                out.append(
                    f"{name}: pathway {key} only in the {'tensor' if key in stored else 'config'}"
                )
                continue
            post, pre = key.split("<-")
            current = json.loads(json.dumps(config.pathway_inputs(pre, post, mode), default=float))
            found = differences(inputs.get(key, {}), current)
            spec = {k: v for k, v in config.probes[name].items() if k != "type"}
            found += differences(
                json.loads(probe.parameters or "{}"),
                json.loads(json.dumps(spec, default=float)),
                name,
            )
            out.append(f"{name} {key}: " + ("; ".join(found[:3]) or "pathway hash differs"))
    return out


@dataclass
class ProbeTensor:
    """One probe group of a kernel tensor file."""

    name: str
    probe_type: str
    kernel: np.ndarray  # (n_post, n_pre, n_channel, n_lag)
    lags: np.ndarray  # ms
    units: str
    channel: np.ndarray
    channel_units: str
    channel_name: str
    parameters: str  # JSON
    pathway_hashes: str = ""  # JSON
    pathway_inputs: str = ""  # JSON


@dataclass
class KernelTensor:
    """A kernel tensor file: populations, provenance and one :class:`ProbeTensor` per probe."""

    path: Path
    attrs: dict
    post: list
    pre: list
    probes: dict = field(default_factory=dict)


def read_tensor(path):
    """Read every probe group of a kernel tensor file (layout of :func:`write_tensor`).

    Raises
    ------
    InputError
        Not an HDF5 file, not a kernel tensor, inconsistent shapes or non-finite kernels.
    """
    tensor = None
    with open_h5(path, "kernel tensor") as fh:
        for name, group in fh.items():
            if not isinstance(group, h5py.Group) or "kernel" not in group:
                continue
            where = f"{path}: group {name}"
            for key in ("post", "pre", "lag", "channel"):
                if key not in group:
                    raise InputError(where, f"missing dataset '{key}': not a kernel tensor")
            post = [text(v) for v in group["post"][()]]
            pre = [text(v) for v in group["pre"][()]]
            kernel = group["kernel"][()]
            lags = group["lag"][()]
            if (
                kernel.ndim != 4
                or kernel.shape[:2] != (len(post), len(pre))
                or kernel.shape[3] != lags.size
            ):
                raise InputError(
                    where,
                    f"kernel shape {kernel.shape} is not (n_post="
                    f"{len(post)}, n_pre={len(pre)}, channel, "
                    f"n_lag={lags.size})",
                )
            if not np.all(np.isfinite(kernel)):
                raise InputError(where, "kernel contains non-finite values")
            if tensor is None:
                tensor = KernelTensor(Path(path), dict(fh.attrs), post, pre)
            elif (post, pre) != (tensor.post, tensor.pre):
                raise InputError(
                    where,
                    f"populations post={post}, pre={pre} differ from "
                    f"those of the other probes ({tensor.post}, "
                    f"{tensor.pre})",
                )
            channel = group["channel"]
            tensor.probes[name] = ProbeTensor(
                name=name,
                probe_type=text(group.attrs.get("probe_type", "")),
                kernel=kernel,
                lags=lags,
                units=text(group["kernel"].attrs.get("units", "")),
                channel=channel[()],
                channel_units=text(channel.attrs.get("units", "")),
                channel_name=text(channel.attrs.get("long_name", "channel")),
                parameters=text(group.attrs.get("probe_parameters", "{}")),
                pathway_hashes=text(group.attrs.get("pathway_hashes", "")),
                pathway_inputs=text(group.attrs.get("pathway_inputs", "")),
            )
    if tensor is None:
        raise InputError(str(path), "no probe group with a 'kernel' dataset: not a kernel tensor")
    return tensor


# ------------------------------------------------------------------------- signals
class SignalsWriter:
    """Writes a signals file block by block (inside :func:`atomic_h5`).

    Parameters
    ----------
    fh : h5py.File
        Open output file.
    tensor : KernelTensor
        The kernels: populations, probes, units and channel scales are copied.
    n_bins : int
        Length of the time axis.
    pathways : bool
        Also create ``pathways`` datasets.
    count_scales : dict
        Count scale per presynaptic population.
    """

    def __init__(self, fh, tensor, n_bins, pathways, count_scales):
        rates = fh.create_group("rates")
        self.rates_time = self._time_scale(rates, n_bins)
        population = write_scale(rates, "population", tensor.pre, "", "presynaptic population X")
        self.counts = write_dataset(
            rates,
            "counts",
            (population, self.rates_time),
            "spikes per bin",
            "spike count per bin, scaled to the population size",
            shape=(len(tensor.pre), n_bins),
        )
        self.counts.attrs["count_scale"] = np.array([count_scales[x] for x in tensor.pre])
        self.probes = {}
        for name, probe in tensor.probes.items():
            group = fh.create_group(name)
            set_attrs(
                group, {"probe_type": probe.probe_type, "probe_parameters": probe.parameters}
            )
            channel = write_scale(
                group, "channel", probe.channel, probe.channel_units, probe.channel_name
            )
            post_scale, pre_scale = population_scales(group, tensor.post, tensor.pre)
            time = self._time_scale(group, n_bins)
            n_channels = probe.kernel.shape[2]
            total = write_dataset(
                group,
                "total",
                (channel, time),
                probe.units,
                f"{probe.probe_type or name} summed over pathways",
                shape=(n_channels, n_bins),
            )
            per = None
            if pathways:
                per = write_dataset(
                    group,
                    "pathways",
                    (post_scale, pre_scale, channel, time),
                    probe.units,
                    "contribution of pathway pre -> post",
                    shape=(len(tensor.post), len(tensor.pre), n_channels, n_bins),
                )
            self.probes[name] = (total, per, time)

    @staticmethod
    def _time_scale(group, n_bins):
        scale = group.create_dataset("time", shape=(n_bins,), dtype="f8")
        scale.make_scale("time")
        set_attrs(scale, {"units": "ms", "long_name": "time (left edge of the bin)"})
        return scale

    def write_counts(self, start, counts, times):
        """Scaled spike counts (n_pre, m) of bins start..start+m and their times (ms)."""
        stop = start + counts.shape[1]
        self.counts[:, start:stop] = counts
        self.rates_time[start:stop] = times

    def write_block(self, block, times):
        """One :class:`~hpckernels.convolution.SignalBlock` and its bin times (ms)."""
        a, b = block.start, block.start + block.size
        for name, (total, per, time) in self.probes.items():
            total[:, a:b] = block.total[name]
            time[a:b] = times
            if per is not None:
                per[..., a:b] = block.pathways[name]


# ------------------------------------------------------------------ SONATA spikes
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


# ----------------------------------------------------------------- response cache
def write_response(path, imem, geometry, dt, key, columns=None):
    """Store membrane currents (nA) and their segment geometry (um) in a cache file.

    Parameters
    ----------
    imem : ndarray, shape (n_segments, n_lags) or (n_columns, n_segments, n_lags)
        A response, or the responses to unit events on the segments ``columns``.
    key : str
        Content hash of what the response was computed from.
    columns : ndarray of int, optional
        Segment of each unit event (3-d ``imem``).
    """
    with atomic_h5(path) as fh:
        segment = write_scale(fh, "segment", np.arange(imem.shape[-2]), "", "segment index")
        lag = write_scale(fh, "lag", np.arange(imem.shape[-1]) * dt, "ms", LAG_NAME)
        scales = (segment, lag)
        if imem.ndim == 3:
            column = write_scale(fh, "column", columns, "", "segment of the unit event")
            scales = (column, segment, lag)
        write_dataset(
            fh, "imem", scales, "nA", "membrane current per segment at lags 0..tau", data=imem
        )
        for key_ in ("x", "y", "z", "d"):
            fh.create_dataset(key_, data=getattr(geometry, key_)).attrs["units"] = "um"
        set_attrs(fh, {"dt": dt, "content_hash": key, **versions()})


def read_response(path, n_lags, key=None):
    """(imem, lfpykit.CellGeometry, columns or None) of a cached response, or None if it
    is unreadable or does not fit (another number of lags, of segments than its
    geometry, or another content hash than ``key``)."""
    import lfpykit

    try:
        with h5py.File(path, "r") as fh:
            imem = fh["imem"][()]
            coordinates = {k: fh[k][()] for k in ("x", "y", "z", "d")}
            columns = fh["column"][()] if "column" in fh else None
            stored_key = text(fh.attrs.get("content_hash", ""))
    except (OSError, KeyError, TypeError):
        return None
    if (
        imem.ndim not in (2, 3)
        or imem.shape[-1] != n_lags
        or (key is not None and stored_key != key)
        or not np.all(np.isfinite(imem))
        or any(len(v) != imem.shape[-2] for v in coordinates.values())
        or (imem.ndim == 3) != (columns is not None)
        or (columns is not None and columns.shape != imem.shape[:1])
    ):
        return None
    return imem, lfpykit.CellGeometry(**coordinates), columns


# --------------------------------------------------------------------- basis files
def write_basis(path, config, basis):
    """Write a population's impulse-response basis atomically
    (:class:`~hpckernels.basis.PopulationBasis`).

    Layout: root attributes post, basis_hash, basis_inputs (JSON), provenance; group
    ``cell`` with the segment geometry (um), rest potential (mV), g_eff leak (S/cm2)
    and ``placement/<pre>`` (pmf over segments) of every connection into ``post``;
    group ``kinetics/<label>`` per synapse kinetics with attribute ``synapse`` (JSON),
    scales ``column`` (segment of each unit event) and ``lag`` (ms) and per probe
    ``<probe>/response`` (channel, column, lag): the probe's signal per nA of a unit
    event at lag 0.
    """
    inputs = config.basis_inputs(basis.post)
    with atomic_h5(path) as fh:
        set_attrs(
            fh,
            {
                **provenance(config),
                "post": basis.post,
                "tau": basis.n_steps * basis.dt,
                "n_steps": basis.n_steps,
                "unit_weight_nA": 1.0,
                "basis_hash": basis.basis_hash,
                "basis_inputs": json.dumps(inputs, sort_keys=True, default=float),
                "description": "responses to one current-based synaptic event of 1 nA at "
                "lag 0 on each segment of the linearized cell, projected onto the probes",
            },
        )
        cell = fh.create_group("cell")
        segment = write_scale(cell, "segment", np.arange(basis.n_segments), "", "segment index")
        end = write_scale(cell, "end", np.array([0, 1]), "", "segment start (0) and end (1)")
        for key in ("x", "y", "z"):
            write_dataset(
                cell,
                key,
                (segment, end),
                "um",
                f"{key} of the segment ends",
                data=getattr(basis.geometry, key),
            )
        write_dataset(cell, "d", (segment,), "um", "segment diameter", data=basis.geometry.d)
        write_dataset(cell, "vrest", (segment,), "mV", "rest potential", data=basis.vrest)
        write_dataset(
            cell,
            "leak_shift",
            (segment,),
            "S/cm2",
            "g_eff added to the leak",
            data=basis.leak_shift,
        )
        placement = cell.create_group("placement")
        for pre, pmf in basis.placements.items():
            write_dataset(
                placement,
                pre,
                (segment,),
                "",
                f"probability that a synapse {pre}->{basis.post} lands on the segment",
                data=pmf,
            )
        lags = np.arange(basis.n_steps + 1) * basis.dt
        kinetics_group = fh.create_group("kinetics")
        for label, kinetics in basis.kinetics.items():
            group = kinetics_group.create_group(label)
            group.attrs["synapse"] = json.dumps(kinetics.synapse, sort_keys=True)
            column = write_scale(
                group, "column", kinetics.columns, "", "segment of the unit event"
            )
            lag = write_scale(group, "lag", lags, "ms", LAG_NAME)
            for name, response in kinetics.responses.items():
                probe = probe_type(config.probes[name], config.probes)
                sub = group.create_group(name)
                channel = write_probe_scales(sub, probe, response.shape[0])
                write_dataset(
                    sub,
                    "response",
                    (channel, column, lag),
                    f"{probe.units}/nA",
                    f"{probe.name} per nA of a unit event on the column's segment",
                    data=response,
                )


def read_basis(path):
    """The :class:`~hpckernels.basis.PopulationBasis` of a basis file and its root
    attributes.

    Raises
    ------
    InputError
        Not HDF5, not a basis file, or arrays that do not fit together.
    """
    import lfpykit

    from .basis import KineticsBasis, PopulationBasis

    with open_h5(path, "basis") as fh:
        if "cell" not in fh or "kinetics" not in fh or "post" not in fh.attrs:
            raise InputError(str(path), "not a basis file (hpckernels basis)")
        try:
            cell = fh["cell"]
            geometry = lfpykit.CellGeometry(**{key: cell[key][()] for key in ("x", "y", "z", "d")})
            n_steps = int(fh.attrs["n_steps"])
            basis = PopulationBasis(
                post=text(fh.attrs["post"]),
                dt=float(fh.attrs["dt"]),
                n_steps=n_steps,
                geometry=geometry,
                vrest=cell["vrest"][()],
                leak_shift=cell["leak_shift"][()],
                placements={pre: data[()] for pre, data in cell["placement"].items()},
                basis_hash=text(fh.attrs["basis_hash"]),
            )
            for label, group in fh["kinetics"].items():
                kinetics = KineticsBasis(
                    label=label,
                    synapse=json.loads(text(group.attrs["synapse"])),
                    columns=group["column"][()].astype(int),
                )
                for name, sub in group.items():
                    if isinstance(sub, h5py.Group) and "response" in sub:
                        kinetics.responses[name] = sub["response"][()]
                basis.kinetics[label] = kinetics
            attrs = dict(fh.attrs)
        except (KeyError, ValueError, TypeError) as err:
            raise InputError(str(path), f"damaged basis file: {err}") from None
    n_segments = basis.vrest.size
    for kinetics in basis.kinetics.values():
        for name, response in kinetics.responses.items():
            shape = (kinetics.columns.size, n_steps + 1)
            if response.ndim != 3 or response.shape[1:] != shape:
                raise InputError(
                    str(path),
                    f"{kinetics.label}/{name}/response has shape {response.shape}, "
                    f"expected (channels, {shape[0]}, {shape[1]})",
                )
            if not np.all(np.isfinite(response)):
                raise InputError(str(path), f"{kinetics.label}/{name}: non-finite responses")
        if kinetics.columns.size and not (
            0 <= kinetics.columns.min() <= kinetics.columns.max() < n_segments
        ):
            raise InputError(str(path), f"{kinetics.label}: columns outside the cell")
    if any(pmf.shape != (n_segments,) for pmf in basis.placements.values()):
        raise InputError(str(path), "placement arrays do not match the cell's segments")
    return basis, attrs


def basis_file_differences(attrs, config, post):
    """What a basis file (its root attributes) was computed from that the config does not
    say.

    Returns
    -------
    list of str
        Empty when the file holds the basis of population ``post`` of this config.
    """
    found = text(attrs.get("post", ""))
    if found != post:
        return [f"post is {found or 'missing'}, expected {post}"]
    if text(attrs.get("basis_hash", "")) == config.basis_hash(post):
        return []
    stored = attrs.get("basis_inputs")
    if stored is None:
        return ["computed from other inputs (the file does not record them)"]
    current = json.loads(json.dumps(config.basis_inputs(post), default=float))
    return differences(json.loads(text(stored)), current) or ["basis hash differs"]
