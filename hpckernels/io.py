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


# ------------------------------------------------------------------ response cache
def response_cache_path(cache_dir, config, pre, post):
    """Where the mean-field membrane-current response of a pathway is cached.

    The file name is the pathway's content hash (probes excluded), so editing a
    probe finds the response again while any change of the physics misses.
    """
    return Path(cache_dir) / f"{config.pathway_hash(pre, post, 'mean-field')}.h5"


def write_response(path, imem, geometry, dt, pathway_hash):
    """Store a membrane-current response (nA) and its segment geometry (um)."""
    with atomic_h5(path) as fh:
        dset = fh.create_dataset("imem", data=imem)
        dset.attrs["units"] = "nA"
        dset.attrs["long_name"] = "membrane current per segment at lags 0..tau"
        segment = write_scale(fh, "segment", np.arange(imem.shape[0]), "", "segment index")
        lag = write_scale(fh, "lag", np.arange(imem.shape[1]) * dt, "ms",
                          "time lag after the presynaptic spike")
        dset.dims[0].attach_scale(segment)
        dset.dims[1].attach_scale(lag)
        for key in ("x", "y", "z", "d"):
            fh.create_dataset(key, data=getattr(geometry, key)).attrs["units"] = "um"
        fh.attrs["dt"] = dt
        fh.attrs["pathway_hash"] = pathway_hash
        for key, value in versions().items():
            fh.attrs[key] = value


def read_response(path):
    """(imem, lfpykit.CellGeometry) from a cached response, or None if unreadable."""
    import lfpykit

    try:
        with h5py.File(path, "r") as fh:
            imem = fh["imem"][()]
            geometry = lfpykit.CellGeometry(**{k: fh[k][()] for k in ("x", "y", "z", "d")})
    except (OSError, KeyError):
        return None
    return imem, geometry


# ------------------------------------------------------------------ kernel tensor
def read_kernel_group(path, probe):
    """Arrays of one probe group of a pathway kernel file."""
    with h5py.File(path, "r") as fh:
        group = fh[probe]
        arrays = {key: group[key][()] for key in ("kernel", "std") if key in group}
        return arrays, dict(fh.attrs), group["channel"][()], group["lag"][()]


def write_tensor(path, config, mode, kernel_files):
    """Assemble pathway kernel files into one tensor per probe, atomically.

    Parameters
    ----------
    path : str or Path
        Output HDF5 file.
    config : NetworkConfig
    mode : str
    kernel_files : dict of (str, str, str) to path
        {(pre, post, probe): pathway kernel file}. Pathways without a
        connection are zero in the tensor.

    Notes
    -----
    Per probe a group with dataset ``kernel`` (and ``std`` for ensembles) of
    shape (n_post, n_pre, n_channel, n_lag) and dimension scales post, pre,
    channel and lag (ms).
    """
    names = list(config.populations)
    n = len(names)
    sim = config.simulation
    lags = lag_axis(sim["dt"], config.n_steps_tau, sim["fir"])
    with atomic_h5(path) as fh:
        attrs = {"mode": mode, "dt": sim["dt"], "tau": sim["tau"], "vrest": sim["vrest"],
                 "g_eff": sim["g_eff"], "fir": sim["fir"], "config_file": str(config.source),
                 "config_hash": config.hash, "time_units": "ms",
                 "description": "H[post, pre]: signal per spike of one presynaptic neuron, "
                                "summed over the postsynaptic population; zero where there "
                                "is no connection",
                 **versions()}
        for key, value in attrs.items():
            fh.attrs[key] = value
        for probe, spec in config.probes.items():
            group = fh.create_group(probe)
            arrays, hashes = {}, {}
            for (pre, post, name), file in kernel_files.items():
                if name != probe:
                    continue
                data, file_attrs, _, file_lags = read_kernel_group(file, probe)
                if not np.array_equal(file_lags, lags):
                    raise ValueError(f"{file}: lag axis differs from the config's")
                for key, value in data.items():
                    if key not in arrays:
                        arrays[key] = np.zeros((n, n, *value.shape))
                    arrays[key][names.index(post), names.index(pre)] = value
                hashes[f"{post}<-{pre}"] = file_attrs["pathway_hash"]
            text = h5py.string_dtype()
            post_scale = group.create_dataset("post", data=np.array(names, dtype=object),
                                              dtype=text)
            post_scale.make_scale("post")
            post_scale.attrs["long_name"] = "postsynaptic population Y"
            pre_scale = group.create_dataset("pre", data=np.array(names, dtype=object),
                                             dtype=text)
            pre_scale.make_scale("pre")
            pre_scale.attrs["long_name"] = "presynaptic population X"
            labels, label_units, long_name = probes.channel_labels(
                spec, next(iter(arrays.values())).shape[2])
            channel = write_scale(group, "channel", labels, label_units, long_name)
            lag = write_scale(group, "lag", lags, "ms", "time lag after the presynaptic spike")
            for key, data in arrays.items():
                dset = group.create_dataset(key, data=data)
                for axis, scale in enumerate((post_scale, pre_scale, channel, lag)):
                    dset.dims[axis].attach_scale(scale)
                dset.attrs["units"] = probes.units(spec)
            group.attrs["probe_type"] = spec["type"]
            group.attrs["probe_parameters"] = json.dumps(
                {k: v for k, v in spec.items() if k != "type"}, sort_keys=True, default=float)
            group.attrs["pathway_hashes"] = json.dumps(hashes, sort_keys=True)
