"""How well a predicted signal matches a ground truth: the metrics of Hagen et al. (2022,
PLOS Comput Biol 18(8): e1010353, Figs 5-7) and Ness et al. (2025, PLOS Comput Biol
21(4): e1012303). Pure functions of arrays (channels along axis 0, time along axis 1).

R^2
    squared Pearson correlation coefficient of prediction and ground truth.
r_STD
    sigma_pred / sigma_gt (standard deviations over time).
E_rel
    sigma(pred - gt) / sigma_gt (Ness et al. 2025).
low-pass
    the paper's 100 Hz filter: elliptic, order 2, 0.1 dB pass-band ripple, 40 dB
    stop-band attenuation, applied forward and backward (``sosfiltfilt``).
coherence
    magnitude-squared coherence (Welch: segments of 2048 samples, 1536 overlap) up to
    500 Hz.
cross-correlation
    of the z-scored signals (e.g. the dipole's z component) over lags of +-20 ms.
"""

from __future__ import annotations

import numpy as np
import scipy.signal as ss

from .error_theory import xcorr

#: The paper's low-pass filter: elliptic, order, pass-band ripple (dB), stop band (dB).
LOWPASS = {"order": 2, "rp": 0.1, "rs": 40.0, "cutoff": 100.0}
#: Welch segment length and overlap (samples) of the coherence, and its upper frequency.
COHERENCE = {"nperseg": 2048, "noverlap": 1536, "fmax": 500.0}
#: Largest lag (ms) of the cross-correlation.
XCORR_LAG = 20.0
#: Channels whose ground truth varies less than this fraction of the probe's most
#: varying channel are left out (e.g. P_x, P_y of vertical cells, MEG components a
#: radial dipole does not produce).
SILENT_RTOL = 1e-6


def _rows(x):
    return np.atleast_2d(np.asarray(x, dtype=float))


def active_channels(gt, rtol=SILENT_RTOL):
    """Channels whose ground truth varies (std > rtol * the largest channel std)."""
    std = _rows(gt).std(axis=1)
    return std > rtol * std.max() if std.max() > 0 else np.zeros(std.shape, bool)


def r_squared(gt, pred):
    """Squared Pearson correlation coefficient per channel (NaN without variance)."""
    gt, pred = _rows(gt), _rows(pred)
    a = gt - gt.mean(axis=1, keepdims=True)
    b = pred - pred.mean(axis=1, keepdims=True)
    denominator = np.sqrt((a**2).sum(axis=1) * (b**2).sum(axis=1))
    r = np.divide(
        (a * b).sum(axis=1), denominator, out=np.full(gt.shape[0], np.nan), where=denominator > 0
    )
    return r**2


def r_std(gt, pred):
    """sigma_pred / sigma_gt per channel."""
    s = _rows(gt).std(axis=1)
    return np.divide(_rows(pred).std(axis=1), s, out=np.full(s.shape, np.nan), where=s > 0)


def e_rel(gt, pred):
    """sigma(pred - gt) / sigma_gt per channel."""
    gt, pred = _rows(gt), _rows(pred)
    s = gt.std(axis=1)
    return np.divide((pred - gt).std(axis=1), s, out=np.full(s.shape, np.nan), where=s > 0)


def full_population_metrics(gt, pred, excess):
    """R^2, r_STD and E_rel (raw) against the whole population, estimated from a ground
    truth of a sample of its cells scaled up (Var gt = Var of the whole population +
    ``excess``, the part the sample adds; independent of the prediction, so that
    Var(pred - gt) carries the same excess and Cov(pred, gt) none).

    Parameters
    ----------
    gt, pred : ndarray (n_channels, n_times)
    excess : ndarray (n_channels,)
        Variance the sample has beyond the whole population (``predict-error``'s
        ``var_sample_excess``).

    Returns
    -------
    dict of str to ndarray (n_channels,)
        ``r2``, ``r_std``, ``e_rel``; NaN where the excess leaves no variance, or more
        than the ground truth's sample shows (an estimated R^2 above 1 or a negative
        error variance: the predicted excess does not hold for these cells).
    """
    gt, pred = _rows(gt), _rows(pred)
    excess = np.asarray(excess, dtype=float)
    var_gt = gt.var(axis=1) - excess
    var_pred = pred.var(axis=1)
    cov = ((gt - gt.mean(axis=1, keepdims=True)) * (pred - pred.mean(axis=1, keepdims=True))).mean(
        axis=1
    )
    var_error = (pred - gt).var(axis=1) - excess
    nan = np.full(var_gt.shape, np.nan)
    # an excess larger than the ground truth shows (a prediction closer to the sample than
    # the whole population could be, R^2 above 1) makes the estimate meaningless: none
    ok = (var_gt > 0) & (var_error >= 0) & (cov**2 <= var_pred * var_gt)
    return {
        "r2": np.divide(cov**2, var_pred * var_gt, out=nan.copy(), where=ok & (var_pred > 0)),
        "r_std": np.sqrt(np.divide(var_pred, var_gt, out=nan.copy(), where=ok)),
        "e_rel": np.sqrt(np.divide(var_error, var_gt, out=nan.copy(), where=ok)),
    }


def lowpass(x, dt, cutoff=LOWPASS["cutoff"]):
    """The paper's low-pass filter along time (``dt`` in ms, ``cutoff`` in Hz)."""
    sos = ss.ellip(
        LOWPASS["order"],
        LOWPASS["rp"],
        LOWPASS["rs"],
        cutoff,
        btype="lowpass",
        fs=1000.0 / dt,
        output="sos",
    )
    return ss.sosfiltfilt(sos, _rows(x), axis=1)


def channel_metrics(gt, pred, dt):
    """R^2, r_STD and E_rel per channel, raw and low-pass filtered.

    Returns
    -------
    dict of str to ndarray (2, n_channels)
        ``r2``, ``r_std``, ``e_rel``; row 0 raw, row 1 low-pass.
    """
    gt, pred = _rows(gt), _rows(pred)
    filtered = (gt, pred), (lowpass(gt, dt), lowpass(pred, dt))
    return {
        name: np.array([func(a, b) for a, b in filtered])
        for name, func in (("r2", r_squared), ("r_std", r_std), ("e_rel", e_rel))
    }


def coherence(gt, pred, dt, **kwargs):
    """Magnitude-squared coherence per channel up to ``COHERENCE['fmax']``.

    Returns
    -------
    frequencies : ndarray (n_freq,) (Hz)
    values : ndarray (n_channels, n_freq)
    """
    settings = dict(COHERENCE, **kwargs)
    gt, pred = _rows(gt), _rows(pred)
    nperseg = min(settings["nperseg"], gt.shape[1])
    noverlap = min(settings["noverlap"], nperseg - 1)
    f, c = ss.coherence(gt, pred, fs=1000.0 / dt, nperseg=nperseg, noverlap=noverlap, axis=1)
    keep = f <= settings["fmax"]
    return f[keep], c[:, keep]


def zscore_xcorr(gt, pred, dt, max_lag=XCORR_LAG):
    """Cross-correlation of the z-scored signals, (1/T) sum_t z_gt(t) z_pred(t + u).

    Returns
    -------
    lags : ndarray (ms)
    values : ndarray (n_channels, n_lags); at lag 0 the Pearson r
    """
    gt, pred = _rows(gt), _rows(pred)
    n = int(round(max_lag / dt))

    def z(x):
        s = x.std(axis=1, keepdims=True)
        return np.divide(x - x.mean(axis=1, keepdims=True), s, out=np.zeros_like(x), where=s > 0)

    return np.arange(-n, n + 1) * dt, xcorr(z(pred), z(gt), n) / gt.shape[1]


def summary(values, mask=None):
    """Median and 10 % / 90 % quantiles across channels (NaN-aware; ``mask`` selects
    channels): array (..., 3) of median, q10, q90."""
    values = np.asarray(values, dtype=float)
    if mask is not None:
        values = values[..., mask]
    if values.shape[-1] == 0 or np.all(np.isnan(values)):
        return np.full((*values.shape[:-1], 3), np.nan)
    return np.stack(
        [np.nanmedian(values, axis=-1), *np.nanquantile(values, [0.1, 0.9], axis=-1)], axis=-1
    )
