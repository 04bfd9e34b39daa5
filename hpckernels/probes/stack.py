"""Probes of a run on one channel axis.

Primary probes have a matrix on the cell (membrane currents -> signal); derived probes
(EEG, MEG) are a head-model matrix T applied to the signal of a dipole probe. A
:class:`ProbeStack` stacks the primary probes' matrices (and signals) in spec order, and
either splits stacked signals back into every wanted probe (derived ones as T
times their dipole's signal: what the kernel engines do) or gives one matrix with the
rows of every wanted probe (derived ones as T times their dipole's matrix: what the
ground truth projects each cell's currents with).
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from ..datatypes import SegmentGeometry
from .types import probe_type, resolve, small_geometry


class ProbeStack:
    """Probes of a run on one channel axis.

    Parameters
    ----------
    specs : dict of str to dict
        Every probe spec (the config's ``probes``, or the detailed probes of a ground
        truth); head models name their dipole probe among them.
    names : list of str, optional
        Probes wanted (default all).

    Attributes
    ----------
    names : list of str
        The probes wanted.
    primary : list of str
        Probes with a matrix on the cell (wanted, or the dipole of a wanted head model),
        in spec order.
    slices : dict of str to slice
        Channels of each primary probe on the stacked axis (set by :meth:`matrices`
        and :meth:`stack`).
    derived : dict of str to (str, ndarray)
        {probe: (dipole probe, T (n_channels, 3))}.
    """

    def __init__(self, specs, names=None):
        self.specs = specs
        self.names = list(names or specs)
        wanted, self.derived = set(), {}
        for name in self.names:
            probe = probe_type(specs[name], specs)
            if probe.derived:
                self.derived[name] = (probe.dipole_name, probe.head_matrix())
                wanted.add(probe.dipole_name)
            else:
                wanted.add(name)
        self.primary = [name for name in specs if name in wanted]
        self.slices = {}

    def spec(self, name, population=None, where="probes"):
        """Probe ``name``'s spec; on a postsynaptic population (its config entry), resolved
        for it (:func:`~hpckernels.probes.types.resolve`)."""
        spec = self.specs[name]
        return spec if population is None else resolve(spec, population, f"{where}.{name}")

    def matrices(self, geometry, population=None):
        """{primary probe: M (n_channels, n_segments)} on a cell geometry (``population``:
        the postsynaptic population's config entry, for which the specs are resolved);
        sets ``slices``."""
        out, start = {}, 0
        for name in self.primary:
            out[name] = probe_type(self.spec(name, population), self.specs).matrix(geometry)
            self.slices[name] = slice(start, start + out[name].shape[0])
            start += out[name].shape[0]
        return out

    def matrices_on(self, comm, geometry, population=None):
        """:meth:`matrices`, computed by the ranks of ``comm`` on contiguous blocks of
        segments and gathered on every rank: a column of a probe matrix depends on its
        segment alone, so the result is the same as :meth:`matrices` (bit for bit), and
        the quadratures of population probes are not repeated on every rank."""
        size = comm.Get_size()
        n_segments = geometry.totnsegs
        if size == 1 or n_segments < size:
            return self.matrices(geometry, population)
        bounds = np.linspace(0, n_segments, size + 1).astype(int)
        mine = slice(bounds[comm.Get_rank()], bounds[comm.Get_rank() + 1])
        part = SegmentGeometry(
            x=geometry.x[mine], y=geometry.y[mine], z=geometry.z[mine], d=geometry.d[mine]
        )
        blocks = comm.allgather(self.matrices(part, population))
        return {name: np.concatenate([b[name] for b in blocks], axis=1) for name in self.primary}

    def stack(self, arrays, axis=0):
        """Concatenate per-probe arrays of the primary probes along ``axis``; sets ``slices``."""
        start = 0
        for name in self.primary:
            size = arrays[name].shape[axis]
            self.slices[name] = slice(start, start + size)
            start += size
        return np.concatenate([arrays[name] for name in self.primary], axis=axis)

    def split(self, stacked):
        """{probe: signal} of the wanted probes from stacked signals (..., channels, lags)."""
        out = {name: stacked[..., part, :] for name, part in self.slices.items()}
        for name, (dipole, T) in self.derived.items():
            out[name] = np.matmul(T, out[dipole])
        return {name: out[name] for name in self.names}

    # ------------------------------------------------------------- every wanted probe
    @cached_property
    def rows(self):
        """{wanted probe: slice} of the rows of :meth:`matrix` (channel counts do not
        depend on the geometry: taken on a small one)."""
        small = small_geometry()
        out, start = {}, 0
        for name in self.names:
            n = probe_type(self.specs[name], self.specs).matrix(small).shape[0]
            out[name] = slice(start, start + n)
            start += n
        return out

    @property
    def n_rows(self):
        """Rows of :meth:`matrix`."""
        return max((part.stop for part in self.rows.values()), default=0)

    def matrix(self, geometry):
        """The matrices of every wanted probe stacked (n_rows, n_segments), derived
        probes as T times their dipole probe's matrix."""
        return np.concatenate(
            [probe_type(self.specs[name], self.specs).matrix(geometry) for name in self.names]
        )
