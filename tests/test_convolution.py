"""Convolution of spike counts with kernels, checked against np.convolve."""

import numpy as np
import pytest

from hpckernels.convolution import (
    as_kernel_tensor,
    compute_signals,
    default_chunk_size,
    iter_signals,
)

pytestmark = pytest.mark.unit

N_TIMES = 4999  # prime: no chunk size below divides it
N_LAGS = 201  # half = 100


def reference(counts, kernels):
    """Per-pathway signals by direct np.convolve, shape (n_post, n_pre, n_ch, n_times)."""
    n_post, n_pre, n_ch, n_lags = kernels.shape
    n_times = counts.shape[1]
    half = (n_lags - 1) // 2
    out = np.empty((n_post, n_pre, n_ch, n_times))
    for y in range(n_post):
        for x in range(n_pre):
            for c in range(n_ch):
                if n_times >= n_lags:
                    out[y, x, c] = np.convolve(counts[x], kernels[y, x, c], "same")
                else:  # 'same' would return n_lags samples; take the documented window
                    out[y, x, c] = np.convolve(counts[x], kernels[y, x, c])[half : half + n_times]
    return out


def compute_signal(counts, kernels, **kwargs):
    """Signals of one probe ("p") whose tensor is ``kernels``: (total, pathways)."""
    result = compute_signals(counts, {"p": kernels}, **kwargs)
    return result.total["p"], None if result.pathways is None else result.pathways["p"]


def convolve_pathway(nu, kernel, chunk_size=None):
    """One pathway (n_channels, n_lags) on one count train: (n_channels, n_times)."""
    nu = np.asarray(nu, dtype=float)
    size = max(nu.size, 1) if chunk_size is None else chunk_size
    return compute_signal(nu[None], kernel[None, None], chunk_size=size)[0]


def assert_close(actual, expected):
    scale = np.abs(expected).max() if expected.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-10 * scale)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(42)
    counts = rng.poisson(1.5, size=(3, N_TIMES)).astype(np.int64)
    # Random kernels: every lag, negative ones included, is nonzero.
    kernels = rng.normal(size=(2, 3, 4, N_LAGS))
    return counts, kernels, reference(counts, kernels)


def test_single_pathway_matches_np_convolve_same(data):
    counts, kernels, _ = data
    y = convolve_pathway(counts[0], kernels[0, 0])
    assert y.shape == (4, N_TIMES)
    for c in range(4):
        assert_close(y[c], np.convolve(counts[0], kernels[0, 0, c], "same"))


def test_one_shot_total_and_pathways(data):
    counts, kernels, ref = data
    total, pathways = compute_signal(counts, kernels, chunk_size=N_TIMES, pathways=True)
    assert pathways.shape == (2, 3, 4, N_TIMES)
    assert_close(pathways, ref)
    assert_close(total, ref.sum(axis=(0, 1)))
    total_only, none = compute_signal(counts, kernels, chunk_size=N_TIMES)
    assert none is None
    assert_close(total_only, ref.sum(axis=(0, 1)))


# 1: extreme; 37 and 150 < n_lags; 256 and 1000 do not divide N_TIMES; longer than input.
@pytest.mark.parametrize("chunk_size", [1, 37, 150, 256, 1000, N_TIMES, N_TIMES + 5, None])
def test_chunked_equals_reference(data, chunk_size):
    counts, kernels, ref = data
    chunks = list(iter_signals(counts, {"p": kernels}, chunk_size=chunk_size, pathways=True))
    block = default_chunk_size(N_LAGS) if chunk_size is None else chunk_size
    # Output blocks are contiguous, of the chunk size except possibly the last.
    assert [c.start for c in chunks] == list(range(0, N_TIMES, block))
    assert all(c.size == block for c in chunks[:-1])
    total = np.concatenate([c.total["p"] for c in chunks], axis=-1)
    pathways = np.concatenate([c.pathways["p"] for c in chunks], axis=-1)
    assert_close(pathways, ref)
    assert_close(total, ref.sum(axis=(0, 1)))
    # Total-only path (kernels summed over post populations) agrees as well.
    assert_close(compute_signal(counts, kernels, chunk_size=chunk_size)[0], total)


@pytest.mark.parametrize("chunk_size", [1, 37, 1000])
def test_chunked_equals_one_shot(data, chunk_size):
    counts, kernels, _ = data
    one_shot = compute_signal(counts, kernels, chunk_size=N_TIMES, pathways=True)
    chunked = compute_signal(counts, kernels, chunk_size=chunk_size, pathways=True)
    assert_close(chunked[0], one_shot[0])
    assert_close(chunked[1], one_shot[1])


@pytest.mark.parametrize("chunk_size", [64, 100, 333])
def test_spikes_at_chunk_boundaries_with_acausal_kernel(chunk_size):
    """Isolated spikes right at and next to block edges, kernel nonzero mostly at lags < 0."""
    n_times, n_lags = 1000, 61
    half = (n_lags - 1) // 2
    lags = np.arange(n_lags) - half
    kernel = np.where(lags < 0, np.exp(lags / 5.0), 0.0) + np.where(lags == 7, 2.0, 0.0)
    kernel = np.stack([kernel, -0.5 * kernel[::-1]])  # second channel: mirrored
    counts = np.zeros(n_times)
    for edge in range(chunk_size, n_times, chunk_size):
        counts[[edge - 1, edge, min(edge + half, n_times - 1)]] += 1.0
    counts[[0, n_times - 1]] = 3.0  # recording edges
    y = convolve_pathway(counts, kernel, chunk_size=chunk_size)
    for c in range(2):
        assert_close(y[c], np.convolve(counts, kernel[c], "same"))


def test_alignment_lag_semantics():
    """A spike in bin n0 and a kernel nonzero only at lag -j shows up at n0 - j."""
    n_lags, n_times, n0 = 21, 100, 50
    nu = np.zeros(n_times)
    nu[n0] = 1.0
    for j in (-10, -3, 0, 4, 10):  # lag index offset from the centre
        kernel = np.zeros((1, n_lags))
        kernel[0, 10 + j] = 1.0
        for chunk_size in (7, n_times):
            y = convolve_pathway(nu, kernel, chunk_size=chunk_size)[0]
            assert np.argmax(y) == n0 + j
            assert_close(y, np.eye(n_times)[n0 + j])


@pytest.mark.parametrize("n_times", [1, 5, 30, 100, 101, 150])
@pytest.mark.parametrize("chunk_size", [1, 3, 64, None])
def test_inputs_shorter_than_kernel(n_times, chunk_size):
    rng = np.random.default_rng(n_times)
    counts = rng.poisson(2.0, size=(2, n_times)).astype(float)
    kernels = rng.normal(size=(1, 2, 3, 101))
    ref = reference(counts, kernels)
    total, pathways = compute_signal(counts, kernels, chunk_size=chunk_size, pathways=True)
    assert total.shape == (3, n_times)
    assert_close(pathways, ref)
    assert_close(total, ref.sum(axis=(0, 1)))


def test_iterator_input_with_irregular_pieces(data):
    counts, kernels, ref = data
    edges = [0, 1, 2, 500, 513, 2000, 2001, 4000, N_TIMES]
    pieces = (counts[:, a:b] for a, b in zip(edges[:-1], edges[1:], strict=True))
    total = compute_signal(pieces, kernels, chunk_size=300)[0]
    assert_close(total, ref.sum(axis=(0, 1)))


def test_hdf5_dataset_input(tmp_path, data):
    import h5py

    counts, kernels, ref = data
    with h5py.File(tmp_path / "counts.h5", "w") as h5:
        h5["counts"] = counts
    with h5py.File(tmp_path / "counts.h5", "r") as h5:
        total = compute_signal(h5["counts"], kernels, chunk_size=700)[0]
    assert_close(total, ref.sum(axis=(0, 1)))


def test_streaming_consumes_input_lazily():
    """The first output block appears before the input is exhausted (bounded memory)."""
    consumed = []

    def pieces():
        for _ in range(1000):  # 1000 pieces of 100 samples
            consumed.append(100)
            yield np.ones((1, 100))

    kernel = np.ones((1, 1, 2, 51))
    chunks = iter_signals(pieces(), {"p": kernel}, chunk_size=250)
    first = next(chunks)
    assert first.start == 0 and first.total["p"].shape == (2, 250)
    # Needs the next input block for the half kernel (25) of look-ahead; pieces of 100
    # may overshoot that block by less than one piece.
    assert sum(consumed) <= 2 * 250 + 100
    rest = list(chunks)
    assert sum(c.size for c in [first, *rest]) == 100_000


def test_empty_input():
    total, pathways = compute_signal(np.zeros((2, 0)), np.ones((1, 2, 3, 5)), pathways=True)
    assert total.shape == (3, 0)
    assert pathways.shape == (1, 2, 3, 0)


def test_default_chunk_size_gives_power_of_two_fft():
    for n_lags in (1, 201, 1601, 20001):
        size = default_chunk_size(n_lags) + n_lags - 1
        assert size >= 2**14 and size & (size - 1) == 0
        assert default_chunk_size(n_lags) >= 7 * (n_lags - 1)


def test_invalid_kernels_and_counts():
    with pytest.raises(ValueError, match="odd"):
        as_kernel_tensor(np.ones((1, 1, 2, 10)))
    with pytest.raises(ValueError, match="n_post, n_pre"):
        as_kernel_tensor(np.ones((2, 3, 11)))
    with pytest.raises(ValueError, match="non-finite"):
        as_kernel_tensor(np.full((1, 1, 1, 11), np.nan))
    with pytest.raises(ValueError, match="mapping"):
        compute_signals(np.ones((2, 50)), np.ones((1, 2, 1, 5)))
    with pytest.raises(ValueError, match="n_pre=2"):
        compute_signal(np.ones((3, 50)), np.ones((1, 2, 1, 5)))
    with pytest.raises(ValueError, match="n_pre=2"):
        compute_signal([np.ones((3, 50))], np.ones((1, 2, 1, 5)))
    with pytest.raises(ValueError, match="chunk_size"):
        compute_signal(np.ones((2, 50)), np.ones((1, 2, 1, 5)), chunk_size=0)


def test_empty_iterator_input():
    total, pathways = compute_signal(iter([]), np.ones((1, 2, 3, 5)), pathways=True)
    assert total.shape == (3, 0)
    assert pathways.shape == (1, 2, 3, 0)
