"""The per-pathway NEURON engine (the reference): one NEURON run per pathway or
realization.

Both modes build the linearized cell of the postsynaptic population Y (``g_eff`` leak,
current-based synapses linearized at ``vrest``) and drive it with synaptic events:

* mean-field: one event per segment at lag 0, weighted by the expected number
  of synapses k_out * p_i one presynaptic spike makes on it; the delay
  distribution is applied afterwards as a convolution along lags;
* ensemble: one realization of the synapses made by one presynaptic spike
  (Binomial number of connected cells, a multapse count per connection, a
  segment and a delay per synapse), all on the one linearized cell.

The membrane currents of the response (n_segments, lags 0..tau) are then
mapped to every probe with its transformation matrix.
"""

from __future__ import annotations

import contextlib

import numpy as np

from .. import cell as cellmod
from .. import distributions
from ..console import STDERR, say
from ..inputs import pathway_hash
from ..simulator import NeuronDriver
from ..synapses import synapse_model
from . import ensemble
from .base import ENGINES, Engine
from .common import (
    ACTIVATION_TIME,
    SynapseSampler,
    kernel_from_response,
    transformation_matrices,
)

#: Realizations per ensemble block of the NEURON engine (fixed: block composition never
#: depends on the rank count).
BLOCK = 16


class PathwayModel(cellmod.CellModel):
    """The linearized cell of pathway X -> Y, ready to be driven by synaptic events.

    Creating it builds the NEURON cell (once per pathway and process; close it before
    building another, :class:`~hpckernels.cell.CellModel`).

    Parameters
    ----------
    config : NetworkConfig
    pre, post : str
        Presynaptic population X and postsynaptic population Y.
    synapse : dict, optional
        A synapse spec driven instead of the connection's (e.g. the population's
        background synapse); placement and counts stay the connection's.
    """

    def __init__(self, config, pre, post, synapse=None):
        from neuron import h

        self.config = config
        self.pre, self.post = pre, post
        self.connection = config.connection(pre, post)
        sim = config.simulation
        self.dt = sim["dt"]
        self.n_steps = config.n_steps_tau
        tstop = ACTIVATION_TIME + self.n_steps * self.dt
        self.linearized = cellmod.build_linearized_cell(config, post, tstop)
        self.cell = self.linearized.cell
        self.geometry = self.linearized.geometry
        self.leak_shift = self.linearized.leak_shift
        self.sampler = SynapseSampler.from_cell(config, pre, post, self.cell)
        self.stats = self.sampler.stats
        self.placement = self.sampler.placement
        # peak current (nA) of one linearized synapse on each segment
        synapse = synapse_model(synapse or self.connection["synapse"])
        self.vrest = self.linearized.vrest
        self.synapse_current = synapse.linearized_weight(self.vrest)
        # one current-based synapse and one event source per segment
        self.driver = NeuronDriver(self.cell, self.linearized.initialize)
        for segment in self.driver.segments:
            self.driver.add_synapse(synapse.insert_current(h, segment))

    def release(self):
        self.driver.release()

    def simulate(self, weights, event_steps):
        """Membrane-current response to synaptic events.

        Parameters
        ----------
        weights : ndarray, shape (n_segments,)
            Peak current (nA) of each event on a segment.
        event_steps : list of ndarray of int
            For each segment, the lags (in steps of dt, >= 0) of its events;
            repeated lags are repeated events.

        Returns
        -------
        ndarray, shape (n_segments, n_steps_tau + 1)
            Membrane currents (nA) at lags 0, dt, ..., tau (ms).
        """
        events = []
        for index, steps in enumerate(event_steps):
            self.driver.netcons[index].weight[0] = weights[index]
            steps = np.asarray(steps)
            steps = steps[steps <= self.n_steps]
            if steps.size:
                events.append((index, (ACTIVATION_TIME + steps * self.dt).tolist()))
        self.driver.set_events(events)
        return self.driver.run(self.n_steps, self.dt)

    def mean_field_response(self):
        """Response to the expected synapses of one presynaptic spike, all at lag 0."""
        weights = self.synapse_current * self.sampler.expected_synapses()
        return self.simulate(weights, [np.zeros(1, dtype=int)] * self.cell.totnsegs)

    def mean_field_kernels(self, names=None):
        """{probe: kernel (n_channels, n_lags)} of the mean-field response (default all
        probes)."""
        imem = self.mean_field_response()
        return project_mean_field(self.config, self.pre, self.post, imem, self.geometry, names)

    def realization_response(self, seed, index):
        """Response of ensemble realization ``index``."""
        segments, delay_steps = self.sampler.draw(seed, index)
        order = np.argsort(segments, kind="stable")
        bounds = np.searchsorted(segments[order], np.arange(self.cell.totnsegs + 1))
        event_steps = [
            delay_steps[order[a:b]] for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        ]
        return self.simulate(self.synapse_current, event_steps)

    def transformation_matrices(self, names=None):
        """{probe name: M (n_channels, n_segments)} of the config's probes (default all)."""
        return transformation_matrices(self.config, self.geometry, names, self.post)


def project_mean_field(config, pre, post, imem, geometry, names=None):
    """Mean-field kernels of every probe from a stored membrane-current response.

    Parameters
    ----------
    config : NetworkConfig
    pre, post : str
    imem : ndarray, shape (n_segments, n_steps_tau + 1)
        Mean-field membrane currents (nA) at lags 0..tau.
    geometry : lfpykit.CellGeometry
        Segment geometry of the response's cell (um).
    names : list of str, optional
        Probes to compute (default all).
    """
    connection = config.connection(pre, post)
    sim = config.simulation
    pmf = distributions.delay_pmf(connection["delay"], sim["dt"], config.n_steps_tau)
    return {
        name: kernel_from_response(M, imem, config.n_steps_tau, pmf, sim["fir"])
        for name, M in transformation_matrices(config, geometry, names, post).items()
    }


def realization_kernels(model, matrices, seed, index):
    """Kernels of every probe for ensemble realization ``index``."""
    imem = model.realization_response(seed, index)
    fir = model.config.simulation["fir"]
    return {
        name: kernel_from_response(M, imem, model.n_steps, None, fir)
        for name, M in matrices.items()
    }


def realization_moments(model, matrices, seed, indices):
    """{probe: RunningMoments} of the kernels of realizations ``indices`` simulated one
    NEURON run each on ``model`` (Welford, realization by realization in index order).

    Parameters
    ----------
    model : PathwayModel
        The pathway's linearized cell.
    matrices : dict of str to ndarray
        Probe transformation matrices.
    """
    moments = None
    for index in indices:
        kernels = realization_kernels(model, matrices, seed, index)
        if moments is None:
            moments = {name: ensemble.RunningMoments.empty(k.shape) for name, k in kernels.items()}
        for name, kernel in kernels.items():
            moments[name].add(kernel)
    return moments


@ENGINES.register
class NeuronEngine(Engine):
    """One NEURON run per pathway (mean-field: every expected synapse at lag 0) or per
    realization: the reference of the other engines."""

    name = "neuron"
    description = "one NEURON run per pathway or realization (reference)"
    reads_basis = False

    def mean_field_kernels(
        self, config, pre, post, probes=None, comm=None, cache=None, basis=None, log=STDERR
    ):
        """Mean-field kernels from one NEURON run on rank 0 (see
        :meth:`~hpckernels.engines.base.Engine.mean_field_kernels`); the run's membrane
        currents are kept in ``cache``, so that a probe edit needs no NEURON run."""
        if comm is not None and comm.Get_rank() != 0:
            return None
        key = pathway_hash(config, pre, post, "mean-field")
        stored = cache.load(key, config.n_steps_tau + 1) if cache is not None else None
        if stored is not None and stored[0].ndim == 2:
            say(
                log,
                f"{pre}->{post}: membrane currents from cache {cache.path(key)} (no NEURON run)",
            )
            return project_mean_field(config, pre, post, stored[0], stored[1], probes)
        with PathwayModel(config, pre, post) as model:
            imem = model.mean_field_response()
            geometry = model.geometry
        if cache is not None:
            cache.store(key, imem, geometry, config.simulation["dt"])
        return project_mean_field(config, pre, post, imem, geometry, probes)

    def population_mean_field(self, config, post, probes=None, log=STDERR):
        """One NEURON run per pathway into ``post`` (see
        :meth:`~hpckernels.engines.base.Engine.population_mean_field`)."""
        return {
            (c["pre"], post): self.mean_field_kernels(config, c["pre"], post, probes, log=log)
            for c in config.connections_into(post)
        }

    @contextlib.contextmanager
    def block_moments(
        self, config, pre, post, seed, comm, probes, cache, basis, log, realizations=None
    ):
        """Realizations simulated one NEURON run each on one linearized cell per rank,
        in blocks of :data:`BLOCK` (see :meth:`~hpckernels.engines.base.Engine.block_moments`)."""
        with PathwayModel(config, pre, post) as model:
            matrices = model.transformation_matrices(probes)
            yield (lambda indices: realization_moments(model, matrices, seed, indices)), BLOCK
