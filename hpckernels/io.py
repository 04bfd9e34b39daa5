"""HDF5 output: atomic writes, dimension scales, units and provenance."""

from __future__ import annotations

import contextlib
import json
import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import h5py
import numpy as np

from . import __version__, probes


def versions():
    """Versions of hpckernels and the simulators, for provenance attributes."""
    out = {"hpckernels_version": __version__}
    for key, dist in (("neuron_version", "neuron"), ("lfpy_version", "LFPy"),
                      ("lfpykit_version", "LFPykit")):
        try:
            out[key] = version(dist)
        except PackageNotFoundError:
            out[key] = "not installed"
    return out


@contextlib.contextmanager
def atomic_h5(path):
    """Open a temporary HDF5 file next to ``path``; rename it into place on success.

    A job killed while writing leaves only a hidden temporary file, never a
    file at ``path`` that looks complete.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with h5py.File(tmp, "w", track_order=True) as fh:
            yield fh
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def lag_axis(dt, n_steps, fir=False):
    """Kernel lags (ms): -tau..tau, or dt..tau for FIR kernels."""
    steps = np.arange(1, n_steps + 1) if fir else np.arange(-n_steps, n_steps + 1)
    return steps * dt


def write_scale(group, name, values, units, long_name):
    """Create a dimension-scale dataset."""
    data = np.asarray(values)
    if data.dtype.kind == "U":
        data = data.astype("S")
    scale = group.create_dataset(name, data=data)
    scale.make_scale(name)
    if units:
        scale.attrs["units"] = units
    scale.attrs["long_name"] = long_name
    return scale


def write_probe_group(fh, name, spec, arrays, lags):
    """One probe's kernel (and ensemble std) with channel and lag scales.

    Parameters
    ----------
    fh : h5py.File or h5py.Group
    name : str
        Probe name from the config.
    spec : dict
        Probe spec (``type`` and parameters).
    arrays : dict of str to ndarray
        ``kernel`` and optionally ``std``, each (n_channels, n_lags).
    lags : ndarray
        Lags (ms).
    """
    group = fh.create_group(name)
    n_channels = arrays["kernel"].shape[0]
    labels, label_units, long_name = probes.channel_labels(spec, n_channels)
    channel = write_scale(group, "channel", labels, label_units, long_name)
    lag = write_scale(group, "lag", lags, "ms", "time lag after the presynaptic spike")
    unit = probes.units(spec)
    for key, data in arrays.items():
        dset = group.create_dataset(key, data=data)
        dset.dims[0].attach_scale(channel)
        dset.dims[1].attach_scale(lag)
        dset.attrs["units"] = unit
        dset.attrs["long_name"] = (f"{spec['type']} per presynaptic spike" if key == "kernel"
                                   else f"standard deviation of {spec['type']} across "
                                        "realizations")
    group.attrs["probe_type"] = spec["type"]
    group.attrs["probe_parameters"] = json.dumps(
        {k: v for k, v in spec.items() if k != "type"}, sort_keys=True, default=float)
    return group


def write_kernel_file(path, config, pre, post, mode, results, extra_attrs=None):
    """Write the kernels of one pathway to ``path`` atomically.

    Parameters
    ----------
    path : str or Path
    config : NetworkConfig
    pre, post : str
    mode : {"mean-field", "ensemble"}
    results : dict of str to dict of str to ndarray
        {probe name: {"kernel": ..., ["std": ...]}}.
    extra_attrs : dict, optional
        More root attributes (e.g. realizations, seed).
    """
    sim = config.simulation
    lags = lag_axis(sim["dt"], config.n_steps_tau, sim["fir"])
    with atomic_h5(path) as fh:
        attrs = {
            "pre": pre, "post": post, "mode": mode,
            "dt": sim["dt"], "tau": sim["tau"], "vrest": sim["vrest"],
            "g_eff": sim["g_eff"], "fir": sim["fir"],
            "config_file": str(config.source),
            "config_hash": config.hash,
            "pathway_hash": config.pathway_hash(pre, post, mode),
            "time_units": "ms",
            **versions(),
            **(extra_attrs or {}),
        }
        for key, value in attrs.items():
            fh.attrs[key] = value
        for name, arrays in results.items():
            group = write_probe_group(fh, name, config.probes[name], arrays, lags)
            group.attrs["config_hash"] = config.pathway_hash(pre, post, mode, probe=name)
