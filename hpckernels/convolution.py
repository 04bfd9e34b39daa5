"""Extracellular signals from population spike counts and spike-signal kernels.

The signal is ``V(R, t) = sum_X sum_Y (nu_X * H_YX)(R, t)`` (Hagen et al. 2022), where
``nu_X`` is the spike count of presynaptic population ``X`` per time bin (spikes per
bin) and ``H_YX`` the kernel of the pathway from ``X`` onto postsynaptic population
``Y`` (signal units per presynaptic spike, one row per channel). No factor ``dt``
enters: kernels are per spike and counts are per bin.

Conventions
-----------
Time axis
    Sample ``n`` of a count array and of the output stands for ``t_n = t_0 + n*dt``
    (the left edge of bin ``n``, see :func:`hpckernels.binning.bin_spike_counts`).
Kernels
    One tensor per probe, ``(n_post, n_pre, n_channels, n_lags)``; ``kernel[..., k]``
    is the response at lag ``(k - half) * dt``, ``n_lags = 2*half + 1`` odd, so lags run
    from ``-tau`` to ``+tau`` and the centre sample is lag 0 (tensors with other lag
    axes, such as FIR kernels, are brought to this layout by :func:`centered_kernel`).
Alignment
    ``y[c, n] = sum_k nu[n - (k - half)] * kernel[c, k]`` for ``n = 0 .. n_times - 1``,
    with ``nu`` zero outside ``0 .. n_times - 1``: the full convolution shifted by
    ``half``, so that lag 0 lines up with the spike's own bin; it equals
    ``np.convolve(nu, kernel[c], 'same')`` whenever ``n_times >= n_lags``.

Algorithm
---------
Overlap-add FFT convolution in blocks of ``chunk_size`` samples with a single FFT
length, so memory stays bounded for arbitrarily long inputs (10 min at ``dt = 1/16``
ms are 9.6e6 samples per population). All probes share one pass: their tensors are
stacked along the channel axis, each count block is transformed once, kernel
transforms once. When only the total is wanted, kernels are first summed over
postsynaptic populations (linearity), leaving one inverse FFT per channel.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy import fft as sp_fft

__all__ = [
    "SignalBlock",
    "Signals",
    "as_kernel_tensor",
    "centered_kernel",
    "compute_signals",
    "default_chunk_size",
    "iter_signals",
]

#: Smallest FFT length of the default blocks: measured as fast as 2**16 for 21 channels x
#: 4 pathways x 1601 lags (the per-block working set fits the caches better) and with a
#: 4x smaller peak memory when per-pathway signals are kept.
_MIN_DEFAULT_NFFT = 2**14


@dataclass(frozen=True)
class SignalBlock:
    """Consecutive output samples of every probe.

    Attributes
    ----------
    start : int
        Index of the block's first sample on the input's time axis.
    total : dict of str to numpy.ndarray
        Per probe the signal summed over pathways, ``(n_channels, n)``.
    pathways : dict of str to numpy.ndarray or None
        Per probe each pathway's contribution, ``(n_post, n_pre, n_channels, n)``,
        when requested.
    """

    start: int
    total: dict
    pathways: dict | None = None

    @property
    def size(self):
        """Number of samples in the block."""
        return next(iter(self.total.values())).shape[-1]


@dataclass(frozen=True)
class Signals:
    """Whole signals: per probe ``total`` ``(n_channels, n_times)`` and, when requested,
    ``pathways`` ``(n_post, n_pre, n_channels, n_times)``."""

    total: dict
    pathways: dict | None = None


def as_kernel_tensor(kernel):
    """Validate one probe's kernels as a float64 ``(n_post, n_pre, n_channels, n_lags)``
    tensor.

    Raises
    ------
    ValueError
        Wrong number of dimensions, even ``n_lags`` (no centre lag) or non-finite values.
    """
    h = np.asarray(kernel, dtype=np.float64)
    if h.ndim != 4:
        raise ValueError(
            f"kernels must be (n_post, n_pre, n_channels, n_lags), got shape {h.shape}"
        )
    if h.shape[-1] % 2 != 1:
        raise ValueError(
            f"n_lags must be odd so that the centre sample is lag 0, got {h.shape[-1]}"
        )
    if not np.all(np.isfinite(h)):
        raise ValueError("kernels contain non-finite values")
    return h


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


def default_chunk_size(n_lags):
    """Samples per block: FFT length a power of two, at least ``2**14`` and eight kernel
    lengths, so the ``n_lags - 1`` overlap costs at most ~12 %."""
    overlap = n_lags - 1
    nfft = max(_MIN_DEFAULT_NFFT, 1 << int(np.ceil(np.log2(max(8 * overlap, 1)))))
    return nfft - overlap


def _blocks_from_array(counts, chunk_size):
    """Slice an array-like (ndarray, memmap, h5py dataset) block by block, so that only
    one block at a time is read into memory."""
    n_times = counts.shape[-1]
    for start in range(0, n_times, chunk_size):
        yield np.asarray(counts[:, start : start + chunk_size])


def _reblock(chunks, n_pre, chunk_size):
    """Regroup an iterable of ``(n_pre, m)`` pieces into blocks of ``chunk_size``.

    Uniform blocks keep one FFT length (and one kernel transform) for the whole run.
    """
    pieces, have = [], 0
    for piece in chunks:
        piece = np.asarray(piece)
        if piece.ndim != 2 or piece.shape[0] != n_pre:
            raise ValueError(f"count chunks must have shape (n_pre={n_pre}, n), got {piece.shape}")
        pieces.append(piece)
        have += piece.shape[1]
        while have >= chunk_size:
            joined = np.concatenate(pieces, axis=1) if len(pieces) > 1 else pieces[0]
            yield joined[:, :chunk_size]
            rest = joined[:, chunk_size:]
            pieces, have = ([rest], rest.shape[1]) if rest.shape[1] else ([], 0)
    if have:
        yield np.concatenate(pieces, axis=1)


class _Emitter:
    """Turns the stream of finished full-convolution samples into output blocks.

    The output is the full convolution delayed by ``half`` samples: the first ``half``
    finished samples are dropped and, at the end, ``half`` samples from the overlap tail
    are appended, so output blocks line up with input blocks.
    """

    def __init__(self, skip, block):
        self.skip = skip
        self.block = block
        self.pending = None
        self.start = 0  # index of the first pending sample

    def push(self, values):
        drop = min(self.skip, values.shape[-1])
        self.skip -= drop
        values = values[..., drop:]
        if values.shape[-1] == 0:
            return
        self.pending = (
            values if self.pending is None else np.concatenate([self.pending, values], axis=-1)
        )

    def pop(self, final=False):
        while self.pending is not None and (
            self.pending.shape[-1] >= self.block or (final and self.pending.shape[-1])
        ):
            out = self.pending[..., : self.block]
            rest = self.pending[..., self.block :]
            self.pending = rest if rest.shape[-1] else None
            yield self.start, out
            self.start += out.shape[-1]


def _overlap_add(blocks, h, block, pathways, workers):
    """Yield (start, values) of the convolution of count blocks with one stacked tensor.

    ``values`` is ``(n_channels, n)`` or, with ``pathways``, ``(n_post, n_pre,
    n_channels, n)``.
    """
    n_post, n_pre, n_channels, n_lags = h.shape
    half, overlap = (n_lags - 1) // 2, n_lags - 1
    nfft = sp_fft.next_fast_len(block + overlap, real=True)
    if pathways:
        kernel_ft = sp_fft.rfft(h, nfft, axis=-1, workers=workers)
        rows = (n_post, n_pre, n_channels)
    else:
        # Summing kernels over postsynaptic populations first is exact by linearity and
        # leaves one inverse FFT per channel instead of one per pathway and channel.
        kernel_ft = sp_fft.rfft(h.sum(axis=0), nfft, axis=-1, workers=workers)
        rows = (n_channels,)
    tail = np.zeros((*rows, overlap))
    emitter = _Emitter(skip=half, block=block)
    n_in = 0
    for counts_block in blocks:
        m = counts_block.shape[1]
        n_in += m
        # rfft zero-pads to nfft, so a short last block needs no special case.
        x_ft = sp_fft.rfft(
            np.asarray(counts_block, dtype=np.float64), nfft, axis=-1, workers=workers
        )
        if pathways:
            y_ft = kernel_ft * x_ft[np.newaxis, :, np.newaxis, :]
        else:
            y_ft = np.einsum("pcf,pf->cf", kernel_ft, x_ft)
        full = sp_fft.irfft(y_ft, nfft, axis=-1, workers=workers)[..., : m + overlap]
        full[..., :overlap] += tail
        tail = full[..., m : m + overlap].copy()
        emitter.push(full[..., :m])
        yield from emitter.pop()
    # The last min(half, n_in) output samples lie in the overlap tail, which starts at
    # full-convolution index n_in; whatever part of the initial `half` samples is still
    # to be skipped (input shorter than half a kernel) is skipped there.
    emitter.push(tail[..., : emitter.skip + min(half, n_in)])
    yield from emitter.pop(final=True)


def _pad_lags(kernel, half):
    own = (kernel.shape[-1] - 1) // 2
    if own == half:
        return kernel
    width = [(0, 0)] * (kernel.ndim - 1) + [(half - own, half - own)]
    return np.pad(kernel, width)


def iter_signals(counts, kernels, *, chunk_size=None, pathways=False, workers=None):
    """Signals of every probe, block by block, from one pass over the counts.

    Parameters
    ----------
    counts : array-like or iterable of numpy.ndarray
        Spike counts (spikes per bin) ``(n_pre, n_times)``, ordered like the tensors'
        pre axis (ndarray, memmap or h5py dataset, read one block at a time), or an
        iterable of consecutive ``(n_pre, m)`` pieces of it (any ``m``, e.g. from
        :func:`hpckernels.binning.iter_population_counts`), so the input need not fit in
        memory.
    kernels : mapping of str to array_like
        Probe name -> tensor ``(n_post, n_pre, n_channels, n_lags)`` on the symmetric
        lag layout; ``n_post`` and ``n_pre`` equal for all probes.
    chunk_size : int, optional
        Samples per block (input and output); default :func:`default_chunk_size`. Any
        positive value gives the same result up to rounding (~1e-15 relative).
    pathways : bool
        Also return every pathway's contribution (``n_post * n_pre`` times more inverse
        FFTs and memory).
    workers : int, optional
        Threads for :mod:`scipy.fft` (``-1``: all cores).

    Returns
    -------
    iterator of SignalBlock
        Consecutive blocks of ``chunk_size`` samples (the last may be shorter); block
        ``b`` is yielded as soon as the input holding sample ``(b+1)*chunk_size + half -
        1`` has been read (look-ahead of half a kernel).
    """
    if not isinstance(kernels, Mapping) or not kernels:
        raise ValueError("kernels must be a non-empty mapping of probe name to tensor")
    tensors = {name: as_kernel_tensor(k) for name, k in kernels.items()}
    shapes = {name: t.shape for name, t in tensors.items()}
    if len({s[:2] for s in shapes.values()}) != 1:
        raise ValueError(f"probe tensors differ in (n_post, n_pre): {shapes}")
    half = max((s[-1] - 1) // 2 for s in shapes.values())
    stacked = np.concatenate([_pad_lags(t, half) for t in tensors.values()], axis=2)
    bounds = np.cumsum([0] + [s[2] for s in shapes.values()])
    slices = {name: slice(bounds[i], bounds[i + 1]) for i, name in enumerate(tensors)}
    n_pre = stacked.shape[1]
    block = default_chunk_size(2 * half + 1) if chunk_size is None else int(chunk_size)
    if block < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")

    if hasattr(counts, "shape") and hasattr(counts, "__getitem__"):
        shape = tuple(counts.shape)
        if len(shape) != 2 or shape[0] != n_pre:
            raise ValueError(f"counts must have shape (n_pre={n_pre}, n_times), got {shape}")
        blocks = _blocks_from_array(counts, block)
    elif isinstance(counts, Iterable):
        blocks = _reblock(counts, n_pre, block)
    else:
        raise TypeError("counts must be an array or an iterable of arrays")

    return _signal_blocks(
        _overlap_add(blocks, stacked, block, pathways, workers), slices, pathways
    )


def _signal_blocks(results, slices, pathways):
    """Split the stacked channels of each result back into probes."""
    for start, values in results:
        if pathways:
            total = values.sum(axis=(0, 1))
            yield SignalBlock(
                start,
                {n: total[s] for n, s in slices.items()},
                {n: values[:, :, s] for n, s in slices.items()},
            )
        else:
            yield SignalBlock(start, {n: values[s] for n, s in slices.items()})


def compute_signals(counts, kernels, *, chunk_size=None, pathways=False, workers=None):
    """Whole signals of every probe (collects :func:`iter_signals`).

    Parameters are those of :func:`iter_signals`; ``chunk_size >= n_times`` gives a
    single FFT over the whole input.

    Returns
    -------
    Signals
        Per probe ``total`` ``(n_channels, n_times)`` in kernel units and ``pathways``
        ``(n_post, n_pre, n_channels, n_times)`` (None unless requested).
    """
    blocks = iter_signals(
        counts, kernels, chunk_size=chunk_size, pathways=pathways, workers=workers
    )
    shapes = {name: np.shape(k) for name, k in kernels.items()}
    if hasattr(counts, "shape"):
        # known length: fill preallocated outputs (concatenating needs twice the memory)
        n_times = counts.shape[-1]
        total = {name: np.empty((s[2], n_times)) for name, s in shapes.items()}
        per = (
            {name: np.empty((*s[:3], n_times)) for name, s in shapes.items()} if pathways else None
        )
        for block in blocks:
            window = slice(block.start, block.start + block.size)
            for name in shapes:
                total[name][:, window] = block.total[name]
                if pathways:
                    per[name][..., window] = block.pathways[name]
        return Signals(total, per)
    totals = {name: [np.zeros((s[2], 0))] for name, s in shapes.items()}
    parts = {name: [np.zeros((*s[:3], 0))] for name, s in shapes.items()}
    for block in blocks:
        for name in shapes:
            totals[name].append(block.total[name])
            if pathways:
                parts[name].append(block.pathways[name])
    return Signals(
        {name: np.concatenate(v, axis=-1) for name, v in totals.items()},
        {name: np.concatenate(v, axis=-1) for name, v in parts.items()} if pathways else None,
    )
