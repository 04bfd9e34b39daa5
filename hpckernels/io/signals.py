"""Signals files (``hpckernels signals``) and the output-format registry.

HDF5 layout
    ``rates/counts`` (population, time) and one group per probe with ``total``
    (channel, time) and optionally ``pathways`` (post, pre, channel, time), with
    dimension scales, units and provenance.

Output formats are one class each in :data:`SIGNAL_FORMATS` (``signals.format`` of
the config): a format opens a writer that takes the spike counts and signal blocks as
the convolution yields them, and reads a file back.
"""

from __future__ import annotations

import contextlib
import json
from typing import ClassVar

import h5py
import numpy as np

from ..errors import InputError
from ..registry import Registry
from .h5 import (
    atomic_h5,
    open_h5,
    population_scales,
    read,
    require_finite,
    set_attrs,
    text,
    write_dataset,
    write_scale,
)

#: Output formats of predicted signals by name (``signals.format``).
SIGNAL_FORMATS = Registry("signals format")


# ------------------------------------------------------------------------- writing
class HDF5SignalsWriter:
    """Writes a signals file block by block.

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
            require_finite(block.total[name], f"{name}/total")
            total[:, a:b] = block.total[name]
            time[a:b] = times
            if per is not None:
                per[..., a:b] = block.pathways[name]


# ------------------------------------------------------------------------- reading
def probe_groups(fh):
    """{name: probe_type} of every probe group of an open signals file, in file order."""
    return {
        name: text(obj.attrs["probe_type"])
        for name, obj in fh.items()
        if isinstance(obj, h5py.Group) and "probe_type" in obj.attrs
    }


def read_probe(fh, name):
    """One probe group of an open signals (or ground-truth) file.

    Returns
    -------
    dict
        ``name``, ``type`` (probe type name), ``total`` (n_channels, n_times) in
        ``units``, ``time`` (ms), ``channels`` (labels: str, bytes or numbers) and
        ``parameters`` (the probe's config parameters, {} when unreadable).
    """
    group = fh[name]
    for key in ("total", "time", "channel"):
        if key not in group:
            raise InputError(f"{fh.filename}:/{name}", f"probe group has no '{key}' dataset")
    try:
        parameters = json.loads(text(group.attrs.get("probe_parameters", "{}")))
    except ValueError:
        parameters = {}
    channels = read(group["channel"])
    return {
        "name": name,
        "type": text(group.attrs["probe_type"]),
        "total": np.asarray(read(group["total"]), dtype=float),
        "time": np.asarray(read(group["time"]), dtype=float),
        "channels": [c if isinstance(c, bytes | str) else c.item() for c in channels],
        "units": text(group["total"].attrs.get("units", "")),
        "parameters": parameters,
    }


class SignalFile:
    """The probe signals of a signals file (``hpckernels signals``) or a ground-truth file.

    Parameters
    ----------
    path : str or Path
    label : str
        How the file is named in messages and tables.

    Attributes
    ----------
    attrs : dict
        Root attributes.
    probes : dict of str to dict
        {name: {"total": (n_channels, n_times), "time", "channels", "units", "type"}}.
    """

    def __init__(self, path, label=None):
        self.path = path
        self.label = label or str(path)
        with open_h5(path, "signals") as fh:
            self.attrs = dict(fh.attrs)
            groups = probe_groups(fh)
            if not groups:
                raise InputError(str(path), "no probe group: not a signals or ground-truth file")
            self.probes = {}
            for name in groups:
                if "total" not in fh[name]:
                    raise InputError(
                        str(path),
                        f"{name} has no 'total' (a --cells run has only per-cell signals)",
                    )
                self.probes[name] = read_probe(fh, name)
            self.populations = {
                name: read(fh[name]["populations"]) for name in groups if "populations" in fh[name]
            }

    @property
    def config_hash(self):
        return text(self.attrs.get("config_hash", ""))

    @property
    def dt(self):
        return float(self.attrs["dt"])


# ------------------------------------------------------------------------- formats
class SignalsFormat:
    """An output format of predicted signals.

    A format writes, inside :meth:`open`, the file's root attributes, then the scaled
    spike counts and the signal blocks in time order (``write_counts(start, counts,
    times)`` and ``write_block(block, times)`` of the writer it yields), and reads a
    file back with :meth:`read`.
    """

    name: ClassVar[str]
    #: File name suffix of the format.
    suffix: ClassVar[str]

    def open(self, path, attrs, tensor, n_bins, pathways, count_scales, size=0):
        """Context manager yielding a writer of ``path`` (written atomically; ``size``:
        its estimated bytes)."""
        raise NotImplementedError

    def read(self, path, label=None):
        """The signals of a file (:class:`SignalFile`)."""
        raise NotImplementedError


@SIGNAL_FORMATS.register
class HDF5Signals(SignalsFormat):
    """The HDF5 layout of this module (readable with h5py and xarray/h5netcdf)."""

    name = "hdf5"
    suffix = ".h5"

    @contextlib.contextmanager
    def open(self, path, attrs, tensor, n_bins, pathways, count_scales, size=0):
        with atomic_h5(path, size) as fh:
            set_attrs(fh, attrs)
            yield HDF5SignalsWriter(fh, tensor, n_bins, pathways, count_scales)

    def read(self, path, label=None):
        return SignalFile(path, label)
