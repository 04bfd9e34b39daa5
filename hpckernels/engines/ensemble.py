"""Ensemble kernels under MPI: realizations of synapses of one presynaptic spike.

Realizations are grouped in fixed blocks of consecutive indices (the size is the
engine's, never the rank count's). A block's statistics are accumulated in index order
by whichever rank owns it (blocks are dealt round robin), and rank 0 merges the blocks
in block order.
Each realization draws from its own generator (seed, pathway, index), so the
result is bit-identical for any number of ranks, including more ranks than
blocks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..console import STDERR


@dataclass
class RunningMoments:
    """Count, mean and sum of squared deviations (Welford / Chan et al.)."""

    count: int
    mean: np.ndarray
    m2: np.ndarray

    @classmethod
    def empty(cls, shape):
        return cls(0, np.zeros(shape), np.zeros(shape))

    @classmethod
    def from_samples(cls, samples):
        """Moments of samples stacked along axis 0 (two passes: mean, then squared
        deviations)."""
        samples = np.asarray(samples, dtype=float)
        mean = samples.mean(axis=0)
        return cls(samples.shape[0], mean, ((samples - mean) ** 2).sum(axis=0))

    def add(self, sample):
        """Add one sample."""
        self.count += 1
        delta = sample - self.mean
        self.mean = self.mean + delta / self.count
        self.m2 = self.m2 + delta * (sample - self.mean)

    def merge(self, other):
        """Combine with the moments of a disjoint set of samples."""
        if other.count == 0:
            return
        total = self.count + other.count
        delta = other.mean - self.mean
        self.mean = self.mean + delta * (other.count / total)
        self.m2 = self.m2 + other.m2 + delta**2 * (self.count * other.count / total)
        self.count = total

    def std(self, ddof=1):
        """Standard deviation across samples."""
        if self.count - ddof <= 0:
            return np.zeros_like(self.mean)
        return np.sqrt(self.m2 / (self.count - ddof))


class SerialComm:
    """The communicator of a single process (for library use without MPI): the part of
    mpi4py's ``Comm`` that ensembles and bases use."""

    def Get_rank(self):  # noqa: N802 (mpi4py's name)
        return 0

    def Get_size(self):  # noqa: N802
        return 1

    def bcast(self, value, root=0):
        return value

    def gather(self, value, root=0):
        return [value]

    def allgather(self, value):
        return [value]

    def reduce(self, value, root=0):
        return value

    def Barrier(self):  # noqa: N802
        pass


def block_indices(block, realizations, size):
    """Realization indices of one block of ``size``."""
    return range(block * size, min(realizations, (block + 1) * size))


def run_blocks(block_moments, realizations, comm, block_size, label="", stream=STDERR):
    """Moments over ``realizations`` realizations computed block by block under MPI.

    Blocks of ``block_size`` consecutive indices are dealt round robin to the ranks;
    rank 0 merges them in block order, so the result does not depend on the number of
    ranks (including more ranks than blocks).

    Parameters
    ----------
    block_moments : callable
        ``block_moments(indices) -> {name: RunningMoments}`` of one block (the same
        computation whichever rank runs it).
    realizations : int
    comm : mpi4py communicator
    block_size : int
        Realizations per block; fixed by the engine, never by the rank count.
    label : str
        Name of the pathway in progress messages (rank 0, once per round of blocks).

    Returns
    -------
    dict of str to RunningMoments or None
        On rank 0 the merged moments; None on other ranks.
    """
    rank, size = comm.Get_rank(), comm.Get_size()
    n_blocks = -(-realizations // block_size)
    n_rounds = -(-n_blocks // size)
    mine = {}
    done, started = 0, time.monotonic()
    for round_index in range(n_rounds):
        block = round_index * size + rank
        count = 0
        if block < n_blocks:
            indices = block_indices(block, realizations, block_size)
            mine[block] = block_moments(indices)
            count = len(indices)
        # every rank takes part in the same number of reductions: no rank waits forever
        finished = comm.reduce(count, root=0)
        if rank == 0 and stream is not None:
            done += finished
            elapsed = time.monotonic() - started
            stream.write(
                f"[hpckernels] {label} ensemble: {done}/{realizations} realizations "
                f"done ({elapsed:.1f} s)\n"
            )
            stream.flush()
    gathered = comm.gather(mine, root=0)
    if rank != 0:
        return None
    blocks = {}
    for part in gathered:
        blocks.update(part)
    merged = None
    for block in range(n_blocks):
        if merged is None:
            merged = {
                name: RunningMoments(m.count, m.mean.copy(), m.m2.copy())
                for name, m in blocks[block].items()
            }
        else:
            for name, moments in blocks[block].items():
                merged[name].merge(moments)
    return merged


def mean_and_std(moments):
    """{probe: {"kernel": mean, "std": standard deviation (ddof 1)}} of merged moments
    (None stays None: the ranks other than 0)."""
    if moments is None:
        return None
    return {name: {"kernel": m.mean, "std": m.std(ddof=1)} for name, m in moments.items()}
