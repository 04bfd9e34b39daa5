"""Kernels of a pathway from the impulse-response basis of its postsynaptic population.

Whatever engine computed the basis (:class:`~hpckernels.datatypes.PopulationBasis`),

* the mean-field kernel X -> Y is ``sum_j w_j G[:, j, :]``, w_j the linearized peak
  current of one synapse times the expected synapses on segment j (k_out p_j),
  convolved with the delay distribution
  (:func:`~hpckernels.engines.common.kernel_from_signal`);
* ensemble realization i is the sum over its synapses of ``w_j G[:, j, :]`` shifted by
  the synapse's delay, with the synapses of :meth:`SynapseSampler.draw
  <hpckernels.engines.common.SynapseSampler.draw>` (the same realization as the NEURON
  engine's). Realizations are computed in blocks: their synapses are binned into
  (delay step, segment) counts, projected on the few modes of the basis (its singular
  value decomposition), transformed along lags with FFTs and contracted with the
  transformed modes, one matrix product per frequency.

EEG and MEG probes are a head-model matrix applied to a dipole probe's signal
(:class:`~hpckernels.probes.stack.ProbeStack`): they are derived from the dipole rows and
have no basis of their own. Nothing here reads or writes files or talks MPI.
"""

from __future__ import annotations

import numpy as np

from .. import distributions
from ..errors import InputError
from ..probes import ProbeStack
from ..synapses import synapse_model
from .common import SynapseSampler, kernel_from_signal, kinetics_label
from .ensemble import RunningMoments

#: Realizations per ensemble block of the basis engine (moments are merged in block
#: order: fixed, so that results do not depend on the number of ranks).
BLOCK = 64
#: Smallest FFT length of the overlap-save sums of :meth:`BasisPathway.realization_signals`.
MIN_FFT = 256
#: Singular values of the responses (each probe scaled to its largest) below this
#: fraction of the largest are dropped from :meth:`BasisPathway.modes`: the responses
#: themselves agree with NEURON to ~1e-13 of each probe's largest, and what lies below
#: 1e-14 is their round-off.
RANK_RTOL = 1e-14
#: Ensembles of at least this many realizations per basis column are computed on the
#: basis's modes (:meth:`BasisPathway.use_modes_for`).
MODES_FROM = 2


class PathwayInput:
    """The synapses of pathway pre -> post on the cell of a population's basis: their
    kinetics, peak currents and expected number per segment, the delay distribution.

    Parameters
    ----------
    basis : PopulationBasis
        Its cell (placements, rest potential) and time grid; responses are not needed.
    config : NetworkConfig
    pre, post : str
    """

    def __init__(self, basis, config, pre, post):
        connection = config.connection(pre, post)
        self.synapse = synapse_model(connection["synapse"])
        self.label = kinetics_label(self.synapse)
        self.n_steps = basis.n_steps
        self.fir = config.simulation["fir"]
        self.sampler = SynapseSampler(config, pre, post, basis.placements[pre])
        self.delay_pmf = distributions.delay_pmf(connection["delay"], basis.dt, basis.n_steps)
        # peak current (nA) of one linearized synapse on each segment
        self.weights = self.synapse.linearized_weight(basis.vrest)

    def expected_current(self):
        """Summed peak current (nA) per segment of the expected synapses of one
        presynaptic spike (the mean-field input)."""
        return self.sampler.expected_synapses() * self.weights

    def mean_field_kernels(self, stack, signal):
        """{probe: kernel} of the stacked mean-field signal (C, n_steps + 1) of ``stack``'s
        probes: the delay distribution applied
        (:func:`~hpckernels.engines.common.kernel_from_signal`)."""
        return {
            name: kernel_from_signal(part, self.n_steps, self.delay_pmf, self.fir)
            for name, part in stack.split(signal).items()
        }


class BasisPathway:
    """Kernels of pathway pre -> post from the basis of ``post``: mean-field and ensemble
    realizations, for the probes of a :class:`~hpckernels.probes.stack.ProbeStack`.

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
        self.input = PathwayInput(basis, config, pre, post)
        label = self.input.label
        self.n_steps = basis.n_steps
        self.fir = config.simulation["fir"]
        if label not in basis.kinetics:
            raise InputError("--basis", f"no responses of {label} synapses onto {post}")
        kinetics = basis.kinetics[label]
        self.kinetics = kinetics
        self.stack = ProbeStack(config.probes, names)
        missing = [name for name in self.stack.primary if name not in kinetics.responses]
        if missing:
            raise InputError("--basis", f"no responses of probes {missing}")
        self.sampler = self.input.sampler
        self.columns = kinetics.columns
        self.column_of = np.full(basis.n_segments, -1)
        self.column_of[self.columns] = np.arange(self.columns.size)
        if np.any(self.sampler.placement[self.column_of < 0] > 0):
            raise InputError(
                "--basis", f"its {label} columns miss segments that {pre}->{post} reaches"
            )
        self.delay_pmf = self.input.delay_pmf
        # peak current (nA) of one linearized synapse on each column's segment
        self.weights = self.input.weights[self.columns]
        self._transformed = {}
        self.on_modes = False

    def use_modes_for(self, realizations):
        """Compute realizations on the modes of the basis (:meth:`modes`) when an
        ensemble of ``realizations`` pays for their decomposition: it costs about as much
        as 1.2 x n_columns realizations save, so from 2 x n_columns on (None: no)."""
        self.on_modes = realizations is not None and realizations >= MODES_FROM * self.columns.size
        self._transformed = {}

    def _derived(self, name, compute):
        """What ``compute()`` derives from the kinetics's responses for these probes, kept
        with the responses (shared by every pathway of the population)."""
        key = (name, tuple(self.stack.primary))
        if key not in self.kinetics.derived:
            self.kinetics.derived[key] = compute()
        return self.kinetics.derived[key]

    def responses(self):
        """The responses of the probes stacked column-major, (J, C, n_steps + 1) (probe
        units per nA; the channels of each probe at ``stack.slices``)."""

        def stacked():
            responses = self.stack.stack(self.kinetics.responses, axis=0)  # (C, J, L)
            return np.ascontiguousarray(responses.transpose(1, 0, 2)), dict(self.stack.slices)

        responses, self.stack.slices = self._derived("stacked", stacked)
        return responses

    @property
    def basis(self):
        """The weighted basis (C, J, n_steps + 1): each column's responses times the peak
        current (nA) of one of the pathway's synapses there."""
        return self.responses().transpose(1, 0, 2) * self.weights[None, :, None]

    # ---------------------------------------------------------------- mean-field
    def mean_field_signal(self):
        """Stacked signal (C, n_steps + 1) of the expected synapses of one presynaptic
        spike, all at lag 0."""
        responses = self.responses()
        expected = self.input.expected_current()[self.columns]
        signal = np.einsum("jk,j->k", responses.reshape(responses.shape[0], -1), expected)
        return signal.reshape(responses.shape[1:])

    def mean_field_kernels(self):
        """{probe: kernel (n_channels, n_lags)}: the mean-field kernels."""
        return self.input.mean_field_kernels(self.stack, self.mean_field_signal())

    # ------------------------------------------------------------------ ensemble
    def modes(self):
        """The weighted basis as a sum of few products: ``basis[c, j, l] = sum_k U[j, k]
        modes[k, c, l]``.

        From the singular value decomposition of the responses (columns x channels and
        lags, each probe's rows scaled to its largest response), truncated where the
        singular values fall below :data:`RANK_RTOL` of the largest: the responses of a
        cable's segments are smooth in space, so a few dozen modes carry hundreds of
        columns (rank 43 of 244 columns, 78 of 446, in the microcircuit). The
        decomposition is kept with the kinetics's responses (``derived``) and shared by
        every pathway with those probes; the weights of the pathway's synapses scale U.

        Returns
        -------
        U : ndarray, shape (n_columns, n_modes)
            Weighted (nA per synapse).
        modes : ndarray, shape (n_modes, C, n_steps + 1)
            Probe units per nA.
        """
        responses = self.responses()  # (J, C, L)

        def decomposition():
            n_cols, n_channels, n_lags = responses.shape
            scale = np.ones(n_channels)
            for part in self.stack.slices.values():
                largest = np.abs(responses[:, part]).max()
                scale[part] = largest if largest > 0 else 1.0
            scaled = (responses / scale[None, :, None]).reshape(n_cols, -1)
            U, values, Vt = np.linalg.svd(scaled, full_matrices=False)
            rank = max(1, int(np.sum(values > RANK_RTOL * values[0]))) if values.size else 0
            modes = (values[:rank, None] * Vt[:rank]).reshape(rank, n_channels, n_lags)
            return U[:, :rank], modes * scale[None, :, None]

        U, modes = self._derived("modes", decomposition)
        return U * self.weights[:, None], modes

    def _factors(self):
        """(U, modes) of :meth:`modes`, or (None, responses (J, C, L)) for the columns
        themselves (U the weights, applied elementwise)."""
        if self.on_modes:
            return self.modes()
        return None, self.responses()

    def _window_spectra(self, size, width):
        """Transformed windows of the modes for :meth:`realization_signals`, and the
        transform of ``width`` steps.

        Window b holds lags b hop - (width - 1) .. b hop + hop - 1 (zero outside
        0..tau), hop = size - width + 1; its rfft of ``size`` points.

        Returns
        -------
        spectra : ndarray, shape (size // 2 + 1, n_modes, C * n_windows), complex
        dft : (ndarray, ndarray), shape (size // 2 + 1, width) each
            Real and imaginary part of the rfft of ``size`` points of ``width`` values
            (as matrices: for so few values cheaper than an FFT).
        """
        import scipy.fft

        key = (size, width)
        if key not in self._transformed:
            _, modes = self._factors()
            hop = size - width + 1
            n_windows = -(-(self.n_steps + 1) // hop)
            n_modes, n_channels, n_lags = modes.shape
            padded = np.zeros((n_modes, n_channels, n_windows * hop + width - 1))
            padded[..., width - 1 : width - 1 + n_lags] = modes
            windows = np.lib.stride_tricks.sliding_window_view(padded, size, axis=-1)[
                ..., ::hop, :
            ]
            spectra = scipy.fft.rfft(windows, axis=-1)  # (K, C, n_windows, F)
            spectra = np.ascontiguousarray(spectra.transpose(3, 0, 1, 2)).reshape(
                size // 2 + 1, n_modes, n_channels * n_windows
            )
            phase = np.exp(
                np.outer(np.arange(size // 2 + 1), np.arange(width)) * (-2j * np.pi / size)
            )
            dft = (np.ascontiguousarray(phase.real), np.ascontiguousarray(phase.imag))
            self._transformed[key] = (spectra, dft)
        return self._transformed[key]

    def _fft_size(self, width):
        """FFT length of the overlap-save sums for counts ``width`` steps wide: the fast
        length >= max(MIN_FFT, 2 width) with the least windows x length (the work of the
        products and inverse transforms)."""
        import scipy.fft

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

        A realization is a (delay step x column) count matrix of its synapses applied to
        the weighted basis. For a block of realizations the counts (over the block's
        delays d_min..d_max, width W) are weighted by the synapses' peak currents, or,
        on modes (:meth:`use_modes_for`), multiplied by the modes' column factors
        (:meth:`modes`: one matrix product for the block); the result is convolved with
        the columns' responses (or the modes) along lags as an overlap-save sum: lags are
        cut into windows of ``hop`` lags, each window's counts and responses are
        multiplied as spectra of ``size`` = hop + W - 1 points (one matrix product
        (realizations x columns or modes) @ (columns or modes x channels x windows) per
        frequency), and the valid part of each inverse transform is kept. No loop over
        synapses; the result equals the direct sum of shifted basis columns up to
        round-off (and the dropped singular values, below :data:`RANK_RTOL`).

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
        import scipy.fft

        n = self.n_steps
        n_real, n_cols = len(indices), self.columns.size
        n_synapses, segments, steps = self.sampler.draw_many(seed, indices)
        rows = np.repeat(np.arange(n_real, dtype=np.int64), n_synapses)
        # a synapse acting after tau is not seen on the kernel's lags
        keep = steps <= n
        rows, cols, steps = rows[keep], self.column_of[segments[keep]], steps[keep]
        U, modes = self._factors()
        n_modes, n_channels = modes.shape[:2]
        signals = np.zeros((n_real, n_channels, n + 1))
        if steps.size == 0:
            return signals
        first = int(steps.min())
        # widths rounded up to a multiple of 16 steps (zero counts): few mode transforms
        width = -(-(int(steps.max()) - first + 1) // 16) * 16
        # synapses per (delay step, realization, column): exact integer counts
        counts = np.bincount(
            ((steps - first) * n_real + rows) * n_cols + cols, minlength=width * n_real * n_cols
        ).reshape(width * n_real, n_cols)
        if U is None:
            weighted = (counts * self.weights).reshape(width, n_real * n_modes)
        else:
            weighted = (counts.astype(float) @ U).reshape(width, n_real * n_modes)
        size = self._fft_size(width)
        hop = size - width + 1
        spectra, (real, imaginary) = self._window_spectra(size, width)  # (F, K, C * windows)
        n_windows = spectra.shape[2] // n_channels
        transformed = np.empty((spectra.shape[0], n_real * n_modes), complex)
        transformed.real = real @ weighted
        transformed.imag = imaginary @ weighted
        product = np.matmul(transformed.reshape(-1, n_real, n_modes), spectra)
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
        (:func:`~hpckernels.engines.common.kernel_from_signal` of each signal)."""
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
