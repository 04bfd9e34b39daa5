"""Kernels of one pathway for every probe of a config, mean-field or as an MPI ensemble,
with one of two engines:

``basis`` (default)
    The impulse-response basis of the postsynaptic population (:mod:`hpckernels.basis`):
    one NEURON run per segment (spread over the MPI ranks), from which every pathway,
    probe and realization follows without NEURON. It is computed here for one pathway
    (:func:`compute_basis` with ``pres=[pre]``), or read from a basis file written by
    ``hpckernels basis`` for all pathways into the population.
``neuron`` (reference)
    One NEURON run per pathway (mean-field: every expected synapse at lag 0) or per
    realization (:class:`hpckernels.engine.PathwayModel`).

Membrane currents can be kept in a :class:`ResponseCache`, keyed by the content hash of
everything that determines them (probes excluded), so that a probe edit needs no NEURON
run: the mean-field response of the ``neuron`` engine, and the per-segment responses of
a basis as long as they take at most :data:`MAX_CACHED_BASIS` bytes.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from . import basis as basismod
from . import engine, ensemble
from .console import STDERR
from .errors import InputError
from .h5io import read_response, write_response
from .hashing import content_hash
from .resources import require_memory

#: Kernel engines of ``hpckernels kernel --engine``.
ENGINES = ("basis", "neuron")
#: Largest per-segment membrane-current basis (n_columns x n_segments x lags x 8 bytes)
#: that a ResponseCache keeps; larger ones are recomputed after a probe edit.
MAX_CACHED_BASIS = 512 * 2**20


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


def _say(log, text):
    if log is not None:
        print(f"[hpckernels] {text}", file=log, flush=True)


# ---------------------------------------------------------------------------- basis
def basis_cache_key(config, post, label, columns):
    """Content hash of a per-segment membrane-current basis (probes excluded)."""
    return content_hash(
        {
            "basis": config.basis_hash(post, with_probes=False),
            "kinetics": label,
            "columns": np.asarray(columns).tolist(),
        }
    )


def require_basis_memory(config, post, n_segments, pres=None):
    """Raise InputError (``simulation.dt``) unless the basis of ``post`` fits in memory: the
    responses of every kinetics (and their gathered copies and transforms, about 4 times)."""
    from .probes import check as probe_channels

    channels = sum(
        probe_channels(config.probe_spec(name, post), f"probes.{name}", config.probes)
        for name in basismod.ProbeStack(config).primary
    )
    n_kinetics = len(basismod.kinetics_groups(config, post, pres))
    require_memory(
        4 * 8 * n_kinetics * n_segments * channels * (config.n_steps_tau + 1),
        "simulation.dt",
        f"the basis of {post} ({n_kinetics} kinetics x {n_segments} segments x {channels} "
        f"channels x {config.n_steps_tau + 1} lags)",
    )


def compute_basis(config, post, comm, pres=None, cache=None, everywhere=True, log=STDERR):
    """The impulse-response basis of population ``post``, its NEURON runs spread over
    the ranks of ``comm``.

    Column k of each kinetics is simulated by rank k mod size; rank 0 gathers the
    columns in index order (every run starts from rest in a fresh ``finitialize``, so
    a column's numbers do not depend on the rank that computed it).

    Parameters
    ----------
    config : NetworkConfig
    post : str
    comm : mpi4py communicator or None
        None: this process alone (:class:`hpckernels.ensemble.SerialComm`).
    pres : list of str, optional
        Only the kinetics and segments of the connections from these populations
        (default: all connections into ``post``).
    cache : ResponseCache, optional
        Reuse (and store) per-segment membrane currents that fit :data:`MAX_CACHED_BASIS`.
    everywhere : bool
        Return the basis on every rank (else on rank 0, None elsewhere).
    log : file, optional
        Progress (rank 0).

    Returns
    -------
    PopulationBasis or None
    """
    comm = comm or ensemble.SerialComm()
    rank, size = comm.Get_rank(), comm.Get_size()
    stack = basismod.ProbeStack(config)
    groups = basismod.kinetics_groups(config, post, pres)
    started = time.monotonic()
    with basismod.UnitResponseModel(config, post) as model:
        result = model.empty_basis(post, config.basis_hash(post))
        matrices = stack.matrices_on(comm, result.geometry, post)
        M = np.concatenate([matrices[name] for name in stack.primary])
        n_lags = model.n_steps + 1
        for label, (synapse, connections) in groups.items():
            columns = basismod.basis_columns(result.placements, connections)
            cacheable = (
                cache is not None
                and columns.size * result.n_segments * n_lags * 8 <= MAX_CACHED_BASIS
            )
            key = basis_cache_key(config, post, label, columns) if cacheable else None
            stored = cache.load(key, n_lags) if cacheable and rank == 0 else None
            if stored is not None and (
                stored[0].shape[:2] != (columns.size, result.n_segments)
                or not np.array_equal(stored[2], columns)
            ):
                stored = None
            if comm.bcast(stored is not None, root=0):
                responses = None
                if rank == 0:
                    responses = np.stack([M @ imem for imem in stored[0]], axis=1)
                    _say(
                        log,
                        f"basis {post} {label}: membrane currents of {columns.size} "
                        f"segments from cache {cache.path(key)} (no NEURON run)",
                    )
            else:
                mine = {}
                share = range(rank, columns.size, size)
                for done, k in enumerate(share, 1):
                    imem = model.response(synapse, int(columns[k]))
                    mine[k] = (M @ imem, imem if cacheable else None)
                    if rank == 0 and done % max(1, len(share) // 4) == 0:
                        _say(
                            log,
                            f"basis {post} {label}: {done}/{len(share)} segment runs on "
                            f"rank 0 ({columns.size} on {size} rank(s); "
                            f"{time.monotonic() - started:.1f} s)",
                        )
                parts = comm.gather(mine, root=0)
                responses = None
                if rank == 0:
                    merged = {k: v for part in parts for k, v in part.items()}
                    responses = np.stack([merged[k][0] for k in range(columns.size)], axis=1)
                    if cacheable:
                        imem = np.stack([merged[k][1] for k in range(columns.size)])
                        cache.store(key, imem, result.geometry, model.dt, columns)
                    _say(
                        log,
                        f"basis {post} {label}: {columns.size} segment runs on {size} "
                        f"rank(s) ({time.monotonic() - started:.1f} s)",
                    )
            if everywhere:
                responses = comm.bcast(responses, root=0)
            if responses is not None:
                split = {name: responses[part] for name, part in stack.slices.items()}
                result.kinetics[label] = basismod.KineticsBasis(
                    label=label,
                    synapse={"type": synapse.name, **synapse.taus},
                    columns=columns,
                    responses=split,
                )
    return result if (everywhere or rank == 0) else None


# -------------------------------------------------------------------- mean-field
def mean_field_kernels(
    config,
    pre,
    post,
    probes=None,
    cache=None,
    engine_name="basis",
    basis=None,
    comm=None,
    log=STDERR,
):
    """Mean-field kernels {probe: (n_channels, n_lags)} of pathway pre -> post.

    Parameters
    ----------
    config : NetworkConfig
    pre, post : str
    probes : list of str, optional
        Probes to compute (default all).
    cache : ResponseCache, optional
        Reuse (and store) membrane currents.
    engine_name : {"basis", "neuron"}
    basis : PopulationBasis, optional
        The basis of ``post`` (basis engine); computed here if not given.
    comm : mpi4py communicator, optional
        Ranks that share the basis runs (the kernels are computed on rank 0).
    log : file, optional
        Where to say that the cache was used.

    Returns
    -------
    dict or None
        The kernels on rank 0; None on the other ranks.
    """
    rank = comm.Get_rank() if comm is not None else 0
    if engine_name == "basis":
        if basis is None:
            basis = compute_basis(config, post, comm, [pre], cache, everywhere=False, log=log)
        if rank != 0:
            return None
        return basismod.BasisPathway(basis, config, pre, post, probes).mean_field_kernels()
    if rank != 0:
        return None
    key = config.pathway_hash(pre, post, "mean-field")
    stored = cache.load(key, config.n_steps_tau + 1) if cache is not None else None
    if stored is not None and stored[0].ndim == 2:
        _say(log, f"{pre}->{post}: membrane currents from cache {cache.path(key)} (no NEURON run)")
        return engine.project_mean_field(config, pre, post, stored[0], stored[1], probes)
    with engine.PathwayModel(config, pre, post) as model:
        response = model.mean_field_response()
        geometry = model.geometry
    if cache is not None:
        cache.store(key, response.imem, geometry, config.simulation["dt"])
    return engine.project_mean_field(config, pre, post, response.imem, geometry, probes)


# ---------------------------------------------------------------------- ensemble
def ensemble_kernels(
    config,
    pre,
    post,
    realizations,
    seed,
    comm,
    probes=None,
    engine_name="basis",
    basis=None,
    cache=None,
    log=STDERR,
):
    """Mean and standard deviation (ddof 1) of the kernels of ``realizations`` synapse
    realizations of pathway pre -> post, spread over the ranks of ``comm``.

    Both engines draw the same realizations (:class:`~hpckernels.engine.SynapseSampler`):
    the basis engine in blocks of :data:`hpckernels.basis.BLOCK`, the NEURON engine in
    blocks of :data:`hpckernels.ensemble.BLOCK`; blocks are merged in order, so results
    are bit-identical for any number of ranks.

    Returns
    -------
    dict or None
        On rank 0 {probe: {"kernel": mean, "std": std}}; None on the other ranks.
    """
    label = f"{pre}->{post}"
    if engine_name == "basis":
        if basis is None:
            basis = compute_basis(config, post, comm, [pre], cache, everywhere=True, log=log)
        pathway = basismod.BasisPathway(basis, config, pre, post, probes)
        moments = ensemble.run_blocks(
            lambda indices: pathway.block_moments(seed, indices),
            realizations,
            comm,
            basismod.BLOCK,
            label,
            log,
        )
    else:
        with engine.PathwayModel(config, pre, post) as model:
            moments = ensemble.ensemble_kernels(
                model,
                model.transformation_matrices(probes),
                realizations,
                seed,
                comm,
                label,
                log,
            )
    if moments is None:
        return None
    return {name: {"kernel": m.mean, "std": m.std(ddof=1)} for name, m in moments.items()}
