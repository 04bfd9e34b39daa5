"""Response caches: membrane currents kept by the content hash of what determines them
(probes excluded), so that a probe edit needs no NEURON run.

A :class:`ResponseCache` is a folder with one HDF5 file per content hash: the
mean-field response of the ``neuron`` engine, or the per-segment responses of a basis
(:func:`hpckernels.inputs.basis_cache_key`). Engines take it as an object with
``load``, ``store`` and ``path``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from .h5 import (
    LAG_NAME,
    atomic_h5,
    open_h5,
    read,
    set_attrs,
    text,
    versions,
    write_dataset,
    write_scale,
)


class ResponseCache:
    """Folder of membrane-current responses, one HDF5 file per content hash.

    Parameters
    ----------
    directory : str or Path
    """

    def __init__(self, directory):
        self.directory = Path(directory)
        if self.directory.exists() and not self.directory.is_dir():
            raise InputError("--cache", f"{self.directory} exists and is not a folder")

    def path(self, key):
        """File of the response with content hash ``key``."""
        return self.directory / f"{key}.h5"

    def load(self, key, n_lags):
        """(imem, geometry, columns) of a stored response, or None (missing, unreadable or
        of another shape: then it is computed again and replaced)."""
        path = self.path(key)
        return read_response(path, n_lags, key) if path.is_file() else None

    def store(self, key, imem, geometry, dt, columns=None):
        """Store a response (written atomically)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        write_response(self.path(key), imem, geometry, dt, key, columns)


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
        with open_h5(path, "response cache") as fh:
            imem = read(fh["imem"])
            coordinates = {k: read(fh[k]) for k in ("x", "y", "z", "d")}
            columns = read(fh["column"]) if "column" in fh else None
            stored_key = text(fh.attrs.get("content_hash", ""))
    except (InputError, OSError, KeyError, TypeError):
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
