"""Plain data types that engines, file layouts and validation share: arrays with units,
no physics and no I/O.

:class:`SegmentGeometry` (a cell's segments), :class:`PopulationBasis` (responses of a
population's cell to unit events, per synapse
kinetics), :class:`CellSystem` (the linearized cell as a linear system),
:class:`KernelTensor` (a kernel tensor file's contents), :class:`CellTable`,
:class:`SynapseTable` and :class:`Background` (the layout of a detailed population).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: ``kind`` of a background synapse in synapse tables (recurrent: the connection index).
EXTERNAL = -1


# ------------------------------------------------------------------------- bases
@dataclass
class SegmentGeometry:
    """The segments of a cell (um), with the attributes of ``lfpykit.CellGeometry`` that
    the probes read, without importing LFPykit (probes built on LFPykit's own models turn
    it into one, :func:`hpckernels.probes.models.cell_geometry`).

    Attributes
    ----------
    x, y, z : ndarray, shape (n_segments, 2)
        Start and end of each segment (um).
    d : ndarray, shape (n_segments,)
        Diameter (um).
    """

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    d: np.ndarray

    @property
    def totnsegs(self):
        return self.d.size


@dataclass
class KineticsBasis:
    """Responses to unit events of one synapse kinetics on the segments it can reach.

    Attributes
    ----------
    label : str
        :func:`~hpckernels.engines.common.kinetics_label`.
    synapse : dict
        ``type`` and time constants (ms).
    columns : ndarray of int, shape (n_columns,)
        Segment (LFPy order) of each column.
    responses : dict of str to ndarray
        {primary probe: G (n_channels, n_columns, n_steps + 1)}: the probe's signal
        after one event of 1 nA at lag 0 on the column's segment (probe units per nA),
        lags 0..tau, baseline (lag 0) subtracted.
    """

    label: str
    synapse: dict
    columns: np.ndarray
    responses: dict = field(default_factory=dict)
    #: What is computed from the responses and kept with them (their modes, see
    #: :meth:`hpckernels.engines.pathway.BasisPathway.modes`); not stored in files.
    derived: dict = field(default_factory=dict, repr=False, compare=False)


@dataclass
class CellSystem:
    """A linearized cell as NEURON discretizes it in space: a linear system on its nodes.

    Nodes ``0 .. n_segments - 1`` are the segments (LFPy's order); the zero-area nodes
    NEURON puts at the ends of sections follow. Each node but the root is joined to its
    parent node by an axial conductance. In deviations u = v - v_rest (mV) and nA::

        C du/dt = -G u - K u + P^T (mu x) - i_syn,    tau x' = u_P - x

    with K the axial Laplacian of the edges, P selecting the node of each linear mode
    (quasi-active gating, ``LinearMode``) and i_syn the current-based synapses.

    Attributes
    ----------
    n_segments : int
    capacitance : ndarray, shape (n_nodes,)
        Membrane capacitance (nF) of each node (zero on zero-area nodes).
    leak : ndarray, shape (n_nodes,)
        Leak conductance (uS) of each node (g_eff included).
    child, parent : ndarray of int, shape (n_edges,)
        The two nodes of each axial edge.
    conductance : ndarray, shape (n_edges,)
        Axial conductance (uS) of each edge.
    mode_nodes : ndarray of int, shape (n_modes,)
        Node of each linear mode.
    mode_tau : ndarray, shape (n_modes,)
        Its time constant (ms).
    mode_mu : ndarray, shape (n_modes,)
        Its conductance (uS): the mode adds the outward current -mu x (nA).
    """

    n_segments: int
    capacitance: np.ndarray
    leak: np.ndarray
    child: np.ndarray
    parent: np.ndarray
    conductance: np.ndarray
    mode_nodes: np.ndarray
    mode_tau: np.ndarray
    mode_mu: np.ndarray

    #: Array attributes, in the order of the constructor (files keep them by name).
    ARRAYS = (
        "capacitance",
        "leak",
        "child",
        "parent",
        "conductance",
        "mode_nodes",
        "mode_tau",
        "mode_mu",
    )

    @property
    def n_nodes(self):
        return self.capacitance.size

    @property
    def n_modes(self):
        return self.mode_tau.size


@dataclass
class PopulationBasis:
    """The impulse-response basis of population ``post`` and the cell data kernels need.

    Attributes
    ----------
    post : str
    dt : float
        Time step (ms).
    n_steps : int
        Steps in tau.
    geometry : lfpykit.CellGeometry or SegmentGeometry
        Segment geometry (um).
    vrest : ndarray, shape (n_segments,)
        Rest potential (mV) per segment, where synapses are linearized.
    leak_shift : ndarray, shape (n_segments,)
        g_eff conductance density (S/cm2) added to the leak.
    placements : dict of str to ndarray
        Placement pmf over segments of every connection into ``post``, by ``pre``.
    kinetics : dict of str to KineticsBasis
        Responses per synapse kinetics (may be empty when ``system`` is given).
    basis_hash : str
        Content hash of the inputs (:func:`~hpckernels.inputs.basis_hash`, or
        :func:`~hpckernels.inputs.response_hash` for a cell system alone).
    system : CellSystem or None
        The cell's linear system, from which the linear engine computes any response
        without NEURON (:mod:`hpckernels.engines.linear`).
    """

    post: str
    dt: float
    n_steps: int
    geometry: object
    vrest: np.ndarray
    leak_shift: np.ndarray
    placements: dict
    kinetics: dict = field(default_factory=dict)
    basis_hash: str = ""
    system: CellSystem | None = None

    @property
    def n_segments(self):
        return self.vrest.size


# ---------------------------------------------------------------- kernel tensors
@dataclass
class ProbeTensor:
    """One probe group of a kernel tensor file."""

    name: str
    probe_type: str
    kernel: np.ndarray  # (n_post, n_pre, n_channel, n_lag)
    lags: np.ndarray  # ms
    units: str
    channel: np.ndarray
    channel_units: str
    channel_name: str
    parameters: str  # JSON
    pathway_hashes: str = ""  # JSON
    pathway_inputs: str = ""  # JSON


@dataclass
class KernelTensor:
    """A kernel tensor file: populations, provenance and one :class:`ProbeTensor` per probe."""

    path: Path
    attrs: dict
    post: list
    pre: list
    probes: dict = field(default_factory=dict)


# ------------------------------------------------------------ detailed populations
@dataclass
class CellTable:
    """Somas and rotations of cells (one row per cell).

    Attributes
    ----------
    population : list of str
    index : ndarray of int
        Cell index within its population.
    x, y, z : ndarray
        Soma position (um).
    rotation : ndarray, shape (n, 3)
        Rotation (rad) about x, y and z, applied in that order about the soma
        (``LFPy.Cell.set_rotation``): the configured one, plus the random angle about z.
    """

    population: list
    index: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    rotation: np.ndarray

    def __len__(self):
        return len(self.population)

    def row(self, k):
        """(population, index, (x, y, z), rotation) of row ``k``."""
        return (
            self.population[k],
            int(self.index[k]),
            (float(self.x[k]), float(self.y[k]), float(self.z[k])),
            self.rotation[k],
        )


def concatenate_tables(tables):
    """One :class:`CellTable` of several."""
    return CellTable(
        [p for t in tables for p in t.population],
        np.concatenate([t.index for t in tables]).astype(np.int64),
        *(np.concatenate([getattr(t, k) for t in tables]) for k in ("x", "y", "z")),
        np.concatenate([t.rotation for t in tables]).reshape(-1, 3),
    )


@dataclass
class SynapseTable:
    """Synapses of cells (one row per synapse).

    Attributes
    ----------
    cell : ndarray of int
        Row of the cell in the run's cell table (or 0 for a single cell).
    segment : ndarray of int
        Segment index in LFPy's order.
    kind : ndarray of int
        Index of the connection in ``config.connections``, or ``EXTERNAL`` (-1).
    pre_id : ndarray of int
        Node id of the presynaptic neuron, or the background source (synapse) index.
    weight : ndarray
        Peak conductance (uS) as configured (nA for current-based synapses).
    delay : ndarray
        Delay (ms) on the dt grid (0 for background synapses).
    """

    cell: np.ndarray
    segment: np.ndarray
    kind: np.ndarray
    pre_id: np.ndarray
    weight: np.ndarray
    delay: np.ndarray

    COLUMNS = ("cell", "segment", "kind", "pre_id", "weight", "delay")

    def __len__(self):
        return self.segment.size

    @classmethod
    def concatenate(cls, tables):
        return cls(*(np.concatenate([getattr(t, k) for t in tables]) for k in cls.COLUMNS))


@dataclass
class Background:
    """Poisson trains of a cell's background synapses (rows ``kind == EXTERNAL`` of its
    synapse table, in order): train ``b`` is ``times[offsets[b]:offsets[b + 1]]`` (ms)."""

    offsets: np.ndarray
    times: np.ndarray
