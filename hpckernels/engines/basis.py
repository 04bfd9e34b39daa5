"""The basis engine: the impulse-response basis of a population from one NEURON run per
segment, and every pathway, probe and realization from it.

The linearized cell of population Y (passive membrane with the g_eff leak of all its
inputs, current-based synapses) is linear and time-invariant, and so is NEURON's
fixed-step integration of it: the membrane currents after events of weights w_i on
segments j_i at steps d_i are the sum of w_i times the response to one unit event
(1 nA) on segment j_i, shifted by d_i steps (``tests/test_basis.py`` checks this
against NEURON runs with many events). Per distinct synapse kinetics onto Y, the
responses to one unit event at lag 0 on each segment, projected onto the probes,

    G[probe][channel, segment, lag],    lags 0, dt, ..., tau,

are computed once: one NEURON run per segment, dealt round robin to the MPI ranks and
gathered in index order (every run starts from rest in a fresh ``finitialize``, so a
column does not depend on the rank that ran it). Kernels follow from the basis
(:mod:`hpckernels.engines.pathway`).
"""

from __future__ import annotations

import time

import numpy as np

from .. import cell as cellmod
from ..console import STDERR, say
from ..datatypes import KineticsBasis, PopulationBasis
from ..inputs import basis_cache_key, basis_hash
from ..probes import ProbeStack
from ..simulator import NeuronDriver
from ..synapses import synapse_model
from . import ensemble
from .base import ENGINES, Engine
from .common import ACTIVATION_TIME, UNIT_WEIGHT, basis_columns, kinetics_groups, unit_synapse

#: Largest per-segment membrane-current basis (n_columns x n_segments x lags x 8 bytes)
#: that a response cache keeps; larger ones are recomputed after a probe edit.
MAX_CACHED_BASIS = 512 * 2**20


class UnitResponseModel(cellmod.CellModel):
    """Population ``post``'s linearized cell with one current-based synapse per kinetics,
    moved from segment to segment: the responses to one unit event.

    Creating it builds the NEURON cell (one per process at a time: close it before
    building another, :class:`~hpckernels.cell.CellModel`).

    Parameters
    ----------
    config : NetworkConfig
    post : str
    """

    def __init__(self, config, post):
        self.n_steps = config.n_steps_tau
        self.dt = config.simulation["dt"]
        self.linearized = cellmod.build_linearized_cell(config, post, self.n_steps * self.dt)
        self.cell = self.linearized.cell
        self.placements = {
            c["pre"]: cellmod.placement_pmf(
                self.cell, c["placement"], config.populations[post]["position"]["scale"]
            )
            for c in config.connections_into(post)
        }
        self.driver = NeuronDriver(self.cell, self.linearized.initialize)
        self._synapses = {}

    def response(self, synapse, segment):
        """Membrane currents after one event of 1 nA at lag 0 on one segment.

        Parameters
        ----------
        synapse : SynapseModel
            The kinetics (its current-based mechanism is used with weight 1 nA).
        segment : int
            Segment index (LFPy order).

        Returns
        -------
        ndarray, shape (n_segments, n_steps + 1)
            Membrane currents (nA) at lags 0..tau minus their value at lag 0 (rest).
        """
        from neuron import h

        from .common import kinetics_label

        label = kinetics_label(synapse)
        target = self.driver.segments[segment]
        if label not in self._synapses:
            point = synapse.insert_current(h, target)
            self._synapses[label] = self.driver.add_synapse(point, UNIT_WEIGHT)
        index = self._synapses[label]
        self.driver.synapses[index].loc(target)
        self.driver.set_events([(index, [ACTIVATION_TIME])])
        try:
            imem = self.driver.run(self.n_steps, self.dt)
        finally:
            self.driver.set_events([])
        return imem - imem[:, :1]

    def empty_basis(self, post, basis_hash=""):
        """A :class:`~hpckernels.datatypes.PopulationBasis` of this cell without responses."""
        return PopulationBasis(
            post=post,
            dt=self.dt,
            n_steps=self.n_steps,
            geometry=self.linearized.geometry,
            vrest=np.asarray(self.linearized.vrest, dtype=float),
            leak_shift=np.asarray(self.linearized.leak_shift, dtype=float),
            placements=self.placements,
            basis_hash=basis_hash,
        )

    def release(self):
        self.driver.release()
        self._synapses = {}


@ENGINES.register
class BasisEngine(Engine):
    """Y's responses to unit events on each segment, one NEURON run each (or read from a
    basis file); every pathway, probe and realization then as sums over them."""

    name = "basis"
    description = (
        "Y's responses to unit events on each segment, computed once (or read with "
        "--basis), then sums over them"
    )

    def population_basis(
        self,
        config,
        post,
        comm=None,
        pres=None,
        cache=None,
        everywhere=True,
        log=STDERR,
        probes=None,
    ):
        """The basis of population ``post``, its NEURON runs spread over the ranks of
        ``comm`` (see :meth:`~hpckernels.engines.base.Engine.population_basis`).

        Column k of each kinetics is simulated by rank k mod size; rank 0 gathers the
        columns in index order. Per-segment membrane currents that fit
        :data:`MAX_CACHED_BASIS` are kept in (and reused from) ``cache``.
        """
        comm = comm or ensemble.SerialComm()
        rank, size = comm.Get_rank(), comm.Get_size()
        stack = ProbeStack(config.probes, probes)
        population = config.populations[post]
        groups = kinetics_groups(config, post, pres)
        started = time.monotonic()
        with UnitResponseModel(config, post) as model:
            result = model.empty_basis(post, basis_hash(config, post))
            matrices = stack.matrices_on(comm, result.geometry, population)
            M = np.concatenate([matrices[name] for name in stack.primary])
            n_lags = model.n_steps + 1
            for label, (synapse, connections) in groups.items():
                columns = basis_columns(result.placements, connections)
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
                        say(
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
                            say(
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
                        say(
                            log,
                            f"basis {post} {label}: {columns.size} segment runs on {size} "
                            f"rank(s) ({time.monotonic() - started:.1f} s)",
                        )
                if everywhere:
                    responses = comm.bcast(responses, root=0)
                if responses is not None:
                    split = {name: responses[part] for name, part in stack.slices.items()}
                    result.kinetics[label] = KineticsBasis(
                        label=label,
                        synapse={"type": synapse.name, **synapse.taus},
                        columns=columns,
                        responses=split,
                    )
        return result if (everywhere or rank == 0) else None

    def unit_membrane_currents(self, config, post, synapse):
        """One NEURON run per segment (see
        :meth:`~hpckernels.engines.base.Engine.unit_membrane_currents`)."""
        unit = unit_synapse(synapse_model(synapse))
        with UnitResponseModel(config, post) as model:
            return np.array([model.response(unit, s) for s in range(model.cell.totnsegs)])
