"""Kernels of one pathway: mean-field and ensemble share one simulation path.

Both modes build the same linearized cell of the postsynaptic population Y
(``g_eff`` leak, current-based synapses linearized at ``vrest``) and drive it
with synaptic events:

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

import zlib
from dataclasses import dataclass

import numpy as np
from scipy.signal import fftconvolve

from . import cell as cellmod
from . import distributions, probes
from .errors import ConfigError
from .synapses import synapse_model

#: Time (ms) of the presynaptic spike in the simulation: the cell is at rest from t = 0
#: and responses are recorded from it (lag 0). An event at t acts on the membrane
#: currents from t + 2 dt on (fixed-step delivery), so lags 0 and dt are the baseline.
ACTIVATION_TIME = 0.0


@dataclass
class Response:
    """Membrane currents after one presynaptic spike.

    Attributes
    ----------
    imem : ndarray, shape (n_segments, n_steps_tau + 1)
        Membrane currents (nA) at lags 0, dt, ..., tau (ms).
    """

    imem: np.ndarray


class DiscreteDraws:
    """Draws from a discrete distribution over 0..K-1 by inversion with a guide table.

    A draw is the smallest k with cdf[k] > u for a uniform u, the numbers of
    ``Generator.choice(K, size, p=pmf)`` for the same uniforms; the guide table (the
    first candidate index of each of K equal intervals of u) leaves on average about one
    comparison per draw instead of a binary search.

    Parameters
    ----------
    pmf : ndarray, shape (K,)
        Probabilities (normalised here as ``Generator.choice`` does).
    """

    #: Guide-table intervals per outcome.
    GUIDE = 16

    def __init__(self, pmf):
        cdf = np.cumsum(pmf)
        self.cdf = cdf / cdf[-1]
        size = self.cdf.size * self.GUIDE
        self._scale = float(size)
        self._guide = self.cdf.searchsorted(np.arange(size) / size, side="right")

    def lookup(self, uniforms):
        """The outcome (index) of each uniform number in [0, 1)."""
        if uniforms.size < 2048:  # few draws: one binary search each is cheaper
            return self.cdf.searchsorted(uniforms, side="right")
        index = self._guide[(uniforms * self._scale).astype(np.int64)]
        below = self.cdf[index] <= uniforms
        while below.any():
            index += below
            below = self.cdf[index] <= uniforms
        return index

    def draw(self, rng, size):
        """``size`` draws with the uniforms of ``rng.random(size)``."""
        return self.lookup(rng.random(size))


class SynapseSampler:
    """Synapses of one pathway X -> Y: expected counts per segment, and realizations.

    Every kernel engine draws its realizations here, so that realization ``index`` of
    a seed is the same set of synapses whichever engine simulates it.

    Parameters
    ----------
    config : NetworkConfig
    pre, post : str
    placement : ndarray, shape (n_segments,)
        Probability that a synapse lands on each segment of ``post``'s cell
        (:func:`hpckernels.cell.placement_pmf`; :meth:`from_cell` computes it).

    Attributes
    ----------
    stats : ConnectionStatistics
        K_YX, k_in, k_out.
    placement : ndarray, shape (n_segments,)
        Probability that a synapse lands on each segment.
    delay_step_pmf : ndarray, shape (n_steps_tau + 2,)
        Probability of a delay of k steps of dt, k = 0..n_steps_tau; the last entry is
        the mass beyond tau (such synapses act after the kernel's last lag).
    """

    def __init__(self, config, pre, post, placement):
        self.pre, self.post = pre, post
        self.connection = config.connection(pre, post)
        self.n_post = config.populations[post]["size"]
        self.dt = config.simulation["dt"]
        self.stats = cellmod.ConnectionStatistics(config, self.connection)
        self.placement = np.asarray(placement, dtype=float)
        if not self.placement.sum() > 0:
            raise ConfigError(
                f"connections[{config.connections.index(self.connection)}].placement",
                f"no segment of {post}'s cell matches sections "
                f"{self.connection['placement']['sections']} with non-zero density",
            )
        # drawn from once per realization
        self._segments = DiscreteDraws(self.placement)
        self._multapse_counts, multapse_pmf = distributions.multapse_pmf(
            self.connection["multapse"]
        )
        self._multapses = DiscreteDraws(multapse_pmf)
        self.delay_step_pmf = distributions.delay_step_pmf(
            self.connection["delay"], self.dt, config.n_steps_tau
        )
        self._delays = DiscreteDraws(self.delay_step_pmf)

    @classmethod
    def from_cell(cls, config, pre, post, cell):
        """The sampler of pathway pre -> post with the placement over ``cell``'s segments."""
        placement = cellmod.placement_pmf(
            cell,
            config.connection(pre, post)["placement"],
            config.populations[post]["position"]["scale"],
        )
        return cls(config, pre, post, placement)

    def expected_synapses(self):
        """Expected synapses per segment made by one presynaptic spike (k_out * placement)."""
        return self.stats.outdegree * self.placement

    def rng(self, seed, index):
        """Random generator of realization ``index``: depends on seed, pathway and index only."""
        pathway_key = zlib.crc32(f"{self.pre}->{self.post}".encode())
        return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(pathway_key, index)))

    def draw(self, seed, index):
        """Realization ``index``: the synapses made by a single presynaptic spike.

        The number of connected cells is Binomial(N_Y, C); each connection has a
        multapse count; each synapse a segment from the placement pmf and a delay in
        whole steps of dt, drawn from the delay distribution rounded to the grid
        (:func:`hpckernels.distributions.delay_step_pmf`).

        Returns
        -------
        segments : ndarray of int
            Segment of each synapse.
        delay_steps : ndarray of int
            Delay of each synapse in steps of dt (>= 0; n_steps_tau + 1 stands for
            delays beyond tau).
        """
        _, segments, delay_steps = self.draw_many(seed, [index])
        return segments, delay_steps

    def draw_many(self, seed, indices):
        """Realizations ``indices`` (each with its own generator, as :meth:`draw`), their
        synapses concatenated in index order.

        Returns
        -------
        counts : ndarray of int, shape (len(indices),)
            Synapses of each realization.
        segments, delay_steps : ndarray of int
            As :meth:`draw`, realization after realization.
        """
        counts, segment_uniforms, delay_uniforms = [], [], []
        for index in indices:
            rng = self.rng(seed, index)
            connected = rng.binomial(self.n_post, self.connection["probability"])
            multapses = self._multapse_counts[self._multapses.draw(rng, connected)]
            n_synapses = int(multapses.sum())
            counts.append(n_synapses)
            segment_uniforms.append(rng.random(n_synapses))
            delay_uniforms.append(rng.random(n_synapses))
        segments = self._segments.lookup(np.concatenate(segment_uniforms))
        delay_steps = self._delays.lookup(np.concatenate(delay_uniforms))
        return np.asarray(counts, dtype=np.int64), segments, delay_steps


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
        self._segments = cellmod.segments(self.cell)
        self._synapses = [synapse.insert_current(h, seg) for seg in self._segments]
        self._netcons = [h.NetCon(None, syn) for syn in self._synapses]
        self._currents = self.linearized.record_membrane_currents(h)
        self._pending = []
        self._handler = h.FInitializeHandler(1, self._queue_events)

    def release(self):
        self._handler = None
        self._netcons, self._synapses, self._currents, self._segments = [], [], None, []

    # ----------------------------------------------------------- simulation
    def _queue_events(self):
        # called by NEURON after finitialize cleared the event queue
        for index, times in self._pending:
            event = self._netcons[index].event
            for t in times:
                event(t)

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
        Response
        """
        from neuron import h

        self._pending = []
        for index, steps in enumerate(event_steps):
            self._netcons[index].weight[0] = weights[index]
            steps = np.asarray(steps)
            steps = steps[steps <= self.n_steps]
            if steps.size:
                self._pending.append((index, (ACTIVATION_TIME + steps * self.dt).tolist()))
        imem = self.linearized.run(h, self._currents, self.n_steps, self.dt)
        return Response(imem=imem)

    def unit_responses(self):
        """Responses to one synaptic event on each segment in turn (one NEURON run each).

        Returns
        -------
        ndarray, shape (n_segments, n_segments, n_steps_tau + 1)
            ``[s]``: membrane currents (nA) at lags 0..tau after an event on segment s.
        """
        n = self.cell.totnsegs
        none = np.zeros(0, dtype=int)
        return np.array(
            [
                self.simulate(
                    self.synapse_current, [none] * s + [np.zeros(1, int)] + [none] * (n - s - 1)
                ).imem
                for s in range(n)
            ]
        )

    def mean_field_response(self):
        """Response to the expected synapses of one presynaptic spike, all at lag 0."""
        weights = self.synapse_current * self.sampler.expected_synapses()
        return self.simulate(weights, [np.zeros(1, dtype=int)] * self.cell.totnsegs)

    # ------------------------------------------------------------- ensemble
    def realization_response(self, seed, index):
        """Response of ensemble realization ``index``."""
        segments, delay_steps = self.sampler.draw(seed, index)
        order = np.argsort(segments, kind="stable")
        bounds = np.searchsorted(segments[order], np.arange(self.cell.totnsegs + 1))
        event_steps = [
            delay_steps[order[a:b]] for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        ]
        return self.simulate(self.synapse_current, event_steps)

    # --------------------------------------------------------------- probes
    def transformation_matrices(self, names=None):
        """{probe name: M (n_channels, n_segments)} of the config's probes (default all)."""
        return transformation_matrices(self.config, self.geometry, names, self.post)

    def delay_pmf(self):
        """Delay distribution on the lag grid [-tau, tau], summing to 1."""
        return distributions.delay_pmf(self.connection["delay"], self.dt, self.n_steps)


def kernel_from_response(M, imem, n_steps, delay_pmf=None, fir=False):
    """Kernel of one probe from a membrane-current response (see :func:`kernel_from_signal`).

    Parameters
    ----------
    M : ndarray, shape (n_channels, n_segments)
        Probe transformation matrix.
    imem : ndarray, shape (n_segments, n_steps + 1)
        Membrane currents (nA) at lags 0..tau.
    """
    # einsum's own loops, not a threaded BLAS: the same bits whatever the number of
    # threads a process may use (MPI ranks bound to cores or not)
    signal = np.einsum("cs,st->ct", M, imem, optimize=False)
    return kernel_from_signal(signal, n_steps, delay_pmf, fir)


def kernel_from_signal(signal, n_steps, delay_pmf=None, fir=False):
    """Kernel of one probe from its signal after one presynaptic spike.

    Parameters
    ----------
    signal : ndarray, shape (..., n_channels, n_steps + 1)
        Probe signal at lags 0..tau (the probe matrix applied to membrane currents);
        leading axes (e.g. realizations) are kept.
    n_steps : int
        Steps in tau.
    delay_pmf : ndarray, shape (2 n_steps + 1,), optional
        Delay weights on lags [-tau, tau]; applied as a convolution along lags
        (mean-field). None when delays were part of the simulation (ensemble).
    fir : bool
        Return lags (0, tau] only.

    Returns
    -------
    ndarray, shape (..., n_channels, 2 n_steps + 1), or (..., n_channels, n_steps) if fir
        Signal per presynaptic spike at lags -tau..tau; negative lags are zero.
    """
    kernel = np.zeros((*signal.shape[:-1], 2 * n_steps + 1))
    kernel[..., n_steps:] = signal
    if delay_pmf is not None:
        # centred ("same") convolution over the lag axis: a delay d moves the
        # response to later lags by d; mass beyond +tau is cut off.
        pmf = np.reshape(delay_pmf, (1,) * (kernel.ndim - 1) + (-1,))
        full = fftconvolve(kernel, pmf, axes=-1)
        kernel = full[..., n_steps : n_steps + 2 * n_steps + 1]
    # the response at lag 0 is the baseline; then causality: nothing before lag 0
    kernel = kernel - kernel[..., n_steps, None]
    kernel[..., :n_steps] = 0.0
    return kernel[..., n_steps + 1 :] if fir else kernel


def mean_field_kernels(model):
    """Mean-field kernels of every probe of the config for one pathway.

    Parameters
    ----------
    model : PathwayModel

    Returns
    -------
    dict of str to ndarray
        {probe name: kernel (n_channels, n_lags)}.
    """
    response = model.mean_field_response()
    return project_mean_field(model.config, model.pre, model.post, response.imem, model.geometry)


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


def transformation_matrices(config, geometry, names=None, post=None):
    """{probe name: M (n_channels, n_segments)} of the config's probes (default all) on the
    cell of population ``post`` (whose values its ``population`` probe parameters take)."""
    return {
        name: probes.transformation_matrix(config.probe_spec(name, post), geometry, config.probes)
        for name in (names or config.probes)
    }


def realization_kernels(model, matrices, seed, index):
    """Kernels of every probe for ensemble realization ``index``."""
    response = model.realization_response(seed, index)
    fir = model.config.simulation["fir"]
    return {
        name: kernel_from_response(M, response.imem, model.n_steps, None, fir)
        for name, M in matrices.items()
    }
