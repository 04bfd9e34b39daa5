"""Kernels of one pathway for every probe of a config, mean-field or as an MPI ensemble.

Mean-field membrane-current responses can be kept in a :class:`ResponseCache`, keyed
by the content hash of everything that determines them (probes excluded), so that a
probe edit needs no NEURON run.
"""

from __future__ import annotations

import sys
from pathlib import Path

from . import engine, ensemble
from .errors import InputError
from .h5io import read_response, write_response


class ResponseCache:
    """Folder of mean-field membrane-current responses, one HDF5 file per pathway hash.

    Parameters
    ----------
    directory : str or Path
    """

    def __init__(self, directory):
        self.directory = Path(directory)
        if self.directory.exists() and not self.directory.is_dir():
            raise InputError("--cache", f"{self.directory} exists and is not a folder")

    def path(self, config, pre, post):
        """File of a pathway's response: its content hash with the probes left out."""
        return self.directory / f"{config.pathway_hash(pre, post, 'mean-field')}.h5"

    def load(self, config, pre, post):
        """(imem, geometry) of a stored response, or None (missing, unreadable or of
        another shape: then it is computed again and replaced)."""
        path = self.path(config, pre, post)
        return read_response(path, config.n_steps_tau + 1) if path.is_file() else None

    def store(self, config, pre, post, imem, geometry):
        """Store a response (written atomically)."""
        path = self.path(config, pre, post)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_response(
            path,
            imem,
            geometry,
            config.simulation["dt"],
            config.pathway_hash(pre, post, "mean-field"),
        )


def mean_field_kernels(config, pre, post, probes=None, cache=None, log=sys.stderr):
    """Mean-field kernels {probe: (n_channels, n_lags)} of pathway pre -> post.

    Parameters
    ----------
    config : NetworkConfig
    pre, post : str
    probes : list of str, optional
        Probes to compute (default all).
    cache : ResponseCache, optional
        Reuse (and store) the membrane-current response.
    log : file, optional
        Where to say that the cache was used.
    """
    stored = cache.load(config, pre, post) if cache is not None else None
    if stored is not None:
        if log is not None:
            print(
                f"[hpckernels] {pre}->{post}: membrane currents from cache "
                f"{cache.path(config, pre, post)} (no NEURON run)",
                file=log,
            )
        return engine.project_mean_field(config, pre, post, *stored, probes)
    with engine.PathwayModel(config, pre, post) as model:
        response = model.mean_field_response()
        geometry = model.geometry
    if cache is not None:
        cache.store(config, pre, post, response.imem, geometry)
    return engine.project_mean_field(config, pre, post, response.imem, geometry, probes)


def ensemble_kernels(config, pre, post, realizations, seed, comm, probes=None, log=sys.stderr):
    """Mean and standard deviation (ddof 1) of the kernels of ``realizations`` synapse
    realizations of pathway pre -> post, spread over the ranks of ``comm``.

    Returns
    -------
    dict or None
        On rank 0 {probe: {"kernel": mean, "std": std}}; None on the other ranks.
    """
    with engine.PathwayModel(config, pre, post) as model:
        moments = ensemble.ensemble_kernels(
            model,
            model.transformation_matrices(probes),
            realizations,
            seed,
            comm,
            label=f"{pre}->{post}",
            stream=log,
        )
    if moments is None:
        return None
    return {name: {"kernel": m.mean, "std": m.std(ddof=1)} for name, m in moments.items()}
