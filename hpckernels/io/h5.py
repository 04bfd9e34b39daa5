"""HDF5 files of hpckernels: atomic writes, checksums, dimension scales, units and
provenance.

Every output is written to a hidden temporary file that is renamed into place, so a
killed job never leaves a file that looks complete. Every dataset carries ``units``
and ``long_name`` and has dimension scales (so ``xarray.open_dataset(path,
engine="h5netcdf", group=...)`` shows named dimensions); every file carries the
config's content hash and the versions of hpckernels, NEURON, LFPy and LFPykit.
The layouts themselves are in the modules of :mod:`hpckernels.io`.

Integrity
    Every dataset carries the SHA-256 of its contents (attribute ``sha256``) and the
    file a ``checksum`` of all its attributes (those included), and the layout version
    ``hpckernels_format``. :func:`open_h5` refuses a file of hpckernels whose checksum or
    format does not match, :func:`read` a dataset whose contents do not: an edited,
    forged or damaged output is never taken for a result.
Writing
    Files up to :data:`IN_MEMORY_LIMIT` are built in memory and written to disk in one
    piece (a full disk is one line, never a crash of the HDF5 library); larger ones
    (long signals) are written in place after a check of the free space.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import shutil
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import h5py
import numpy as np

from .. import __version__
from ..errors import InputError
from ..resources import format_bytes, require_memory

#: Long name of the lag axis of kernels.
LAG_NAME = "time lag after the presynaptic spike"
#: Version of the file layouts: files of another version are refused by the readers.
FORMAT = 2
#: Largest output (bytes, estimated) that is built in memory before it is written.
IN_MEMORY_LIMIT = 1 << 30
#: Attributes of HDF5's dimension-scale machinery (object references, not content).
_SCALE_ATTRIBUTES = frozenset({"DIMENSION_LIST", "REFERENCE_LIST", "CLASS", "NAME"})
#: Rows hashed at a time when a large dataset's checksum is computed or verified.
_HASH_BLOCK = 1 << 24


class OutputError(InputError):
    """An output that cannot be written (no space, no permission, a read-only folder)."""


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
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM):
            raise _write_error(path, err) from None
        raise
    finally:
        if tmp.exists():
            tmp.unlink()


def _write_error(path, err):
    """The one-line error of an output that could not be written."""
    reason = os.strerror(err.errno) if err.errno else str(err)
    return OutputError(str(path), f"cannot write the output: {reason}")


def require_space(folder, size):
    """Raise OutputError unless ``folder`` has ``size`` bytes free (and some to spare)."""
    free = shutil.disk_usage(folder).free
    if size * 1.05 + (1 << 20) > free:
        raise OutputError(
            str(folder),
            f"not enough free disk space for the output: about {format_bytes(size)} "
            f"needed, {format_bytes(free)} free",
        )


@contextlib.contextmanager
def atomic_h5(path, size=0):
    """Open a new HDF5 file for writing; on success it is checksummed (:func:`seal`)
    and renamed into place at ``path``.

    Parameters
    ----------
    path : str or Path
    size : int
        Estimated size (bytes). Up to :data:`IN_MEMORY_LIMIT` the file is built in
        memory and written in one piece; beyond, it is written in place after a check
        that the disk has the room.

    Raises
    ------
    OutputError
        The output cannot be written (one line; nothing is left at ``path``).
    """
    path = Path(path)
    in_memory = size <= IN_MEMORY_LIMIT
    if not in_memory:
        require_space(path.parent, size)
    with atomic_path(path) as tmp:
        buffer = io.BytesIO() if in_memory else None
        try:
            fh = h5py.File(buffer if in_memory else tmp, "w", track_order=True)
        except OSError as err:
            raise _write_error(path, err) from None
        try:
            yield fh
            seal(fh)
        except NonFiniteError as err:
            with contextlib.suppress(Exception):
                fh.close()
            raise NonFiniteError(f"{path}:{err.where}", err.message) from None
        except BaseException:
            with contextlib.suppress(Exception):
                fh.close()
            raise
        try:
            fh.close()
            if in_memory:
                with open(tmp, "wb") as out:
                    out.write(buffer.getbuffer())
                    out.flush()
                    os.fsync(out.fileno())
        except OSError as err:
            raise _write_error(path, err) from None


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


class NonFiniteError(InputError):
    """Values to be written that are NaN or infinite."""


def require_finite(values, where):
    """Raise NonFiniteError (naming ``where``) unless every value is finite."""
    values = np.asarray(values)
    if not np.all(np.isfinite(values)):
        bad = int(np.size(values) - np.count_nonzero(np.isfinite(values)))
        raise NonFiniteError(
            where,
            f"{bad} of {values.size} computed values are not finite (NaN or infinite); "
            "nothing was written (are the config's magnitudes physical?)",
        )


def write_dataset(group, name, scales, units, long_name, data=None, shape=None, finite=True):
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
    finite : bool
        Refuse NaN and infinite values (NonFiniteError); False for datasets where NaN
        means "not defined" (metrics of silent channels).
    """
    if data is not None:
        data = np.asarray(data, dtype=np.float64)
        if finite:
            require_finite(data, f"{group.name.rstrip('/')}/{name}")
        dset = group.create_dataset(name, data=data)
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


# ---------------------------------------------------------------------- integrity
def _canonical(value):
    """An attribute value as plain JSON-able data (arrays as lists, bytes as text)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return (
            [_canonical(v) for v in value.tolist()]
            if value.dtype.kind == "O"
            else (value.tolist())
        )
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def dataset_hash(dset):
    """SHA-256 of a dataset's contents (C order; strings by their text)."""
    digest = hashlib.sha256()
    digest.update(repr((dset.shape, str(dset.dtype))).encode())
    if dset.dtype.kind == "O" or h5py.check_string_dtype(dset.dtype) is not None:
        digest.update(json.dumps([text(v) for v in np.ravel(dset[()])]).encode())
    elif dset.shape == () or dset.size == 0:
        digest.update(np.ascontiguousarray(dset[()]).tobytes())
    else:
        row = max(1, int(np.prod(dset.shape[1:])) * dset.dtype.itemsize)
        step = max(1, _HASH_BLOCK // row)
        for start in range(0, dset.shape[0], step):
            digest.update(np.ascontiguousarray(dset[start : start + step]).tobytes())
    return digest.hexdigest()


def attributes_hash(fh):
    """SHA-256 of every attribute of every object in a file (the root ``checksum``
    excepted; the datasets' ``sha256`` included)."""
    entries = []

    def add(name, obj):
        attrs = {
            key: _canonical(obj.attrs[key])
            for key in sorted(obj.attrs)
            if key not in _SCALE_ATTRIBUTES and not (name == "/" and key == "checksum")
        }
        kind = "dataset" if isinstance(obj, h5py.Dataset) else "group"
        entries.append([name, kind, attrs])

    add("/", fh)
    fh.visititems(lambda name, obj: add(name, obj))
    text_ = json.dumps(entries, sort_keys=True, default=str)
    return hashlib.sha256(text_.encode()).hexdigest()


def seal(fh):
    """Stamp a file that is complete: each dataset's ``sha256``, the layout version and
    the root ``checksum``."""
    datasets = []
    fh.visititems(
        lambda name, obj: datasets.append(obj) if isinstance(obj, h5py.Dataset) else None
    )
    for dset in datasets:
        dset.attrs["sha256"] = dataset_hash(dset)
    fh.attrs["hpckernels_format"] = FORMAT
    fh.attrs["checksum"] = attributes_hash(fh)


def verify(fh, path, what):
    """Raise InputError unless an open file of hpckernels is intact: its layout version
    and the checksum of its attributes."""
    found = fh.attrs.get("hpckernels_format")
    if found is None:
        raise InputError(
            str(path),
            f"has no checksum: not a {what} file written by this version of hpckernels "
            "(write it again)",
        )
    if int(found) != FORMAT:
        raise InputError(
            str(path),
            f"a {what} file of layout version {int(found)}, written by hpckernels "
            f"{text(fh.attrs.get('hpckernels_version', '?'))}; this version reads "
            f"{FORMAT} (write it again)",
        )
    if text(fh.attrs.get("checksum", "")) != attributes_hash(fh):
        raise InputError(
            str(path), f"checksum mismatch: the {what} file was changed after it was written"
        )


def read(dset):
    """A dataset's contents, after checking them against its ``sha256`` (InputError
    naming the file and dataset if they differ)."""
    # half the available memory at most: what is read is copied and sorted after
    require_memory(
        dset.size * dset.dtype.itemsize,
        f"{dset.file.filename}:{dset.name}",
        f"reading {dset.shape} values",
        share=0.5,
    )
    stored = text(dset.attrs.get("sha256", ""))
    if stored and stored != dataset_hash(dset):
        raise InputError(
            f"{dset.file.filename}:{dset.name}",
            "checksum mismatch: the data were changed after the file was written",
        )
    if not stored and "hpckernels_format" in dset.file.attrs:
        raise InputError(f"{dset.file.filename}:{dset.name}", "dataset without a checksum")
    return dset[()]


def open_h5(path, what, external=False):
    """Open an existing HDF5 file for reading, or raise InputError naming it.

    Files of hpckernels (they carry ``hpckernels_version`` or ``hpckernels_format``) are
    verified (:func:`verify`); ``external`` files (spikes of other simulators, NWB files
    of other tools) may lack them.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), f"{what} file not found")
    try:
        fh = h5py.File(path, "r")
    except OSError as err:
        raise InputError(
            str(path), f"cannot open as HDF5 (expected the {what} file): {err}"
        ) from None
    if not external or "hpckernels_version" in fh.attrs or "hpckernels_format" in fh.attrs:
        try:
            verify(fh, path, what)
        except InputError:
            fh.close()
            raise
    return fh


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
