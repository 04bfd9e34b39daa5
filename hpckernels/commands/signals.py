"""``hpckernels signals``: predicted signals of every probe from spikes and a kernel tensor.

Output layout (HDF5, written atomically)
----------------------------------------
root attributes
    ``config_hash``, versions (:func:`hpckernels.io.versions`), ``dt``, ``t_start``,
    ``t_stop``, ``time_units`` (``'ms'``), ``margin_before_ms`` and ``margin_after_ms``
    (spikes this far outside the window contribute to it), ``kernels_file``,
    ``kernels_sha256`` and, when the tensor has one, ``kernels_config_hash``;
    ``spike_files``, ``spike_format``, ``count_scales`` (JSON) and ``chunk_size``.
group ``rates``
    ``counts`` ``(population, time)`` float64, scaled spike counts per bin (units
    ``'spikes per bin'``); dimension scales ``population`` (names) and ``time`` (ms,
    bin left edges).
one group per probe of the tensor
    ``total`` ``(channel, time)`` and, unless ``signals.pathways`` is false, ``pathways``
    ``(post, pre, channel, time)``, both with the tensor kernel's ``units``; dimension
    scales ``channel`` (copied from the tensor), ``post``, ``pre`` and ``time``; group
    attributes ``probe_type`` and ``probe_parameters`` copied from the tensor.
"""

from __future__ import annotations

import glob
import hashlib
import json
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from . import output_path

#: spikes.format of the config -> format name of hpckernels.spikes.read_spike_times
FORMATS = {"sonata": "sonata", "nest_ascii": "nest3", "nest_gdf": "nest2", "hdf5": "hdf5",
           "npz": "npz"}


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "signals", help="predict LFP/EEG/MEG... from spikes and a kernel tensor",
        description="Convolve the spike counts of every population with the kernel tensor "
                    "KERNELS (from 'hpckernels assemble') and write the signal of every probe, "
                    "summed over pathways and per pathway, chunk by chunk in bounded memory. "
                    "Spikes: the config's 'spikes' section (format, files, populations), or "
                    "without one the SONATA file of 'hpckernels network'.")
    parser.add_argument("config", help="network config (YAML)")
    parser.add_argument("--kernels", required=True, metavar="KERNELS.h5",
                        help="kernel tensor (hpckernels assemble)")
    parser.add_argument("--spikes", nargs="+", metavar="FILE",
                        help="spike files (override spikes.files; required without a "
                             "spikes section: the SONATA file of 'hpckernels network')")
    parser.add_argument("-o", "--output", required=True, metavar="SIGNALS.h5",
                        help="output HDF5 file (written atomically)")
    parser.set_defaults(func=cmd_signals)
    return parser


# ---------------------------------------------------------------------------------------
# Kernel tensor
# ---------------------------------------------------------------------------------------


@dataclass
class Probe:
    name: str
    kernel: np.ndarray  # (n_post, n_pre, n_channel, n_lag), centred lags
    units: str
    channel: np.ndarray
    channel_attrs: dict
    attrs: dict


@dataclass
class Tensor:
    path: Path
    attrs: dict
    post: list
    pre: list
    probes: dict = field(default_factory=dict)


def _text(value):
    if isinstance(value, np.ndarray):
        value = value.ravel()[0] if value.size else ""
    return value.decode() if isinstance(value, bytes) else str(value)


def read_tensor(path, dt):
    """Read every probe group of a kernel tensor file (io.write_tensor layout)."""
    import h5py

    from ..signals import centered_kernel

    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "kernel tensor file not found")
    try:
        fh = h5py.File(path, "r")
    except OSError as err:
        raise InputError(str(path), f"cannot open as HDF5: {err}") from None
    with fh:
        attrs = dict(fh.attrs)
        tensor_dt = float(attrs.get("dt", dt))
        if abs(tensor_dt - dt) > 1e-9 * dt:
            raise InputError(str(path), f"kernel dt = {tensor_dt} ms differs from the config's "
                                        f"simulation.dt = {dt} ms")
        tensor = None
        for name, group in fh.items():
            if not isinstance(group, h5py.Group) or "kernel" not in group:
                continue
            where = f"{path}: group {name}"
            for key in ("post", "pre", "lag", "channel"):
                if key not in group:
                    raise InputError(where, f"missing dataset {key!r}: not a kernel tensor")
            post = [_text(v) for v in group["post"][()]]
            pre = [_text(v) for v in group["pre"][()]]
            kernel = group["kernel"][()]
            if kernel.ndim != 4 or kernel.shape[:2] != (len(post), len(pre)):
                raise InputError(where, f"kernel shape {kernel.shape} is not "
                                        f"(n_post={len(post)}, n_pre={len(pre)}, channel, lag)")
            try:
                kernel = centered_kernel(kernel, group["lag"][()], dt)
            except ValueError as err:
                raise InputError(where, str(err)) from None
            if not np.all(np.isfinite(kernel)):
                raise InputError(where, "kernel contains non-finite values")
            if tensor is None:
                tensor = Tensor(path, attrs, post, pre)
            elif (post, pre) != (tensor.post, tensor.pre):
                raise InputError(where, f"populations post={post}, pre={pre} differ from "
                                        f"those of the other probes ({tensor.post}, {tensor.pre})")
            channel = group["channel"]
            tensor.probes[name] = Probe(
                name=name, kernel=kernel, units=_text(group["kernel"].attrs.get("units", "")),
                channel=channel[()],
                channel_attrs={k: _text(channel.attrs[k]) for k in ("units", "long_name")
                               if k in channel.attrs},
                attrs={k: group.attrs[k] for k in ("probe_type", "probe_parameters")
                       if k in group.attrs})
    if tensor is None:
        raise InputError(str(path), "no probe group with a 'kernel' dataset: not a kernel tensor")
    return tensor


# ---------------------------------------------------------------------------------------
# Spikes
# ---------------------------------------------------------------------------------------


@dataclass
class SpikeSource:
    format: str  # hpckernels.spikes format name
    files: list
    populations: dict  # population -> reader selection
    datasets: dict  # population -> dataset name (hdf5 / npz)
    simulated_sizes: dict  # population -> simulated size or None
    sonata_names: dict  # population -> SONATA population read whole (size attribute)


def _expand(patterns, base, what):
    files = []
    for pattern in patterns:
        path = Path(pattern)
        if base is not None and not path.is_absolute():
            path = base / path
        if glob.has_magic(str(path)):
            matches = sorted(glob.glob(str(path)))
            if not matches:
                raise InputError(what, f"no file matches {path}")
            files += [Path(m) for m in matches]
        else:
            files.append(path)
    return files


def spike_source(config, spike_args):
    """Where the spikes are and how they map to populations (config or built-in network)."""
    section = config.data.get("spikes")
    if section is None:
        if not spike_args:
            raise InputError("--spikes", "required: the config has no 'spikes' section; give "
                                         "the SONATA file written by 'hpckernels network'")
        names = list(config.populations)
        return SpikeSource("sonata", _expand(spike_args, None, "--spikes"),
                           {n: n for n in names}, {}, dict.fromkeys(names),
                           {n: n for n in names})
    fmt = FORMATS[section["format"]]
    if spike_args:
        files = _expand(spike_args, None, "--spikes")
    else:
        files = _expand(section["files"], config.base_dir, "spikes.files")
    populations, datasets, simulated, sonata_names = {}, {}, {}, {}
    for name, spec in section["populations"].items():
        where = f"spikes.populations.{name}"
        ids = spec.get("node_ids")
        if ids is not None and ids[0] > ids[1]:
            raise InputError(f"{where}.node_ids", f"first node id {ids[0]} > last {ids[1]}")
        simulated[name] = spec.get("simulated_size",
                                   ids[1] - ids[0] + 1 if ids is not None else None)
        if fmt in ("nest3", "nest2"):
            if ids is None:
                raise InputError(f"{where}.node_ids",
                                 f"required for format {section['format']} (the senders of "
                                 "this population)")
            populations[name] = tuple(ids)
        elif fmt == "sonata":
            source = spec.get("sonata_population", name)
            populations[name] = source if ids is None else (source, *ids)
            if ids is None:
                sonata_names[name] = source
        else:
            datasets[name] = spec.get("dataset", name)
    return SpikeSource(fmt, files, populations, datasets, simulated, sonata_names)


def read_spikes(source):
    """Spike times (ms) per population from every file of ``source``."""
    from .. import spikes

    if source.format in ("nest3", "nest2"):
        return spikes.read_spike_times(source.files, source.populations, format=source.format,
                                       t_start=0.0)
    parts = {}
    for path in source.files:
        if source.format == "sonata":
            times = spikes.read_spike_times(path, source.populations, format="sonata",
                                            t_start=0.0)
        else:
            wanted = list(dict.fromkeys(source.datasets.values()))
            found = spikes.read_spike_times(path, wanted, format=source.format, t_start=0.0)
            times = {name: found[dataset] for name, dataset in source.datasets.items()}
        for name, values in times.items():
            parts.setdefault(name, []).append(values)
    return {name: np.sort(np.concatenate(p)) for name, p in parts.items()}


def sonata_simulated_sizes(source):
    """``simulated_size`` attributes of /spikes/<population> of SONATA files, if any."""
    import h5py

    found = {}
    for path in source.files:
        with h5py.File(path, "r") as fh:
            for name, sonata in source.sonata_names.items():
                group = fh.get(f"spikes/{sonata}")
                if group is not None and "simulated_size" in group.attrs and name not in found:
                    found[name] = int(np.asarray(group.attrs["simulated_size"]).ravel()[0])
    return found


def count_scales(config, source, names):
    """Population size / simulated size per population (1 when unknown)."""
    from ..signals import count_scale

    simulated = dict(source.simulated_sizes)
    if source.format == "sonata":
        for name, size in sonata_simulated_sizes(source).items():
            if simulated.get(name) is None:
                simulated[name] = size
    network = config.data.get("network")
    scales = {}
    for name in names:
        if name not in config.populations:
            raise InputError(f"populations.{name}",
                             f"population of the spikes and kernels missing from the config; "
                             f"config populations are {', '.join(config.populations)}")
        size = config.populations[name]["size"]
        n = simulated.get(name)
        if n is None and network is not None and "spikes" not in config.data:
            n = max(1, int(np.floor(size * network.get("scale", 1.0) + 0.5)))  # as network.py
        if n is not None and n < 1:
            raise InputError(f"spikes.populations.{name}", f"simulated size {n} must be >= 1")
        scales[name] = count_scale(size, n)
    return scales


# ---------------------------------------------------------------------------------------
# Command
# ---------------------------------------------------------------------------------------


def _window(config):
    from ..signals import n_bins

    settings = config.data.get("signals", {})
    network = config.data.get("network")
    t_start = float(settings.get("t_start", 0.0))
    if "t_stop" in settings:
        t_stop = float(settings["t_stop"])
        key = "signals.t_stop"
    elif network is not None:
        t_stop = float(network["duration"])
        key = "network.duration"
    else:
        raise InputError("signals.t_stop", "required when the config has no network section "
                                           "(end of the spike recording to use, ms)")
    if network is not None and t_stop > network["duration"] * (1 + 1e-12):
        raise InputError(key, f"{t_stop} ms is after the end of the network simulation "
                              f"(network.duration = {network['duration']} ms)")
    dt = float(config.simulation["dt"])
    try:
        n = n_bins(t_start, t_stop, dt)
    except ValueError as err:
        raise InputError(key if t_stop > t_start else "signals.t_start",
                         f"{err}; t_stop - t_start must be a positive multiple of "
                         "simulation.dt") from None
    return t_start, t_stop, dt, n


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _string_scale(group, name, values, long_name):
    import h5py

    scale = group.create_dataset(name, data=np.array(values, dtype=object),
                                 dtype=h5py.string_dtype())
    scale.make_scale(name)
    scale.attrs["long_name"] = long_name
    return scale


def _time_scale(group, n):
    scale = group.create_dataset("time", shape=(n,), dtype="f8")
    scale.make_scale("time")
    scale.attrs["units"] = "ms"
    scale.attrs["long_name"] = "time (left edge of the bin)"
    return scale


def _dataset(group, name, shape, scales, units, long_name):
    dset = group.create_dataset(name, shape=shape, dtype="f8")
    for axis, scale in enumerate(scales):
        dset.dims[axis].attach_scale(scale)
    dset.attrs["units"] = units
    dset.attrs["long_name"] = long_name
    return dset


def cmd_signals(args):
    from .. import io, spikes
    from ..config import NetworkConfig
    from ..signals import (
        default_chunk_size,
        iter_population_counts,
        iter_window_signals,
        signal_margins,
        time_axis,
    )

    started = time.monotonic()
    config = NetworkConfig.from_file(args.config)
    output = output_path(args.output)
    settings = config.data.get("signals", {})
    t_start, t_stop, dt, n = _window(config)
    tensor = read_tensor(args.kernels, dt)
    source = spike_source(config, args.spikes)
    for path in source.files:
        if path.resolve() == output.resolve() or Path(args.kernels).resolve() == output.resolve():
            raise InputError("-o/--output", f"{output} is also an input file")
        if not path.is_file():
            raise spikes.SpikeInputError(path, "file not found")

    names = list(dict.fromkeys(tensor.pre + tensor.post))
    label = f"spikes ({', '.join(str(p) for p in source.files)})"
    spikes.check_population_names(
        list(source.populations) + list(source.datasets), names,
        found_label=label, expected_label=f"kernel tensor {tensor.path}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", spikes.SpikeUnitsWarning)
        times = read_spikes(source)
        everything = np.concatenate([np.empty(0), *times.values()])
        spikes._warn_if_seconds(", ".join(str(p) for p in source.files), everything,
                                t_start, t_stop)
    for warning in caught:
        print(f"hpckernels: warning: {warning.message}", file=sys.stderr)
    scales = count_scales(config, source, tensor.pre)

    pathways = bool(settings.get("pathways", True))
    n_lags = max(p.kernel.shape[-1] for p in tensor.probes.values())
    chunk = int(settings.get("chunk_size", default_chunk_size(n_lags)))
    pre, post = tensor.pre, tensor.post
    before, after = signal_margins({name: p.kernel for name, p in tensor.probes.items()},
                                   t_start, dt)
    with io.atomic_h5(output) as fh:
        root = {"config_file": str(config.source), "config_hash": config.hash,
                **io.versions(), "dt": dt, "t_start": t_start, "t_stop": t_stop,
                "time_units": "ms", "kernels_file": str(tensor.path),
                "kernels_sha256": _sha256(tensor.path),
                "spike_files": json.dumps([str(p) for p in source.files]),
                "spike_format": source.format,
                "count_scales": json.dumps(scales, sort_keys=True),
                "chunk_size": chunk, "pathways": pathways,
                "description": "V(R, t) = sum_X sum_Y (nu_X * H_YX)(R, t): scaled spike counts "
                               "per bin convolved with the kernel tensor; lag 0 of a kernel "
                               "lines up with the spike's own bin; spikes up to the kernels' "
                               "reach outside [t_start, t_stop) contribute (margins)",
                "margin_before_ms": before * dt, "margin_after_ms": after * dt}
        if "config_hash" in tensor.attrs:
            root["kernels_config_hash"] = _text(tensor.attrs["config_hash"])
        for key, value in root.items():
            fh.attrs[key] = value

        rates = fh.create_group("rates")
        rates_time = _time_scale(rates, n)
        population = _string_scale(rates, "population", pre, "presynaptic population X")
        counts = _dataset(rates, "counts", (len(pre), n), (population, rates_time),
                          "spikes per bin", "spike count per bin, scaled to the population size")
        counts.attrs["count_scale"] = np.array([scales[x] for x in pre])
        outputs = {}
        for name, probe in tensor.probes.items():
            group = fh.create_group(name)
            for key, value in probe.attrs.items():
                group.attrs[key] = value
            channel = io.write_scale(group, "channel", probe.channel,
                                     probe.channel_attrs.get("units", ""),
                                     probe.channel_attrs.get("long_name", "channel"))
            post_scale = _string_scale(group, "post", post, "postsynaptic population Y")
            pre_scale = _string_scale(group, "pre", pre, "presynaptic population X")
            group_time = _time_scale(group, n)
            n_channels = probe.kernel.shape[2]
            total = _dataset(group, "total", (n_channels, n), (channel, group_time), probe.units,
                             f"{probe.attrs.get('probe_type', name)} summed over pathways")
            per = None
            if pathways:
                per = _dataset(group, "pathways", (len(post), len(pre), n_channels, n),
                               (post_scale, pre_scale, channel, group_time), probe.units,
                               "contribution of pathway pre -> post")
            outputs[name] = (total, per, group_time)

        at = 0
        for piece in iter_population_counts(times, pre, t_start, t_stop, dt, scales=scales,
                                            chunk_size=chunk):
            m = piece.shape[1]
            counts[:, at:at + m] = piece
            rates_time[at:at + m] = time_axis(t_start, dt, at, at + m)
            at += m
        kernels = {name: probe.kernel for name, probe in tensor.probes.items()}
        for block in iter_window_signals(times, pre, kernels, t_start, t_stop, dt,
                                         scales=scales, chunk_size=chunk, pathways=pathways):
            a, b = block.start, block.start + block.size
            t = time_axis(t_start, dt, a, b)
            for name, signal in block.probes.items():
                total, per, group_time = outputs[name]
                total[:, a:b] = signal.total
                group_time[a:b] = t
                if per is not None:
                    per[..., a:b] = signal.pathways
    n_spikes = sum(v.size for v in times.values())
    print(f"[hpckernels] signals: {t_stop - t_start:g} ms ({t_start:g}..{t_stop:g} ms) = {n} "
          f"bins of {dt:g} ms, {n_spikes} spikes read (count scales "
          f"{', '.join(f'{x} {scales[x]:.4g}' for x in pre)}), probes "
          f"{', '.join(tensor.probes)}{' with pathways' if pathways else ''}: wrote {output} "
          f"({time.monotonic() - started:.2f} s)", file=sys.stderr)
    return 0
