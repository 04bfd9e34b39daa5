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
  (segment, delay step) counts, transformed along lags with FFTs and contracted with the
  transformed basis, one matrix product per frequency.

EEG and MEG probes are a head-model matrix applied to a dipole probe's signal
(:class:`~hpckernels.probes.stack.ProbeStack`): they are derived from the dipole rows and
have no basis of their own. Nothing here reads or writes files or talks MPI.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from .. import distributions
from ..errors import InputError
from ..probes import ProbeStack
from ..synapses import synapse_model
from .common import SynapseSampler, kernel_from_signal, kinetics_label
from .ensemble import RunningMoments

#: Realizations per ensemble block of the basis engine (moments are merged in block
#: order: fixed, so that results do not depend on the number of ranks).
BLOCK = 64
#: Basis columns (segments) transformed at a time in a block: bounds the memory of the
#: transformed counts (BLOCK x SEGMENT_CHUNK x frequencies complex numbers).
SEGMENT_CHUNK = 256
#: Smallest FFT length of the overlap-save sums of :meth:`BasisPathway.realization_signals`.
MIN_FFT = 256


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
        connection = config.connection(pre, post)
        synapse = synapse_model(connection["synapse"])
        label = kinetics_label(synapse)
        self.n_steps = basis.n_steps
        self.fir = config.simulation["fir"]
        if label not in basis.kinetics:
            raise InputError("--basis", f"no responses of {label} synapses onto {post}")
        kinetics = basis.kinetics[label]
        self.stack = ProbeStack(config.probes, names)
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
