"""Predicted signals of a spiking network: population spike counts convolved with kernels.

``V(R, t) = sum_X sum_Y (nu_X * H_YX)(R, t)`` (Hagen et al. 2022), where ``nu_X`` is the
spike count of presynaptic population ``X`` per bin of width ``dt`` (scaled to the
population's full size when only part of it was simulated) and ``H_YX`` the kernel
tensor of one probe, ``(n_post, n_pre, n_channels, n_lags)``.

Pure functions, no file I/O: the ``hpckernels signals`` command reads the spikes and
the tensor and writes the HDF5 output chunk by chunk from :func:`iter_window_signals`.

Conventions
-----------
Time axis
    Bin ``n`` is ``[t_start + n*dt, t_start + (n+1)*dt)`` and stands for its left edge
    (as :func:`hpckernels.spikes.bin_spike_counts`); the signals share this axis.
Kernel lags
    Kernels are convolved on the symmetric layout ``-tau .. tau`` with the centre
    sample at lag 0 (:mod:`hpckernels.convolution`). Tensors with other lag axes, such
    as FIR tensors (``fir`` attribute true, lags ``dt .. tau``), are zero-padded to it
    by :func:`centered_kernel`.
Window edges
    :func:`iter_window_signals` lets spikes within the kernels' reach outside the window
    contribute (up to ``tau`` before ``t_start``, not before the recording's start, and
    ``tau`` after ``t_stop``), so that the window's first and last ``tau`` get the signal
    a longer recording gives; :func:`iter_signals` on window counts alone assumes no
    spikes outside them.
Memory
    :func:`iter_population_counts` bins chunk by chunk from the (sorted) spike times and
    :func:`iter_signals` convolves chunk by chunk, so the working memory is bounded by the
    chunk size whatever the duration; only the spike times are held in full.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import convolution
from .convolution import SignalChunk, SignalResult
from .spikes import _SNAP_TOL, bin_count, bin_index

__all__ = [
    "SignalsChunk",
    "centered_kernel",
    "compute_signals",
    "count_scale",
    "default_chunk_size",
    "iter_population_counts",
    "iter_signals",
    "iter_window_signals",
    "n_bins",
    "population_counts",
    "signal_margins",
    "time_axis",
]

#: Bins per chunk of :func:`iter_population_counts` when none is given.
DEFAULT_COUNT_CHUNK = 2**16
#: Smallest FFT length of the default blocks: measured as fast as 2**16 for 21 channels x
#: 4 pathways x 1601 lags (the per-block working set then fits the caches better) and
#: with a 4x smaller peak memory when per-pathway signals are kept.
_MIN_DEFAULT_NFFT = 2**14


@dataclass(frozen=True)
class SignalsChunk:
    """One block of output samples of every probe.

    Attributes
    ----------
    start : int
        Index of the block's first bin.
    probes : dict of str to SignalChunk
        Per probe ``total`` ``(n_channels, n)`` and ``pathways``
        ``(n_post, n_pre, n_channels, n)`` or None.
    """

    start: int
    probes: dict

    @property
    def size(self):
        """Number of bins in the block."""
        return next(iter(self.probes.values())).total.shape[-1]


# ---------------------------------------------------------------------------------------
# Spike counts
# ---------------------------------------------------------------------------------------


def n_bins(t_start, t_stop, dt):
    """Number of bins of width ``dt`` in ``[t_start, t_stop)`` (see spikes.bin_count)."""
    return bin_count(t_start, t_stop, dt)


def time_axis(t_start, dt, start, stop):
    """Left edges (ms) of bins ``start .. stop - 1``: ``t_start + n*dt``."""
    return t_start + np.arange(start, stop, dtype=np.float64) * dt


def count_scale(size, simulated_size):
    """Factor from simulated to full population spike counts, ``size / simulated_size``."""
    if simulated_size is None:
        return 1.0
    if not simulated_size > 0:
        raise ValueError(f"simulated size must be > 0, got {simulated_size}")
    return float(size) / float(simulated_size)


def _bin_indices(times, t_start, dt, n, offset=0):
    """Sorted indices in ``[0, n)`` of the bins of spike times (the rule of bin_spike_counts,
    bin ``offset`` starting at ``t_start``)."""
    index = bin_index(times, t_start, dt) + offset
    index = index[(index >= 0) & (index < n)].astype(np.int64)
    index.sort()
    return index


def iter_population_counts(spike_times, names, t_start, t_stop, dt, *, scales=None,
                           chunk_size=None, margins=(0, 0)):
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
    n = n_bins(t_start, t_stop, dt) + before + after
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
            out[row] = np.bincount(index[cursors[row]:end] - start, minlength=stop - start)
            cursors[row] = end
        out *= factors[:, np.newaxis]
        yield out


def population_counts(spike_times, names, t_start, t_stop, dt, *, scales=None):
    """All scaled spike counts at once, ``(len(names), n_bins)`` float64; see
    :func:`iter_population_counts`."""
    n = n_bins(t_start, t_stop, dt)
    return np.concatenate(
        list(iter_population_counts(spike_times, names, t_start, t_stop, dt,
                                    scales=scales, chunk_size=n)), axis=1)


# ---------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------


def centered_kernel(kernel, lags, dt):
    """Kernel on the symmetric lag layout ``-half*dt .. half*dt`` (centre = lag 0).

    Parameters
    ----------
    kernel : array_like
        ``(..., n_lags)`` samples at ``lags``.
    lags : array_like
        Lags (ms) of the samples, whole multiples of ``dt``, increasing: ``-tau .. tau``
        for the usual tensors, ``dt .. tau`` for FIR tensors.
    dt : float
        Sampling step (ms).

    Returns
    -------
    numpy.ndarray
        float64 ``(..., 2*half + 1)``, ``half = max |lag| / dt``, zero at lags the input
        does not have (for FIR tensors: lags ``-tau .. 0``).

    Raises
    ------
    ValueError
        Lags that are not whole multiples of ``dt``, not increasing, or not matching the
        kernel's last axis.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    lags = np.asarray(lags, dtype=np.float64).ravel()
    if kernel.shape[-1] != lags.size or lags.size == 0:
        raise ValueError(f"kernel has {kernel.shape[-1]} lags but the lag axis {lags.size}")
    exact = lags / dt
    steps = np.round(exact).astype(np.int64)
    if np.any(np.abs(exact - steps) > 1e-6) or np.any(np.diff(steps) <= 0):
        raise ValueError(f"lags must be increasing whole multiples of dt = {dt} ms")
    half = int(np.abs(steps).max())
    if steps.size == 2 * half + 1 and steps[0] == -half:
        return kernel
    out = np.zeros((*kernel.shape[:-1], 2 * half + 1))
    out[..., steps + half] = kernel
    return out


def _pad_to(kernel, half):
    own = (kernel.shape[-1] - 1) // 2
    if own == half:
        return kernel
    width = [(0, 0)] * (kernel.ndim - 1) + [(half - own, half - own)]
    return np.pad(kernel, width)


# ---------------------------------------------------------------------------------------
# Signals
# ---------------------------------------------------------------------------------------


def default_chunk_size(n_lags):
    """Bins per block: FFT length a power of two, at least ``2**14`` and eight kernel
    lengths, so the ``n_lags - 1`` overlap costs at most ~12 %."""
    overlap = n_lags - 1
    nfft = max(_MIN_DEFAULT_NFFT, 1 << int(np.ceil(np.log2(max(8 * overlap, 1)))))
    return nfft - overlap


def iter_signals(counts, kernels, *, chunk_size=None, pathways=True, workers=None):
    """Signals of several probes, block by block, from one pass over the counts.

    The probes' tensors are stacked along the channel axis (they share populations and
    lags), so every count block is transformed once for all probes.

    Parameters
    ----------
    counts : array-like or iterable of numpy.ndarray
        Scaled spike counts ``(n_pre, n_times)`` or consecutive ``(n_pre, m)`` pieces
        (e.g. from :func:`iter_population_counts`), ordered like the tensors' pre axis.
    kernels : mapping of str to array_like
        Probe name -> tensor ``(n_post, n_pre, n_channels, n_lags)`` on the symmetric lag
        layout (see :func:`centered_kernel`); ``n_post`` and ``n_pre`` equal for all.
    chunk_size : int, optional
        Bins per output block (default :func:`default_chunk_size`).
    pathways : bool
        Also return each pathway's contribution.
    workers : int, optional
        Threads for :mod:`scipy.fft`.

    Yields
    ------
    SignalsChunk
        Consecutive blocks; their concatenation covers the count axis.
    """
    if not kernels:
        raise ValueError("no probe kernels given")
    tensors = {name: convolution.as_kernel_tensor(k) for name, k in kernels.items()}
    shapes = {name: t.shape for name, t in tensors.items()}
    if len({s[:2] for s in shapes.values()}) != 1:
        raise ValueError(f"probe tensors differ in (n_post, n_pre): {shapes}")
    half = max((s[-1] - 1) // 2 for s in shapes.values())
    stacked = np.concatenate([_pad_to(t, half) for t in tensors.values()], axis=2)
    bounds = np.cumsum([0] + [s[2] for s in shapes.values()])
    names = list(tensors)
    if chunk_size is None:
        chunk_size = default_chunk_size(2 * half + 1)
    for chunk in convolution.iter_signal_chunks(counts, stacked, chunk_size=chunk_size,
                                                pathways=pathways, workers=workers):
        probes = {}
        for i, name in enumerate(names):
            sl = slice(bounds[i], bounds[i + 1])
            probes[name] = SignalChunk(
                chunk.start, chunk.total[sl],
                None if chunk.pathways is None else chunk.pathways[:, :, sl])
        yield SignalsChunk(chunk.start, probes)


def compute_signals(counts, kernels, *, chunk_size=None, pathways=True, workers=None):
    """Whole signals of several probes (collects :func:`iter_signals`).

    Returns
    -------
    dict of str to SignalResult
        Per probe ``total`` ``(n_channels, n_times)`` and ``pathways``
        ``(n_post, n_pre, n_channels, n_times)`` (None unless requested).
    """
    shapes = {}
    for name, kernel in kernels.items():
        shape = np.shape(kernel)
        shapes[name] = (1, 1, *shape) if len(shape) == 2 else shape
    if hasattr(counts, "shape"):
        # known length: fill preallocated outputs (concatenating would need twice the memory)
        n_times = counts.shape[-1]
        out = {name: SignalResult(np.empty((s[2], n_times)),
                                  np.empty((*s[:3], n_times)) if pathways else None)
               for name, s in shapes.items()}
        for chunk in iter_signals(counts, kernels, chunk_size=chunk_size, pathways=pathways,
                                  workers=workers):
            window = slice(chunk.start, chunk.start + chunk.size)
            for name, signal in chunk.probes.items():
                out[name].total[:, window] = signal.total
                if pathways:
                    out[name].pathways[..., window] = signal.pathways
        return out
    totals = {name: [] for name in kernels}
    parts = {name: [] for name in kernels}
    for chunk in iter_signals(counts, kernels, chunk_size=chunk_size, pathways=pathways,
                              workers=workers):
        for name, signal in chunk.probes.items():
            totals[name].append(signal.total)
            if pathways:
                parts[name].append(signal.pathways)
    out = {}
    for name, s in shapes.items():
        total = np.concatenate(totals[name], axis=-1) if totals[name] else np.zeros((s[2], 0))
        per = None
        if pathways:
            per = (np.concatenate(parts[name], axis=-1) if parts[name]
                   else np.zeros((*s[:3], 0)))
        out[name] = SignalResult(total, per)
    return out


def signal_margins(kernels, t_start, dt, t_min=0.0):
    """Bins of spikes outside ``[t_start, t_stop)`` that reach into it through the kernels.

    Returns
    -------
    (int, int)
        ``before``: up to the largest positive lag (spikes up to ``tau`` before
        ``t_start`` still shape the signal at ``t_start``), but not before ``t_min`` (the
        start of the recording); ``after``: the largest negative lag.
    """
    half = max((np.shape(k)[-1] - 1) // 2 for k in kernels.values())
    room = int(np.floor((t_start - t_min) / dt + _SNAP_TOL)) if t_min is not None else half
    return max(0, min(half, room)), half


def iter_window_signals(spike_times, names, kernels, t_start, t_stop, dt, *, scales=None,
                        chunk_size=None, pathways=True, t_min=0.0, workers=None):
    """Signals of the window ``[t_start, t_stop)`` from spike times, block by block.

    Spikes within a kernel's reach outside the window (``tau`` before ``t_start``, not
    before ``t_min``, and ``tau`` after ``t_stop``) contribute, so that the window's edges
    get the signal a longer recording gives: the counts are binned over the window
    extended by :func:`signal_margins`, convolved, and the window is cut out.

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
        Bins per block (default :func:`default_chunk_size`).
    pathways : bool
        Also return per-pathway contributions.
    t_min : float or None
        Start of the recording (ms); None: no limit.
    workers : int, optional
        Threads for :mod:`scipy.fft`.

    Yields
    ------
    SignalsChunk
        Consecutive blocks with ``start`` counted in window bins; together they cover the
        window's ``n_bins(t_start, t_stop, dt)`` bins (blocks may differ in size).
    """
    n = n_bins(t_start, t_stop, dt)
    before, after = signal_margins(kernels, t_start, dt, t_min)
    if chunk_size is None:
        chunk_size = default_chunk_size(2 * after + 1)
    counts = iter_population_counts(spike_times, names, t_start, t_stop, dt, scales=scales,
                                    chunk_size=chunk_size, margins=(before, after))
    for chunk in iter_signals(counts, kernels, chunk_size=chunk_size, pathways=pathways,
                              workers=workers):
        a, b = max(chunk.start, before), min(chunk.start + chunk.size, before + n)
        if a >= b:
            continue
        cut = slice(a - chunk.start, b - chunk.start)
        probes = {name: SignalChunk(a - before, signal.total[:, cut],
                                    None if signal.pathways is None
                                    else signal.pathways[..., cut])
                  for name, signal in chunk.probes.items()}
        yield SignalsChunk(a - before, probes)
