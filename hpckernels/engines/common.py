"""What every kernel engine shares: the synapses of a pathway (expected counts and
realizations), synapse kinetics, and the kernel of a probe from its response.

Every engine draws ensemble realizations with :class:`SynapseSampler`, so realization
``index`` of a seed is the same set of synapses whichever engine simulates it, and
turns a probe's signal after one presynaptic spike into a kernel with
:func:`kernel_from_signal`.
"""

from __future__ import annotations

import zlib

import numpy as np

from .. import cell as cellmod
from .. import distributions, probes
from ..errors import ConfigError
from ..synapses import synapse_model

#: Time (ms) of the presynaptic spike in the simulation: the cell is at rest from t = 0
#: and responses are recorded from it (lag 0). An event at t acts on the membrane
#: currents from t + dt on (ExpSyn) or t + 2 dt on (Exp2Syn, whose current starts at
#: zero), so lag 0 is the baseline.
ACTIVATION_TIME = 0.0


#: Weight (nA, peak current) of the unit event of every basis response.
UNIT_WEIGHT = 1.0


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
        # default_rng's generator, built directly (the same numbers; half the overhead)
        return np.random.Generator(
            np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(pathway_key, index)))
        )

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


# ------------------------------------------------------------------------- kinetics
def kinetics_label(synapse):
    """Name of a synapse's kinetics, e.g. ``Exp2Syn(tau1=0.2,tau2=1.8)``.

    Parameters
    ----------
    synapse : SynapseModel
    """
    name, *taus = synapse.kinetics()
    return f"{name}({','.join(f'{key}={value!r}' for key, value in taus)})"


def unit_synapse(synapse):
    """The current-based synapse of 1 nA with the kinetics of ``synapse``."""
    spec = {"type": synapse.name, **synapse.taus, "weight": UNIT_WEIGHT, "current_based": True}
    return synapse_model(spec)


def kinetics_groups(config, post, pres=None):
    """Connections into ``post`` (those from ``pres``, default all) by synapse kinetics.

    Returns
    -------
    dict of str to (SynapseModel, list of dict)
        {kinetics label: (unit synapse, connections)}, labels sorted.
    """
    groups = {}
    for connection in config.connections_into(post):
        if pres is not None and connection["pre"] not in pres:
            continue
        synapse = synapse_model(connection["synapse"])
        label = kinetics_label(synapse)
        groups.setdefault(label, (unit_synapse(synapse), []))[1].append(connection)
    return dict(sorted(groups.items()))


def basis_columns(placements, connections):
    """Segments that a synapse of any of ``connections`` can land on (indices, sorted).

    Parameters
    ----------
    placements : dict of str to ndarray
        Placement pmf over segments of each connection into the population, by ``pre``.
    connections : list of dict
    """
    reach = np.sum([placements[c["pre"]] for c in connections], axis=0)
    return np.flatnonzero(reach > 0)


def fast_length(n):
    """The smallest 5-smooth number (2^a 3^b 5^c) >= n: an FFT length that is fast."""
    best = 1 << max(0, int(n - 1).bit_length())
    five = 1
    while five < best:
        three = five
        while three < best:
            length = three
            while length < n:
                length *= 2
            best = min(best, length)
            three *= 3
        five *= 5
    return best


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
        # response to later lags by d; mass beyond +tau is cut off. (numpy's FFT: a
        # kernel job then imports neither scipy.signal nor scipy.fft, ~0.1 s each.)
        n = kernel.shape[-1] + len(delay_pmf) - 1
        size = fast_length(n)
        spectrum = np.fft.rfft(kernel, size, axis=-1) * np.fft.rfft(delay_pmf, size)
        full = np.fft.irfft(spectrum, size, axis=-1)[..., :n]
        kernel = full[..., n_steps : n_steps + 2 * n_steps + 1]
    # the response at lag 0 is the baseline; then causality: nothing before lag 0
    kernel = kernel - kernel[..., n_steps, None]
    kernel[..., :n_steps] = 0.0
    return kernel[..., n_steps + 1 :] if fir else kernel


def transformation_matrices(config, geometry, names=None, post=None):
    """{probe name: M (n_channels, n_segments)} of the config's probes (default all) on the
    cell of population ``post`` (whose values its ``population`` probe parameters take)."""
    return {
        name: probes.transformation_matrix(config.probe_spec(name, post), geometry, config.probes)
        for name in (names or config.probes)
    }
