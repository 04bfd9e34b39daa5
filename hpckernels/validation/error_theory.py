"""The error of a population-kernel prediction, predicted from single-neuron kernel
heterogeneity and spike statistics (Ness et al. 2025, PLOS Comput Biol 21(4): e1012303).

A linear signal made by the neurons i of presynaptic populations X, each with its own
kernel k_i (the summed effect of its synapses on the postsynaptic cells), plus
independent Poisson background with kernels k_b::

    phi(t) = sum_X sum_{i in X} (s_i * k_i)(t) + sum_b (pi_b * k_b)(t)

is predicted from the population spike counts S_X = sum_i s_i with one kernel K_X per
population: phi_hat = sum_X S_X * K_X. Write k_i = kbar_X + delta_i, with kbar_X the
mean of the k_i given what all neurons share (the postsynaptic cells' positions), so
that the deviations delta_i are independent with mean zero. Then::

    e = phi - phi_hat = sum_X S_X * (kbar_X - K_X) + sum_X sum_i s_i * delta_i + background

and, averaged over the deviations (connectivity) and the background, the variance
over time of each term adds (all cross terms have mean zero)::

    Var e = sum_{X,X'} sum_u C_XX'(u) [Delta_X (x) Delta_X'](u)       (shared kernel error)
          + sum_X sum_u Gamma_X(u) D_X(u)                              (heterogeneity)
          + sum_b lambda_b sum_m k_b(m)^2                              (background)
    Var phi = the same with Delta_X = kbar_X replaced ... (first term with kbar_X)

with Delta_X = kbar_X - K_X, (A (x) B)(u) = sum_m A(m + u) B(m), C_XX'(u) the
cross-covariance of the population counts per bin (pairwise correlations enter here),
Gamma_X(u) = sum_{i in X} gamma_i(u) the summed auto-covariances of single trains,
D_X(u) = E[(delta_i (x) delta_i)(u)] the lag auto-correlation of the kernel deviations
(per neuron: its spread in time, not only the per-lag variance), and lambda_b the
background rate per bin. The relative error (Ness et al. 2025) is
E_rel = sqrt(Var e / Var phi).

Everything here is a pure function of arrays (kernels on lags 0..n, counts per bin).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import fft as sfft


def xcorr(a, b, n_lags):
    """(a (x) b)(u) = sum_m a(m + u) b(m) for u = -n_lags..n_lags along the last axis.

    Parameters
    ----------
    a, b : ndarray, shape (..., L)
        Kernels on lags 0..L-1 (broadcast against each other).
    n_lags : int
        Largest ``|u|`` returned.

    Returns
    -------
    ndarray, shape (..., 2 n_lags + 1)
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    size = a.shape[-1] + b.shape[-1]
    n_fft = sfft.next_fast_len(size)
    spectrum = sfft.rfft(a, n_fft) * np.conj(sfft.rfft(b, n_fft))
    full = sfft.irfft(spectrum, n_fft)
    # circular index u >= 0 at u, u < 0 at n_fft + u
    return np.concatenate([full[..., n_fft - n_lags :], full[..., : n_lags + 1]], axis=-1)


def power_xcorr(spectrum_power, n_fft, n_lags):
    """Lag auto-correlation from a power spectrum ``|rfft(a, n_fft)|^2`` (see :func:`xcorr`)."""
    full = sfft.irfft(spectrum_power, n_fft)
    return np.concatenate([full[..., n_fft - n_lags :], full[..., : n_lags + 1]], axis=-1)


# ------------------------------------------------------------------ spike statistics
@dataclass
class SpikeStatistics:
    """Second-order statistics of spike counts per bin of width ``dt``.

    Attributes
    ----------
    names : list of str
        Presynaptic populations.
    lags : ndarray of int, shape (2 n + 1,)
        Lags u (bins).
    rates : ndarray (n_pop,)
        Mean rate per neuron (spikes/s).
    sizes : ndarray (n_pop,)
        Neurons per population.
    summed_autocovariance : ndarray (n_pop, 2 n + 1)
        Gamma_X(u) = sum_i Cov(c_i(t), c_i(t + u)) (spikes^2 per bin^2).
    count_covariance : ndarray (n_pop, n_pop, 2 n + 1)
        C_XX'(u) = Cov(S_X(t), S_X'(t + u)) of the population counts.
    """

    names: list
    lags: np.ndarray
    rates: np.ndarray
    sizes: np.ndarray
    summed_autocovariance: np.ndarray
    count_covariance: np.ndarray
    dt: float
    duration: float

    def synchrony(self):
        """Var S_X / sum_i Var c_i per population at lag 0 (1 for independent trains)."""
        n = (self.lags.size - 1) // 2
        own = self.summed_autocovariance[:, n]
        total = np.array([self.count_covariance[x, x, n] for x in range(len(self.names))])
        return np.divide(total, own, out=np.full_like(own, np.nan), where=own > 0)

    def mean_correlation(self, bin_steps=1):
        """Mean pairwise correlation coefficient of the counts in bins of ``bin_steps`` dt:
        (Var S - sum Var c_i) / ((N - 1) sum Var c_i) per population."""
        n = (self.lags.size - 1) // 2
        u = np.arange(-(bin_steps - 1), bin_steps)
        weights = bin_steps - np.abs(u)
        out = []
        for x in range(len(self.names)):
            own = np.sum(weights * self.summed_autocovariance[x, n + u])
            total = np.sum(weights * self.count_covariance[x, x, n + u])
            size = self.sizes[x]
            out.append((total - own) / ((size - 1) * own) if own > 0 and size > 1 else np.nan)
        return np.array(out)


def spike_statistics(trains, names, t_start, t_stop, dt, n_lags):
    """Rates, summed single-train auto-covariances and population count covariances.

    Parameters
    ----------
    trains : dict of str to SpikeTrains
        Every simulated neuron of each population.
    names : sequence of str
    t_start, t_stop, dt : float
        Window and bin width (ms); spikes are binned with the rule of the signals.
    n_lags : int
        Largest lag (bins).

    Returns
    -------
    SpikeStatistics
    """
    from ..binning import bin_index

    n_bins = int(round((t_stop - t_start) / dt))
    lags = np.arange(-n_lags, n_lags + 1)
    n_pop = len(names)
    rates, sizes = np.zeros(n_pop), np.zeros(n_pop)
    auto = np.zeros((n_pop, lags.size))
    counts = np.zeros((n_pop, n_bins))
    for x, name in enumerate(names):
        pool = trains[name]
        sizes[x] = pool.size
        second = np.zeros(lags.size)  # sum over neurons of sum_t c(t) c(t + u)
        total = 0
        squares = 0.0
        for k in range(pool.size):
            b = bin_index(pool.train(k), t_start, dt)
            b = np.sort(b[(b >= 0) & (b < n_bins)]).astype(np.int64)
            if not b.size:
                continue
            total += b.size
            squares += float(b.size) ** 2
            # ordered pairs (p, q) with |b_q - b_p| <= n_lags, self pairs included:
            # for each p the spikes q >= p up to n_lags later (d >= 0), mirrored for q > p
            hi = np.searchsorted(b, b + n_lags, side="right")
            reach = hi - np.arange(b.size)
            first = np.repeat(np.arange(b.size), reach)
            step = np.arange(first.size) - np.repeat(np.cumsum(reach) - reach, reach)
            d = b[first + step] - b[first]
            second += np.bincount(n_lags + d, minlength=lags.size)
            second += np.bincount(n_lags - d[step > 0], minlength=lags.size)
            np.add.at(counts[x], b, 1.0)
        rates[x] = total / (pool.size * (t_stop - t_start) / 1000.0)
        # Cov(c(t), c(t + u)) = E[c(t) c(t + u)] - lambda^2, summed over neurons
        auto[x] = second / n_bins - squares / n_bins**2
    centred = counts - counts.mean(axis=1, keepdims=True)
    cov = np.zeros((n_pop, n_pop, lags.size))
    for x in range(n_pop):
        for y in range(n_pop):
            # Cov(S_x(t), S_y(t + u)) = sum_t S_x(t) S_y(t + u) / T
            cov[x, y] = xcorr(centred[y], centred[x], n_lags) / n_bins
    return SpikeStatistics(list(names), lags, rates, sizes, auto, cov, dt, t_stop - t_start)


# ---------------------------------------------------------------------------- errors
@dataclass
class ErrorPrediction:
    """Predicted variances (per channel) and the relative error.

    Attributes
    ----------
    shared : ndarray (n_channels,)
        Variance of sum_X S_X * (kbar_X - K_X): the population kernel differs from the
        mean kernel of this population (positions, sample, approximations).
    heterogeneity : ndarray (n_channels,)
        Variance of sum_i s_i * delta_i: single-neuron kernels differ from their mean.
    background : ndarray (n_channels,)
        Variance of the background's contribution (not in the prediction).
    signal : ndarray (n_channels,)
        Variance of phi.
    sample_excess : ndarray (n_channels,)
        Variance of phi of a sample of M_Y of N_Y cells (scaled by N_Y / M_Y) beyond that
        of the whole population: (1 - M_Y / N_Y) times the heterogeneity and background
        terms of each postsynaptic population Y (zero for whole populations).
    """

    shared: np.ndarray
    heterogeneity: np.ndarray
    background: np.ndarray
    signal: np.ndarray
    sample_excess: np.ndarray = None

    @property
    def error(self):
        """Var e (round-off below zero clipped)."""
        return np.maximum(self.shared + self.heterogeneity + self.background, 0.0)

    @property
    def e_rel(self):
        """E_rel = sqrt(Var e / Var phi) (NaN where phi does not vary)."""
        return np.sqrt(
            np.divide(
                self.error,
                self.signal,
                out=np.full_like(self.signal, np.nan),
                where=self.signal > 0,
            )
        )

    @property
    def e_rel_mean_kernel(self):
        """E_rel of the prediction with the population's own mean kernels kbar_X (no
        shared term)."""
        error = np.maximum(self.heterogeneity + self.background, 0.0)
        return np.sqrt(
            np.divide(
                error, self.signal, out=np.full_like(self.signal, np.nan), where=self.signal > 0
            )
        )


def shared_variance(kernels, stats):
    """Var over time of sum_X S_X * A_X for kernels A_X (per channel).

    Parameters
    ----------
    kernels : ndarray (n_pop, n_channels, L)
        A_X on lags 0..L-1, per presynaptic neuron, in the order of ``stats.names``.
    stats : SpikeStatistics
    """
    n = (stats.lags.size - 1) // 2
    kernels = np.asarray(kernels, float)
    total = np.zeros(kernels.shape[1])
    for x in range(kernels.shape[0]):
        for y in range(kernels.shape[0]):
            # Cov(S_x * A_x, S_y * A_y) = sum_u C_xy(u) sum_m A_x(m + u) A_y(m)
            total += xcorr(kernels[x], kernels[y], n) @ stats.count_covariance[x, y]
    return total


def heterogeneity_variance(deviation_xcorr, stats):
    """Var over time of sum_X sum_i s_i * delta_i, averaged over the deviations.

    Parameters
    ----------
    deviation_xcorr : ndarray (n_pop, n_channels, 2 n + 1)
        D_X(u) = E[(delta_i (x) delta_i)(u)] on the lags of ``stats``.
    """
    return np.einsum("xcu,xu->c", deviation_xcorr, stats.summed_autocovariance)


def predict_error(mean_kernels, model_kernels, deviation_xcorr, background, stats, sample=None):
    """Predicted variances of the error of ``model_kernels`` and of the signal.

    Parameters
    ----------
    mean_kernels : ndarray (n_pop, n_channels, L)
        kbar_X: mean kernel of one neuron of X (given the shared layout), lags 0..L-1.
    model_kernels : ndarray (n_pop, n_channels, L)
        K_X: the kernel the prediction uses per neuron of X.
    deviation_xcorr : ndarray (n_pop, n_channels, 2 n + 1)
        D_X (see :func:`heterogeneity_variance`).
    background : ndarray (n_channels,)
        Variance of the background contribution.
    stats : SpikeStatistics
    sample : (ndarray, ndarray), optional
        The parts of ``deviation_xcorr`` and ``background`` that a sample of cells has
        beyond the whole population (``sample_deviation_xcorr`` and ``sample_background``
        of :class:`~hpckernels.validation.heterogeneity.KernelStatistics`).

    Returns
    -------
    ErrorPrediction
    """
    mean_kernels = np.asarray(mean_kernels, float)
    het = heterogeneity_variance(deviation_xcorr, stats)
    excess = np.zeros_like(het)
    if sample is not None:
        excess = heterogeneity_variance(sample[0], stats) + np.asarray(sample[1], float)
    return ErrorPrediction(
        shared=shared_variance(mean_kernels - np.asarray(model_kernels, float), stats),
        heterogeneity=het,
        background=np.asarray(background, float),
        signal=shared_variance(mean_kernels, stats) + het + np.asarray(background, float),
        sample_excess=excess,
    )


def ensemble_deviation_xcorr(mean, mean_autocorrelation, realizations):
    """D = E[k (x) k] - kbar (x) kbar from ensemble moments (unbiased for R realizations).

    Parameters
    ----------
    mean : ndarray (..., L)
        Ensemble mean kernel on lags 0..L-1.
    mean_autocorrelation : ndarray (..., 2 n + 1)
        Mean over realizations of k (x) k.
    realizations : int
    """
    n = (mean_autocorrelation.shape[-1] - 1) // 2
    biased = mean_autocorrelation - xcorr(mean, mean, n)
    return biased * realizations / (realizations - 1)
