"""Extracellular signals from population spike counts and spike-signal kernels.

The signal is ``V(R, t) = sum_X sum_Y (nu_X * H_YX)(R, t)`` (Hagen et al. 2022), where
``nu_X`` is the spike count of presynaptic population ``X`` per time bin (spikes per
bin) and ``H_YX`` the kernel of the pathway from ``X`` onto postsynaptic population
``Y`` (signal units per presynaptic spike, one row per channel/electrode). No factor
``dt`` enters: kernels are per spike and rates are per bin.

Conventions
-----------
Time axis
    Sample ``n`` of a count array and of the output stands for ``t_n = t_0 + n*dt``
    (see :func:`hpckernels.spikes.bin_spike_counts`: the left edge of bin ``n``).
Kernels
    ``kernel[..., k]`` is the response at lag ``lag_k = (k - half) * dt`` after a
    spike, ``k = 0 .. n_lags - 1``, ``n_lags = 2*half + 1`` odd, so lags run from
    ``-tau`` to ``+tau`` (``tau = half * dt``) and the centre sample is lag 0. Negative
    lags may be nonzero (the kernels of Hagen et al. are not causal in general).
    Shapes: one pathway ``(n_channels, n_lags)``; tensor
    ``(n_post, n_pre, n_channels, n_lags)``.
Alignment
    ``y[c, n] = sum_k nu[n - (k - half)] * kernel[c, k]`` for ``n = 0 .. n_times - 1``,
    with ``nu`` taken as zero outside ``0 .. n_times - 1``. This is the full
    convolution shifted by ``half`` so that the output has the input's length
    ``n_times`` and lag 0 lines up with the spike's own bin; it equals
    ``np.convolve(nu, kernel[c], 'same')`` whenever ``n_times >= n_lags``. Because no
    spikes are assumed before the first or after the last bin, the first and last
    ``half`` samples lack contributions that a longer recording would provide.

Algorithm
---------
Overlap-add FFT convolution in blocks of ``chunk_size`` samples with a single FFT
length, so memory stays bounded for arbitrarily long inputs (10 min at
``dt = 1/16`` ms are 9.6e6 samples per population). Per block each presynaptic count
is transformed once and reused for all postsynaptic populations and channels; kernel
transforms are computed once. When only the total is wanted, kernels are first summed
over postsynaptic populations (linearity), leaving one inverse FFT per channel.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import fft as sp_fft

__all__ = [
    "SignalChunk",
    "SignalResult",
    "as_kernel_tensor",
    "compute_signal",
    "convolve_pathway",
    "default_chunk_size",
    "iter_signal_chunks",
    "kernel_lags",
]

# Below this FFT length per-block Python overheads dominate; longer FFTs gain little
# speed but grow the per-block working set (13 channels x 2**16 complex = 13 MB).
_MIN_DEFAULT_NFFT = 2**16


@dataclass(frozen=True)
class SignalChunk:
    """One block of output samples.

    Attributes
    ----------
    start : int
        Index of the first sample of the block on the input's time axis.
    total : numpy.ndarray
        Signal summed over all pathways, shape ``(n_channels, n)``.
    pathways : numpy.ndarray or None
        Per-pathway contributions, shape ``(n_post, n_pre, n_channels, n)``, when
        requested.
    """

    start: int
    total: np.ndarray
    pathways: np.ndarray | None = None


@dataclass(frozen=True)
class SignalResult:
    """Whole signal: ``total`` ``(n_channels, n_times)`` and optional ``pathways``
    ``(n_post, n_pre, n_channels, n_times)``."""

    total: np.ndarray
    pathways: np.ndarray | None = None


def kernel_lags(n_lags, dt):
    """Lags (ms) of the kernel samples: ``(k - half) * dt``, from ``-tau`` to ``+tau``.

    Parameters
    ----------
    n_lags : int
        Number of kernel samples (odd).
    dt : float
        Sampling step (ms).

    Returns
    -------
    numpy.ndarray
        Lags in ms, shape ``(n_lags,)``.
    """
    if n_lags < 1 or n_lags % 2 != 1:
        raise ValueError(f"n_lags must be odd (lags -tau..tau around 0), got {n_lags}")
    half = (n_lags - 1) // 2
    return (np.arange(n_lags) - half) * float(dt)


def as_kernel_tensor(kernels):
    """Validate kernels and return them as a float64 ``(n_post, n_pre, n_channels, n_lags)``
    tensor; a single-pathway ``(n_channels, n_lags)`` array becomes ``(1, 1, ...)``.

    Raises
    ------
    ValueError
        Wrong number of dimensions, even ``n_lags`` (no centre lag) or non-finite values.
    """
    h = np.asarray(kernels, dtype=np.float64)
    if h.ndim == 2:
        h = h[np.newaxis, np.newaxis]
    if h.ndim != 4:
        raise ValueError(
            "kernels must be (n_channels, n_lags) or (n_post, n_pre, n_channels, n_lags), "
            f"got shape {h.shape}"
        )
    if h.shape[-1] % 2 != 1:
        raise ValueError(
            f"n_lags must be odd so that the centre sample is lag 0, got {h.shape[-1]}"
        )
    if not np.all(np.isfinite(h)):
        raise ValueError("kernels contain non-finite values")
    return h


def default_chunk_size(n_lags):
    """Block length (samples) for overlap-add: FFT length a power of two, at least
    ``2**16`` and eight kernel lengths, so the ``n_lags - 1`` overlap costs little.
    """
    overlap = n_lags - 1
    nfft = max(_MIN_DEFAULT_NFFT, 1 << int(np.ceil(np.log2(max(8 * overlap, 1)))))
    return nfft - overlap


def _blocks_from_array(counts, chunk_size):
    """Slice an array-like (ndarray, memmap, h5py dataset) block by block, so that only
    one block at a time is read into memory."""
    n_times = counts.shape[-1]
    for start in range(0, n_times, chunk_size):
        if len(counts.shape) == 1:
            yield np.asarray(counts[start : start + chunk_size])[np.newaxis]
        else:
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


def iter_signal_chunks(counts, kernels, *, chunk_size=None, pathways=False, workers=None):
    """Compute the signal block by block (overlap-add FFT convolution).

    Parameters
    ----------
    counts : array-like or iterable of numpy.ndarray
        Spike counts (spikes per bin) of the presynaptic populations, ordered like the
        tensor's ``n_pre`` axis: either an array ``(n_pre, n_times)`` (1-D for a single
        population; ndarray, memmap or h5py dataset, sliced one block at a time) or an
        iterable of consecutive ``(n_pre, m)`` pieces of it (any ``m``), so that the
        input need not fit in memory.
    kernels : array_like
        ``(n_post, n_pre, n_channels, n_lags)`` tensor or one ``(n_channels, n_lags)``
        pathway; lags ``-tau .. +tau``, see the module docstring.
    chunk_size : int, optional
        Samples per block (input and output); default :func:`default_chunk_size`.
        Any positive value gives the same result up to rounding (~1e-15 relative).
    pathways : bool
        Also return every pathway's contribution (``n_post * n_pre`` times more inverse
        FFTs and memory).
    workers : int, optional
        Threads for :mod:`scipy.fft` (``-1``: all cores).

    Yields
    ------
    SignalChunk
        Consecutive output blocks of ``chunk_size`` samples (the last may be shorter),
        ``start`` giving the first sample index; their concatenation has ``n_times``
        samples aligned as described in the module docstring. Block ``b`` is yielded as
        soon as the input block holding sample ``(b+1)*chunk_size + half - 1`` has been
        processed (look-ahead of half a kernel).
    """
    h = as_kernel_tensor(kernels)
    n_post, n_pre, n_channels, n_lags = h.shape
    half, overlap = (n_lags - 1) // 2, n_lags - 1
    block = default_chunk_size(n_lags) if chunk_size is None else int(chunk_size)
    if block < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    nfft = sp_fft.next_fast_len(block + overlap, real=True)

    if hasattr(counts, "shape") and hasattr(counts, "__getitem__"):
        shape = tuple(counts.shape)
        if not (shape[:-1] == (n_pre,) or (len(shape) == 1 and n_pre == 1)):
            raise ValueError(f"counts must have shape (n_pre={n_pre}, n_times), got {shape}")
        blocks = _blocks_from_array(counts, block)
    elif isinstance(counts, Iterable):
        blocks = _reblock(counts, n_pre, block)
    else:
        raise TypeError("counts must be an array or an iterable of arrays")

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

    def package(start, values):
        if pathways:
            return SignalChunk(start, values.sum(axis=(0, 1)), values)
        return SignalChunk(start, values)

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
        for start, values in emitter.pop():
            yield package(start, values)

    # The last min(half, n_in) output samples lie in the overlap tail, which starts at
    # full-convolution index n_in; whatever part of the initial `half` samples is still
    # to be skipped (input shorter than half a kernel) is skipped there.
    emitter.push(tail[..., : emitter.skip + min(half, n_in)])
    for start, values in emitter.pop(final=True):
        yield package(start, values)


def compute_signal(counts, kernels, *, chunk_size=None, pathways=False, workers=None):
    """Compute the whole signal at once (convenience wrapper of :func:`iter_signal_chunks`).

    Parameters
    ----------
    counts : numpy.ndarray or iterable of numpy.ndarray
        Spike counts (spikes per bin), ``(n_pre, n_times)`` or pieces of it; see
        :func:`iter_signal_chunks`.
    kernels : array_like
        ``(n_post, n_pre, n_channels, n_lags)`` tensor or ``(n_channels, n_lags)``.
    chunk_size : int, optional
        Block length; ``chunk_size >= n_times`` gives a single FFT over the whole input.
        Default: :func:`default_chunk_size` (bounded working memory; only the outputs
        are of full length).
    pathways : bool
        Also return per-pathway contributions.
    workers : int, optional
        Threads for :mod:`scipy.fft`.

    Returns
    -------
    SignalResult
        ``total`` ``(n_channels, n_times)`` in kernel units, and ``pathways``
        ``(n_post, n_pre, n_channels, n_times)`` or None.
    """
    h = as_kernel_tensor(kernels)
    n_post, n_pre, n_channels, _ = h.shape
    chunks = iter_signal_chunks(
        counts, h, chunk_size=chunk_size, pathways=pathways, workers=workers
    )
    if hasattr(counts, "shape"):
        # Known length: fill preallocated outputs instead of concatenating, which would
        # need twice the (possibly GB-sized) output memory.
        n_times = counts.shape[-1]
        total = np.empty((n_channels, n_times))
        parts = np.empty((n_post, n_pre, n_channels, n_times)) if pathways else None
        for chunk in chunks:
            stop = chunk.start + chunk.total.shape[-1]
            total[:, chunk.start : stop] = chunk.total
            if pathways:
                parts[..., chunk.start : stop] = chunk.pathways
        return SignalResult(total, parts)
    totals, parts = [], []
    for chunk in chunks:
        totals.append(chunk.total)
        if pathways:
            parts.append(chunk.pathways)
    if not totals:  # no samples at all
        total = np.zeros((n_channels, 0))
        return SignalResult(total, np.zeros((n_post, n_pre, n_channels, 0)) if pathways else None)
    total = np.concatenate(totals, axis=-1)
    return SignalResult(total, np.concatenate(parts, axis=-1) if pathways else None)


def convolve_pathway(nu, kernel, *, chunk_size=None, workers=None):
    """Signal of one pathway: ``y[c, n] = sum_k nu[n - (k - half)] * kernel[c, k]``.

    Parameters
    ----------
    nu : array_like
        Spike counts of the presynaptic population (spikes per bin), shape ``(n_times,)``.
    kernel : array_like
        Kernel (signal units per spike), shape ``(n_channels, n_lags)`` (or
        ``(n_lags,)`` for one channel), lags ``-tau .. +tau``.
    chunk_size : int, optional
        Block length, see :func:`compute_signal`; default one FFT over the whole input.
    workers : int, optional
        Threads for :mod:`scipy.fft`.

    Returns
    -------
    numpy.ndarray
        Signal, shape ``(n_channels, n_times)`` (``(n_times,)`` for a 1-D kernel); equals
        ``np.convolve(nu, kernel[c], 'same')`` per channel when ``n_times >= n_lags``.
    """
    nu = np.asarray(nu, dtype=np.float64)
    if nu.ndim != 1:
        raise ValueError(f"nu must be 1-D (n_times,), got shape {nu.shape}")
    kernel = np.asarray(kernel, dtype=np.float64)
    one_channel = kernel.ndim == 1
    if kernel.ndim not in (1, 2):
        raise ValueError(f"kernel must be (n_channels, n_lags), got shape {kernel.shape}")
    size = max(nu.size, 1) if chunk_size is None else chunk_size
    total = compute_signal(nu, np.atleast_2d(kernel), chunk_size=size, workers=workers).total
    return total[0] if one_channel else total
