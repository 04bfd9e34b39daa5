"""HDF5 files of hpckernels: atomic writes, dimension scales, units and provenance.

Every output is written to a hidden temporary file that is renamed into place, so a
killed job never leaves a file that looks complete. Every dataset carries ``units``
and ``long_name`` and has dimension scales (so ``xarray.open_dataset(path,
engine="h5netcdf", group=...)`` shows named dimensions); every file carries the
config's content hash and the versions of hpckernels, NEURON, LFPy and LFPykit.
The layouts themselves are in the modules of :mod:`hpckernels.io`.
"""

from __future__ import annotations

import contextlib
import json
import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import h5py
import numpy as np

from .. import __version__
from ..errors import InputError

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
    return write_scale(group, "channel", labels, label_units, probe.axis.name)


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
