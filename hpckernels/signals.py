"""Predicted signals of a time window from spike times.

``V(R, t) = sum_X sum_Y (nu_X * H_YX)(R, t)`` (Hagen et al. 2022) over the window
``[t_start, t_stop)``: spike times are binned (:mod:`hpckernels.binning`) and convolved
with the kernel tensors (:mod:`hpckernels.convolution`). Pure functions, no file I/O.

Window edges
    Spikes within the kernels' reach outside the window contribute (up to ``tau``
    before ``t_start``, not before the recording's start, and ``tau`` after
    ``t_stop``), so that the window's first and last ``tau`` get the signal a longer
    recording gives.
Memory
    Counts are binned chunk by chunk from the (sorted) spike times and convolved chunk
    by chunk, so the working memory is bounded by the chunk size whatever the
    duration; only the spike times are held in full.
"""

from __future__ import annotations

import numpy as np

from .binning import SNAP_TOL, bin_count, iter_population_counts
from .convolution import SignalBlock, default_chunk_size, iter_signals

__all__ = [
    "config_chunk_size",
    "iter_window_signals",
    "signal_margins",
    "stream_window",
    "time_axis",
]


def time_axis(t_start, dt, start, stop):
    """Left edges (ms) of bins ``start .. stop - 1``: ``t_start + n*dt``."""
    return t_start + np.arange(start, stop, dtype=np.float64) * dt


def signal_margins(kernels, t_start, dt, t_min=0.0):
    """Bins of spikes outside ``[t_start, t_stop)`` that reach into it through the kernels.

    Parameters
    ----------
    kernels : mapping of str to array_like
        Probe -> tensor on the symmetric lag layout.
    t_start, dt : float
        Window start and bin width (ms).
    t_min : float or None
        Start of the recording (ms); None: no limit.

    Returns
    -------
    (int, int)
        ``before``: up to the largest positive lag (spikes up to ``tau`` before
        ``t_start`` still shape the signal at ``t_start``), but not before ``t_min``;
        ``after``: the largest negative lag.
    """
    half = max((np.shape(k)[-1] - 1) // 2 for k in kernels.values())
    room = int(np.floor((t_start - t_min) / dt + SNAP_TOL)) if t_min is not None else half
    return max(0, min(half, room)), half


def iter_window_signals(
    spike_times,
    names,
    kernels,
    t_start,
    t_stop,
    dt,
    *,
    scales=None,
    chunk_size=None,
    pathways=True,
    t_min=0.0,
    workers=None,
):
    """Signals of the window ``[t_start, t_stop)`` from spike times, block by block.

    The counts are binned over the window extended by :func:`signal_margins`,
    convolved, and the window is cut out.

    Parameters
    ----------
    spike_times : mapping of str to array_like
        Spike times (ms) per population.
    names : sequence of str
        Populations in the order of the tensors' pre axis.
    kernels : mapping of str to array_like
        Probe -> ``(n_post, n_pre, n_channels, n_lags)`` on the symmetric lag layout.
    t_start, t_stop, dt : float
        Window and bin width (ms).
    scales : mapping of str to float, optional
        Count scale per population.
    chunk_size : int, optional
        Bins per block (default :func:`~hpckernels.convolution.default_chunk_size`).
    pathways : bool
        Also return per-pathway contributions.
    t_min : float or None
        Start of the recording (ms); None: no limit.
    workers : int, optional
        Threads for :mod:`scipy.fft`.

    Yields
    ------
    SignalBlock
        Consecutive blocks with ``start`` counted in window bins; together they cover
        the window's ``bin_count(t_start, t_stop, dt)`` bins (blocks may differ in size).
    """
    n = bin_count(t_start, t_stop, dt)
    before, after = signal_margins(kernels, t_start, dt, t_min)
    if chunk_size is None:
        chunk_size = default_chunk_size(2 * after + 1)
    counts = iter_population_counts(
        spike_times,
        names,
        t_start,
        t_stop,
        dt,
        scales=scales,
        chunk_size=chunk_size,
        margins=(before, after),
    )
    for block in iter_signals(
        counts, kernels, chunk_size=chunk_size, pathways=pathways, workers=workers
    ):
        a, b = max(block.start, before), min(block.start + block.size, before + n)
        if a >= b:
            continue
        cut = slice(a - block.start, b - block.start)
        yield SignalBlock(
            a - before,
            {name: v[:, cut] for name, v in block.total.items()},
            None
            if block.pathways is None
            else {name: v[..., cut] for name, v in block.pathways.items()},
        )


def config_chunk_size(config, kernels):
    """Bins per convolution chunk: ``signals.chunk_size`` of the config, else
    :func:`~hpckernels.convolution.default_chunk_size` of the longest kernel."""
    n_lags = max(k.shape[-1] for k in kernels.values())
    return int(config.data.get("signals", {}).get("chunk_size", default_chunk_size(n_lags)))


def stream_window(writer, config, spike_times, names, kernels, scales, pathways):
    """Feed the scaled spike counts and the signal blocks of the config's window to
    ``writer``, chunk by chunk (:func:`config_chunk_size`).

    ``writer`` takes ``write_counts(start, counts, times)`` (counts (n_pre, m) of bins
    ``start .. start + m`` and their left edges in ms) and ``write_block(block, times)``
    (a :class:`~hpckernels.convolution.SignalBlock`), in time order: a signals file's
    writer (:data:`hpckernels.io.signals.SIGNAL_FORMATS`) or arrays in memory
    (:func:`hpckernels.api.predict`). ``spike_times``, ``names``, ``kernels``,
    ``scales`` and ``pathways`` are those of :func:`iter_window_signals`.

    Returns
    -------
    numpy.ndarray
        Scaled spike count of each population in the window.
    """
    t_start, t_stop = config.signal_window()
    dt = float(config.simulation["dt"])
    options = {"scales": scales, "chunk_size": config_chunk_size(config, kernels)}
    at, in_window = 0, np.zeros(len(names))
    for piece in iter_population_counts(spike_times, names, t_start, t_stop, dt, **options):
        writer.write_counts(at, piece, time_axis(t_start, dt, at, at + piece.shape[1]))
        at += piece.shape[1]
        in_window += piece.sum(axis=1)
    blocks = iter_window_signals(
        spike_times, names, kernels, t_start, t_stop, dt, pathways=pathways, **options
    )
    for block in blocks:
        writer.write_block(block, time_axis(t_start, dt, block.start, block.start + block.size))
    return in_window
