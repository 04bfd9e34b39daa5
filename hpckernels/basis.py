"""Impulse-response basis of a postsynaptic population: the kernels of all its pathways,
probes and ensemble realizations from one set of NEURON runs.

The linearized cell of population Y (passive membrane with the g_eff leak of all its
inputs, current-based synapses) is linear and time-invariant, and so is NEURON's
fixed-step integration of it: the membrane currents after events of weights w_i on
segments j_i at steps d_i are the sum of w_i times the response to one unit event
(1 nA) on segment j_i, shifted by d_i steps (``tests/test_basis.py`` checks this
against NEURON runs with many events). Per distinct synapse kinetics onto Y, the
responses to one unit event at lag 0 on each segment, projected onto the probes,

    G[probe][channel, segment, lag],    lags 0, dt, ..., tau,

are computed once (one NEURON run per segment; :mod:`hpckernels.kernels` spreads them
over MPI ranks). Then

* the mean-field kernel X -> Y is ``sum_j w_j G[:, j, :]``, w_j the linearized peak
  current of one synapse times the expected synapses on segment j (k_out p_j),
  convolved with the delay distribution (:func:`~hpckernels.engine.kernel_from_signal`);
* ensemble realization i is the sum over its synapses of ``w_j G[:, j, :]`` shifted by
  the synapse's delay, with the synapses of :meth:`SynapseSampler.draw
  <hpckernels.engine.SynapseSampler.draw>` (the same realization as the NEURON engine's).
  Realizations are computed in blocks: their synapses are binned into (segment, delay
  step) counts, transformed along lags with FFTs and contracted with the transformed
  basis, one matrix product per frequency.

EEG and MEG probes are a head-model matrix applied to a dipole probe's signal
(:class:`ProbeStack`): they are derived from the dipole rows and have no basis of their
own. Nothing here reads or writes files or talks MPI (see :mod:`hpckernels.kernels` and
:mod:`hpckernels.h5io`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import lfpykit
import numpy as np
import scipy.fft

from . import cell as cellmod
from . import distributions
from .engine import ACTIVATION_TIME, SynapseSampler, kernel_from_signal
from .ensemble import RunningMoments
from .errors import InputError
from .probes import probe_type
from .synapses import synapse_model

#: Weight (nA, peak current) of the unit event of every basis response.
UNIT_WEIGHT = 1.0
#: Realizations per ensemble block of the basis engine (moments are merged in block
#: order: fixed, so that results do not depend on the number of ranks).
BLOCK = 64
#: Basis columns (segments) transformed at a time in a block: bounds the memory of the
#: transformed counts (BLOCK x SEGMENT_CHUNK x frequencies complex numbers).
SEGMENT_CHUNK = 256
#: Smallest FFT length of the overlap-save sums of :meth:`BasisPathway.realization_signals`.
MIN_FFT = 256


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


# --------------------------------------------------------------------------- probes
class ProbeStack:
    """Probes of a run on one channel axis.

    Primary probes are a matrix on the cell (membrane currents -> signal) and are
    stacked in config order; derived probes (EEG, MEG) are a head-model matrix T
    applied to the signal of a dipole probe, which is then stacked as well.

    Parameters
    ----------
    config : NetworkConfig
    names : list of str, optional
        Probes wanted (default all).

    Attributes
    ----------
    names : list of str
        The probes wanted.
    primary : list of str
        Probes with a matrix on the cell, in config order.
    slices : dict of str to slice
        Channels of each primary probe on the stacked axis.
    derived : dict of str to (str, ndarray)
        {probe: (dipole probe, T (n_channels, 3))}.
    """

    def __init__(self, config, names=None):
        self.config = config
        self.names = list(names or config.probes)
        self.specs = config.probes
        wanted, self.derived = set(), {}
        for name in self.names:
            probe = probe_type(config.probes[name], config.probes)
            if probe.derived:
                self.derived[name] = (probe.dipole_name, probe.head_matrix())
                wanted.add(probe.dipole_name)
            else:
                wanted.add(name)
        self.primary = [name for name in config.probes if name in wanted]
        self.slices = {}

    def matrices(self, geometry, post=None):
        """{primary probe: M (n_channels, n_segments)} on the cell geometry of population
        ``post`` (whose values ``population`` probe parameters take); sets ``slices``."""
        from .probes import transformation_matrix

        out, start = {}, 0
        for name in self.primary:
            spec = self.config.probe_spec(name, post)
            out[name] = transformation_matrix(spec, geometry, self.specs)
            self.slices[name] = slice(start, start + out[name].shape[0])
            start += out[name].shape[0]
        return out

    def matrices_on(self, comm, geometry, post=None):
        """:meth:`matrices`, computed by the ranks of ``comm`` on contiguous blocks of
        segments and gathered on every rank: a column of a probe matrix depends on its
        segment alone, so the result is the same as :meth:`matrices` (bit for bit), and
        the quadratures of population probes are not repeated on every rank."""
        size = comm.Get_size()
        n_segments = geometry.totnsegs
        if size == 1 or n_segments < size:
            return self.matrices(geometry, post)
        bounds = np.linspace(0, n_segments, size + 1).astype(int)
        mine = slice(bounds[comm.Get_rank()], bounds[comm.Get_rank() + 1])
        part = lfpykit.CellGeometry(
            x=geometry.x[mine], y=geometry.y[mine], z=geometry.z[mine], d=geometry.d[mine]
        )
        blocks = comm.allgather(self.matrices(part, post))
        return {name: np.concatenate([b[name] for b in blocks], axis=1) for name in self.primary}

    def stack(self, arrays, axis=0):
        """Concatenate per-probe arrays of the primary probes along ``axis``; sets ``slices``."""
        start = 0
        for name in self.primary:
            size = arrays[name].shape[axis]
            self.slices[name] = slice(start, start + size)
            start += size
        return np.concatenate([arrays[name] for name in self.primary], axis=axis)

    def split(self, stacked):
        """{probe: signal} of the wanted probes from stacked signals (..., channels, lags)."""
        out = {name: stacked[..., part, :] for name, part in self.slices.items()}
        for name, (dipole, T) in self.derived.items():
            out[name] = np.matmul(T, out[dipole])
        return {name: out[name] for name in self.names}


# -------------------------------------------------------------------------- the basis
@dataclass
class KineticsBasis:
    """Responses to unit events of one synapse kinetics on the segments it can reach.

    Attributes
    ----------
    label : str
        :func:`kinetics_label`.
    synapse : dict
        ``type`` and time constants (ms).
    columns : ndarray of int, shape (n_columns,)
        Segment (LFPy order) of each column.
    responses : dict of str to ndarray
        {primary probe: G (n_channels, n_columns, n_steps + 1)}: the probe's signal
        after one event of 1 nA at lag 0 on the column's segment (probe units per nA),
        lags 0..tau, baseline (lag 0) subtracted.
    """

    label: str
    synapse: dict
    columns: np.ndarray
    responses: dict = field(default_factory=dict)


@dataclass
class PopulationBasis:
    """The impulse-response basis of population ``post`` and the cell data kernels need.

    Attributes
    ----------
    post : str
    dt : float
        Time step (ms).
    n_steps : int
        Steps in tau.
    geometry : lfpykit.CellGeometry
        Segment geometry (um).
    vrest : ndarray, shape (n_segments,)
        Rest potential (mV) per segment, where synapses are linearized.
    leak_shift : ndarray, shape (n_segments,)
        g_eff conductance density (S/cm2) added to the leak.
    placements : dict of str to ndarray
        Placement pmf over segments of every connection into ``post``, by ``pre``.
    kinetics : dict of str to KineticsBasis
    basis_hash : str
        Content hash of the inputs (:meth:`~hpckernels.config.NetworkConfig.basis_hash`).
    """

    post: str
    dt: float
    n_steps: int
    geometry: object
    vrest: np.ndarray
    leak_shift: np.ndarray
    placements: dict
    kinetics: dict = field(default_factory=dict)
    basis_hash: str = ""

    @property
    def n_segments(self):
        return self.vrest.size


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
        from neuron import h

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
        self._segments = cellmod.segments(self.cell)
        self._currents = self.linearized.record_membrane_currents(h)
        self._synapses = {}
        self._pending = None
        self._handler = h.FInitializeHandler(1, self._queue_event)

    def _queue_event(self):
        # called by NEURON after finitialize cleared the event queue
        if self._pending is not None:
            self._pending.event(ACTIVATION_TIME)

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

        label = kinetics_label(synapse)
        if label not in self._synapses:
            point = synapse.insert_current(h, self._segments[segment])
            netcon = h.NetCon(None, point)
            netcon.weight[0] = UNIT_WEIGHT
            self._synapses[label] = (point, netcon)
        point, netcon = self._synapses[label]
        point.loc(self._segments[segment])
        self._pending = netcon
        try:
            imem = self.linearized.run(h, self._currents, self.n_steps, self.dt)
        finally:
            self._pending = None
        return imem - imem[:, :1]

    def empty_basis(self, post, basis_hash=""):
        """A :class:`PopulationBasis` of this cell without responses."""
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
        self._handler = None
        self._synapses, self._currents, self._segments = {}, None, []


# ------------------------------------------------------------------- kernels from it
class BasisPathway:
    """Kernels of pathway pre -> post from the basis of ``post``: mean-field and ensemble
    realizations, for the probes of a :class:`ProbeStack`.

    Parameters
    ----------
    basis : PopulationBasis
    config : NetworkConfig
    pre, post : str
    names : list of str, optional
        Probes (default all).

    Raises
    ------
    InputError
        The basis lacks the connection's kinetics, segments its synapses can reach, or
        a probe's responses (``where`` is ``--basis``).
    """

    def __init__(self, basis, config, pre, post, names=None):
        connection = config.connection(pre, post)
        synapse = synapse_model(connection["synapse"])
        label = kinetics_label(synapse)
        self.n_steps = basis.n_steps
        self.fir = config.simulation["fir"]
        if label not in basis.kinetics:
            raise InputError("--basis", f"no responses of {label} synapses onto {post}")
        kinetics = basis.kinetics[label]
        self.stack = ProbeStack(config, names)
        missing = [name for name in self.stack.primary if name not in kinetics.responses]
        if missing:
            raise InputError("--basis", f"no responses of probes {missing}")
        self.sampler = SynapseSampler(config, pre, post, basis.placements[pre])
        self.columns = kinetics.columns
        self.column_of = np.full(basis.n_segments, -1)
        self.column_of[self.columns] = np.arange(self.columns.size)
        if np.any(self.sampler.placement[self.column_of < 0] > 0):
            raise InputError(
                "--basis", f"its {label} columns miss segments that {pre}->{post} reaches"
            )
        self.delay_pmf = distributions.delay_pmf(connection["delay"], basis.dt, basis.n_steps)
        # peak current (nA) of one linearized synapse on each column's segment
        self.weights = synapse.linearized_weight(basis.vrest)[self.columns]
        stacked = self.stack.stack(kinetics.responses, axis=0)  # (C, J, L)
        self.basis = stacked * self.weights[None, :, None]
        self._transformed = {}

    # ---------------------------------------------------------------- mean-field
    def mean_field_signal(self):
        """Stacked signal (C, n_steps + 1) of the expected synapses of one presynaptic
        spike, all at lag 0."""
        expected = self.sampler.expected_synapses()[self.columns]
        return np.einsum("cjl,j->cl", self.basis, expected)

    def mean_field_kernels(self):
        """{probe: kernel (n_channels, n_lags)}: the mean-field kernels."""
        return {
            name: kernel_from_signal(signal, self.n_steps, self.delay_pmf, self.fir)
            for name, signal in self.stack.split(self.mean_field_signal()).items()
        }

    # ------------------------------------------------------------------ ensemble
    def _window_spectra(self, size, width):
        """Transformed windows of the weighted basis for :meth:`realization_signals`.

        Window b holds lags b hop - (width - 1) .. b hop + hop - 1 (zero outside
        0..tau), hop = size - width + 1; its rfft of ``size`` points.

        Returns
        -------
        ndarray, shape (size // 2 + 1, J, C * n_windows), complex
        """
        key = (size, width)
        if key not in self._transformed:
            hop = size - width + 1
            n_windows = -(-(self.n_steps + 1) // hop)
            n_channels, n_cols, n_lags = self.basis.shape
            padded = np.zeros((n_channels, n_cols, n_windows * hop + width - 1))
            padded[..., width - 1 : width - 1 + n_lags] = self.basis
            windows = np.lib.stride_tricks.sliding_window_view(padded, size, axis=-1)[
                ..., ::hop, :
            ]
            spectra = scipy.fft.rfft(windows, axis=-1)  # (C, J, n_windows, F)
            self._transformed[key] = np.ascontiguousarray(spectra.transpose(3, 1, 0, 2)).reshape(
                size // 2 + 1, n_cols, n_channels * n_windows
            )
        return self._transformed[key]

    def _fft_size(self, width):
        """FFT length of the overlap-save sums for counts ``width`` steps wide: the fast
        length >= max(MIN_FFT, 2 width) with the least windows x length (the work of the
        products and inverse transforms)."""
        lags = self.n_steps + 1
        size = scipy.fft.next_fast_len(max(MIN_FFT, 2 * width), real=True)
        limit = scipy.fft.next_fast_len(lags + width, real=True)
        best = None
        while True:
            cost = -(-lags // (size - width + 1)) * size
            if best is None or cost < best[0]:
                best = (cost, size)
            if size >= limit:
                return best[1]
            size = scipy.fft.next_fast_len(size + 1, real=True)

    def realization_signals(self, seed, indices):
        """Stacked signals of ensemble realizations.

        The synapses of the realizations are binned into counts per (delay step,
        realization, column) over the block's delays d_min..d_max (width W). The
        convolution of the counts with the basis along lags is an overlap-save sum:
        lags are cut into windows of ``hop`` lags, each window's counts and basis are
        multiplied as spectra of ``size`` = hop + W - 1 points (one matrix product
        (realizations x columns) @ (columns x channels x windows) per frequency), and
        the valid part of each inverse transform is kept. The result equals the direct
        sum of shifted basis columns up to round-off.

        Parameters
        ----------
        seed : int
        indices : sequence of int
            Realization indices (a block).

        Returns
        -------
        ndarray, shape (len(indices), C, n_steps + 1)
            Signal of each realization at lags 0..tau.
        """
        n = self.n_steps
        n_real, n_cols = len(indices), self.columns.size
        n_channels = self.basis.shape[0]
        n_synapses, segments, steps = self.sampler.draw_many(seed, indices)
        rows = np.repeat(np.arange(n_real, dtype=np.int64), n_synapses)
        # a synapse acting after tau is not seen on the kernel's lags
        keep = steps <= n
        rows, cols, steps = rows[keep], self.column_of[segments[keep]], steps[keep]
        signals = np.zeros((n_real, n_channels, n + 1))
        if steps.size == 0:
            return signals
        first = int(steps.min())
        # widths rounded up to a multiple of 16 steps (zero counts): few basis transforms
        width = -(-(int(steps.max()) - first + 1) // 16) * 16
        # synapses per (delay step, realization, column): exact integer counts
        counts = np.bincount(
            ((steps - first) * n_real + rows) * n_cols + cols, minlength=width * n_real * n_cols
        ).reshape(width, n_real, n_cols)
        size = self._fft_size(width)
        hop = size - width + 1
        spectra = self._window_spectra(size, width)  # (F, J, C * windows)
        n_windows = spectra.shape[2] // n_channels
        product = np.zeros((spectra.shape[0], n_real, spectra.shape[2]), complex)
        for start in range(0, n_cols, SEGMENT_CHUNK):
            part = slice(start, start + SEGMENT_CHUNK)
            counts_hat = scipy.fft.rfft(counts[:, :, part].astype(float), n=size, axis=0)
            product += np.matmul(counts_hat, spectra[:, part, :])
        # inverse transforms along rows (R * C * windows, F) of the transposed product;
        # window w holds lags first + w hop + (0..hop - 1) at points width - 1 ..
        inverse = scipy.fft.irfft(product.reshape(product.shape[0], -1).T, n=size, axis=-1)
        inverse = inverse.reshape(n_real, n_channels, n_windows, size)
        for w in range(n_windows):
            start = first + w * hop
            stop = min(n + 1, start + hop)
            signals[:, :, start:stop] = inverse[:, :, w, width - 1 : width - 1 + stop - start]
        # lag 0 holds only lag 0 of the basis, zero by construction (up to FFT round-off)
        signals[:, :, 0] = 0.0
        return signals

    def _realization_responses(self, seed, indices):
        """{probe: signals (R, n_channels, n_steps + 1)}; zero at lag 0 (the baseline that
        kernel_from_signal subtracts)."""
        return self.stack.split(self.realization_signals(seed, indices))

    def realization_kernels(self, seed, indices):
        """{probe: kernels (len(indices), n_channels, n_lags)} of ensemble realizations
        (:func:`~hpckernels.engine.kernel_from_signal` of each signal)."""
        return {
            name: kernel_from_signal(signal, self.n_steps, None, self.fir)
            for name, signal in self._realization_responses(seed, indices).items()
        }

    def block_moments(self, seed, indices):
        """{probe: RunningMoments} of the kernels of a block of realizations.

        The moments are taken over lags 0..tau and laid out on the kernel's lags
        afterwards: the kernels are zero at negative lags and at lag 0, so this is the
        same arithmetic as the moments of :meth:`realization_kernels`.
        """
        out = {}
        for name, signal in self._realization_responses(seed, indices).items():
            moments = RunningMoments.from_samples(signal)
            mean, m2 = (
                kernel_from_signal(a, self.n_steps, None, self.fir)
                for a in (moments.mean, moments.m2)
            )
            out[name] = RunningMoments(moments.count, mean, m2)
        return out
