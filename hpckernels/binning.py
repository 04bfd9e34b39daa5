"""Binning of spike times: counts per bin of width dt, chunk by chunk.

Bin ``i`` of ``[t_start, t_stop)`` is the half-open interval ``[t_start + i*dt,
t_start + (i+1)*dt)`` and stands for time ``t_start + i*dt`` (its left edge) in
:mod:`hpckernels.convolution`. Nothing here reads files (see :mod:`hpckernels.io.spikes`).
"""

from __future__ import annotations

import numpy as np

from .errors import InputError

#: Bins per chunk of :func:`iter_population_counts` when none is given.
DEFAULT_COUNT_CHUNK = 2**16
#: Relative tolerance for "a whole number of bins".
EDGE_TOL = 1e-6
#: Spike times this fraction of a bin below an edge are counted in the bin starting at
#: that edge: decimal times (0.3 ms with dt = 0.1 ms) land where they read, and so do
#: on-grid times that NEST's ASCII backend rounds to 3 decimals by default (12.0625 ms
#: written as 12.062 ms at dt = 1/16 ms: 0.8 % of a bin early).
SNAP_TOL = 0.02


def bin_count(t_start, t_stop, dt):
    """Number of bins of width ``dt`` (ms) in ``[t_start, t_stop)``.

    Raises
    ------
    ValueError
        When ``dt <= 0``, ``t_stop <= t_start`` or the interval is not a whole number
        of bins.
    """
    if not dt > 0:
        raise ValueError(f"bin width dt must be > 0 ms, got {dt}")
    if not t_stop > t_start:
        raise ValueError(f"t_stop ({t_stop} ms) must exceed t_start ({t_start} ms)")
    n_exact = (t_stop - t_start) / dt
    n_bins = int(round(n_exact))
    if abs(n_exact - n_bins) > EDGE_TOL * max(1.0, n_bins) or n_bins < 1:
        raise ValueError(
            f"[{t_start}, {t_stop}) ms is not a whole number of bins of {dt} ms ({n_exact})"
        )
    return n_bins


def bin_index(times, t_start, dt):
    """Bin index (float, may be out of range) of each spike time: the binning rule of
    :func:`bin_spike_counts`, bin 0 starting at ``t_start``."""
    times = np.asarray(times, dtype=np.float64).ravel()
    return np.floor((times - t_start) / dt + SNAP_TOL)


def bin_spike_counts(times, t_start, t_stop, dt, *, dtype=np.int64):
    """Count spikes in bins of width ``dt`` over ``[t_start, t_stop)``.

    Bin ``i`` (``i = 0 .. n_bins - 1``, ``n_bins = (t_stop - t_start) / dt``) is the
    half-open interval ``[t_start + i*dt, t_start + (i+1)*dt)`` and stands for time
    ``t_start + i*dt`` (its left edge) in :mod:`hpckernels.convolution`. A spike at
    exactly ``t_start`` is counted in bin 0; one at exactly ``t_stop`` is dropped, as are
    all spikes outside ``[t_start, t_stop)``. Times less than ``0.02 * dt`` below an
    edge count as on the edge, so that times written in decimal (0.3 ms with
    ``dt = 0.1`` ms, where ``0.3 / 0.1 < 3`` in floating point) land in the bin their
    decimal value says, and so do simulator times on the dt grid that were written
    with few decimals (NEST's ASCII default of 3 decimals at ``dt = 1/16`` ms).

    Parameters
    ----------
    times : array_like
        Spike times (ms), any order.
    t_start, t_stop : float
        Interval (ms); ``t_stop - t_start`` must be a whole number of ``dt``.
    dt : float
        Bin width (ms).
    dtype : numpy dtype
        Output type, e.g. ``float64`` for direct use as a rate in spikes per bin.

    Returns
    -------
    numpy.ndarray
        Spike counts (spikes per bin), shape ``(n_bins,)``.

    Raises
    ------
    ValueError
        When ``dt <= 0``, ``t_stop <= t_start`` or the interval is not a whole number
        of bins.
    """
    n_bins = bin_count(t_start, t_stop, dt)
    index = bin_index(times, t_start, dt)
    index = index[(index >= 0) & (index < n_bins)].astype(np.int64)
    return np.bincount(index, minlength=n_bins).astype(dtype, copy=False)


def count_scale(size, simulated_size):
    """Factor from simulated to full population spike counts, ``size / simulated_size``."""
    if simulated_size is None:
        return 1.0
    if not simulated_size > 0:
        raise InputError("simulated size", f"must be > 0, got {simulated_size}")
    return float(size) / float(simulated_size)


def _bin_indices(times, t_start, dt, n, offset=0):
    """Sorted indices in ``[0, n)`` of the bins of spike times (the rule of bin_spike_counts,
    bin ``offset`` starting at ``t_start``)."""
    index = bin_index(times, t_start, dt) + offset
    index = index[(index >= 0) & (index < n)].astype(np.int64)
    index.sort()
    return index


def iter_population_counts(
    spike_times, names, t_start, t_stop, dt, *, scales=None, chunk_size=None, margins=(0, 0)
):
    """Scaled spike counts per bin, chunk by chunk.

    Parameters
    ----------
    spike_times : mapping of str to array_like
        Spike times (ms) per population, any order.
    names : sequence of str
        Populations in output order (the kernel tensor's presynaptic axis).
    t_start, t_stop, dt : float
        Interval and bin width (ms); ``t_stop - t_start`` a whole number of ``dt``.
    scales : mapping of str to float, optional
        Count scale per population (population size / simulated size; default 1).
    chunk_size : int, optional
        Bins per yielded piece (default 65536).
    margins : (int, int)
        Extra bins before ``t_start`` and after ``t_stop``, on the same bin grid.

    Yields
    ------
    numpy.ndarray
        Consecutive float64 pieces ``(len(names), m)`` of the counts (spikes per bin
        times scale); the last piece may be shorter. Without margins equal to
        ``bin_spike_counts(times, t_start, t_stop, dt) * scale`` per population.
    """
    before, after = (int(m) for m in margins)
    if before < 0 or after < 0:
        raise ValueError(f"margins must be >= 0 bins, got {margins}")
    n = bin_count(t_start, t_stop, dt) + before + after
    block = DEFAULT_COUNT_CHUNK if chunk_size is None else int(chunk_size)
    if block < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    missing = [name for name in names if name not in spike_times]
    if missing:
        raise KeyError(f"no spike times of populations {missing}")
    scales = {} if scales is None else scales
    indices = [_bin_indices(spike_times[name], t_start, dt, n, before) for name in names]
    factors = np.array([float(scales.get(name, 1.0)) for name in names])
    cursors = [0] * len(names)
    for start in range(0, n, block):
        stop = min(start + block, n)
        out = np.empty((len(names), stop - start))
        for row, index in enumerate(indices):
            end = int(np.searchsorted(index, stop, side="left"))
            out[row] = np.bincount(index[cursors[row] : end] - start, minlength=stop - start)
            cursors[row] = end
        out *= factors[:, np.newaxis]
        yield out


def population_counts(spike_times, names, t_start, t_stop, dt, *, scales=None):
    """All scaled spike counts at once, ``(len(names), n_bins)`` float64; see
    :func:`iter_population_counts`."""
    n = bin_count(t_start, t_stop, dt)
    return np.concatenate(
        list(
            iter_population_counts(
                spike_times, names, t_start, t_stop, dt, scales=scales, chunk_size=n
            )
        ),
        axis=1,
    )
