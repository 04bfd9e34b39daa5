"""The linear-system engine (default): NEURON's fixed-step update of the linearized cell as
a sparse linear recurrence, solved in numpy/scipy; no NEURON time stepping at all.

The linearized cell (:func:`hpckernels.cell.build_linearized_cell`: passive, frozen,
quasi-active or per mechanism) is a cable with a leak per segment (``pas``), the
``LinearMode`` point processes of its quasi-active modes, driven by current-based
synapses. :func:`cell_system` reads its numbers from NEURON once per population, on
NEURON's nodes (the segments, and the zero-area nodes at the ends of sections, each
joined to its parent node by 1 / ``ri()``): a :class:`~hpckernels.datatypes.CellSystem`.
That is all NEURON does here; ``hpckernels basis`` writes it (with the cell's geometry and
placements) as the population's response file, from which every kernel is computed
without NEURON.

NEURON's fixed step (``cvode.active(0)``, ``secondorder = 0``) from t_n to t_n + dt, in
deviations u = v - v_rest (mV) and node currents (nA) and conductances (uS):

1. events with time <= t_n + dt / 2 are delivered (the unit event at t = 0 sets the
   synapse states s_0 before the first step);
2. the currents are evaluated at t_n: the outward membrane current I_n = G u_n +
   sigma_n b_j - P^T (mu x_n) (leak; synapse, sigma_n = c . s_n; modes) and the axial
   current K u_n (K the axial Laplacian, summed edge by edge). Neither the synapse's nor
   the modes' current depends on v, so only the leak adds a conductance to the matrix;
3. backward Euler for the increment (C capacitance, zero on zero-area nodes)::

       (C / dt + G + K) (u_{n+1} - u_n) = -I_n - K u_n

4. ``i_membrane_`` of step n + 1 is (C / dt + G) (u_{n+1} - u_n) + I_n on each segment
   (= -(K u_{n+1}) there);
5. the states, by cnexp with the *new* v: x_{n+1} = x_n + a_x ((u_{n+1})_P - x_n),
   s_{n+1} = s_n - a_s s_n, a = 1 - exp(-dt / tau).

So an ExpSyn event at lag 0 moves the membrane currents from lag 1 on, an Exp2Syn one
(whose current starts at zero) from lag 2 on. The recurrence is linear and
time-invariant: one sparse LU factorization of A = C / dt + G + K per cell and time
step serves every step, every input and every output.

Two routes to the probe signals G[c, j, l] = (M imem_j)[c, l] of unit events on columns
(segments) j, chosen by cost for the probes at hand (:meth:`FixedStep.route`):

* **forward** (:meth:`FixedStep.forward_responses`): the steps above with the columns as
  the right-hand sides of one solve per step (also the per-segment membrane currents,
  :meth:`FixedStep.membrane_currents`);
* **adjoint** (:meth:`FixedStep.adjoint_responses`): by reciprocity of the discrete
  system, the transposed recurrence run backwards from the output to the synapse states,
  with the channels as the right-hand sides of one transposed solve per step; cheaper
  whenever there are fewer channels than columns (always for real cells and probes).

Both equal NEURON's responses to round-off (``tests/test_linear.py``); from them the
mean-field kernels, the basis and the ensemble realizations follow as for any engine
(:mod:`hpckernels.engines.pathway`). Work is dealt to MPI ranks in fixed blocks (of
channels or columns, never sized by the rank count) and gathered in block order, so the
results are bit-identical for any number of ranks. Nothing here reads or writes files.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import splu

from .. import cell as cellmod
from ..console import STDERR, say
from ..datatypes import CellSystem, KineticsBasis, PopulationBasis
from ..errors import InputError
from ..inputs import basis_hash, response_hash
from ..probes import ProbeStack
from ..synapses import synapse_model
from . import ensemble
from .base import ENGINES, Engine
from .common import UNIT_WEIGHT, basis_columns, kinetics_groups, unit_synapse
from .pathway import PathwayInput

#: Ways to the responses (:meth:`FixedStep.responses`).
ROUTES = ("auto", "forward", "adjoint")
#: Columns solved together in the forward route (a block: its working memory, and the
#: unit of work dealt to MPI ranks).
COLUMN_BLOCK = 256
#: Channels solved together in the adjoint route (the unit of work dealt to MPI ranks;
#: a step's cost is mostly its fixed overhead below some dozens of channels).
CHANNEL_BLOCK = 64
#: Density mechanisms the linear system knows (ions carry no current of their own here).
LINEAR_DENSITY = ("pas",)
#: Point processes the linear system knows (the current synapses are its input).
LINEAR_POINT = ("LinearMode", "Exp2SynI", "ExpSynI")


# ------------------------------------------------------------------------ assembly
def cell_system(linearized):
    """The :class:`~hpckernels.datatypes.CellSystem` of a linearized cell, read from NEURON.

    Each node but the root is joined to its parent node by 1 / ``ri()`` (uS). The areas
    (um2), ``cm`` (uF/cm2), ``g_pas`` (S/cm2) and the ``LinearMode`` parameters are
    NEURON's.

    Parameters
    ----------
    linearized : LinearizedCell
        From :func:`hpckernels.cell.build_linearized_cell`, at rest at a uniform
        reference potential.

    Returns
    -------
    CellSystem

    Raises
    ------
    ValueError
        For what the linear system does not represent: a density mechanism other than
        ``pas`` (and ions), a leak or mode relaxing to another potential than the rest, a
        point process other than LinearMode and the current synapses, a section attached
        by its 1 end, NEURON's ``secondorder`` other than 0.
    """
    from ..mechanisms import import_neuron

    if import_neuron().h.secondorder != 0:
        raise ValueError("NEURON's secondorder is not 0 (backward Euler), as this update is")
    cell = linearized.cell
    reference = (
        linearized.membrane.reference
        if linearized.membrane is not None
        else float(linearized.vrest[0])
    )
    segments = cellmod.segments(cell)
    # NEURON node index -> node of the system: the segments first, in LFPy's order
    index = {seg.node_index(): i for i, seg in enumerate(segments)}

    def node(segment):
        return index.setdefault(segment.node_index(), len(index))

    child, parent, conductance, modes = [], [], [], []
    capacitance, leak = np.zeros(len(segments)), np.zeros(len(segments))
    for sec in cell.allseclist:
        if sec.orientation() != 0.0:
            raise ValueError(f"{sec.name()} is attached by its 1 end (not supported)")
        previous = node(sec(0))
        for seg in sec:
            here = node(seg)
            child.append(here)
            parent.append(previous)
            conductance.append(1.0 / seg.ri())  # MOhm -> uS
            previous = here
            names = [m.name() for m in seg]
            unknown = [n for n in names if n not in LINEAR_DENSITY and not n.endswith("_ion")]
            if unknown:
                raise ValueError(f"{seg}: mechanism {unknown[0]} is not a linear leak")
            area = seg.area()
            capacitance[here] = 1e-5 * seg.cm * area  # uF/cm2 * um2 -> nF
            if "pas" in names:
                if seg.pas.e != reference:
                    raise ValueError(f"{seg}: e_pas {seg.pas.e} mV is not the rest {reference}")
                leak[here] = 1e-2 * seg.pas.g * area  # S/cm2 * um2 -> uS
            for point in seg.point_processes():
                name = point.hname().split("[")[0]
                if name not in LINEAR_POINT:
                    raise ValueError(f"{seg}: point process {name} is not linear")
                if name == "LinearMode":
                    if point.vr != reference:
                        raise ValueError(f"{seg}: LinearMode vr {point.vr} is not {reference}")
                    modes.append((here, point.tau, point.mu))
        end = node(sec(1))
        child.append(end)
        parent.append(previous)
        conductance.append(1.0 / sec(1).ri())
    n_zero = len(index) - len(segments)
    return CellSystem(
        n_segments=len(segments),
        capacitance=np.r_[capacitance, np.zeros(n_zero)],
        leak=np.r_[leak, np.zeros(n_zero)],
        child=np.array(child, dtype=int),
        parent=np.array(parent, dtype=int),
        conductance=np.array(conductance, dtype=float),
        mode_nodes=np.array([m[0] for m in modes], dtype=int),
        mode_tau=np.array([m[1] for m in modes], dtype=float),
        mode_mu=np.array([m[2] for m in modes], dtype=float),
    )


# ------------------------------------------------------------------------ synapses
def cnexp_gain(tau, dt):
    """cnexp's factor of a relaxation with time constant ``tau`` (ms) over ``dt`` (ms):
    x <- x + a (target - x), a = 1 - exp(-dt / tau), as NMODL writes it."""
    return 1.0 - np.exp(dt * (-1.0 / np.asarray(tau, dtype=float)))


class SynapseKinetics:
    """NEURON's fixed-step update of a current-based synapse after one event at lag 0.

    The states s (nA) start at ``initial`` (the event is delivered before the first
    step) and decay by cnexp, s <- s - gain s; the outward current (nA) at step n is
    ``output @ s_n``.

    Parameters
    ----------
    synapse : SynapseModel
        Its current-based mechanism (:meth:`~hpckernels.synapses.SynapseModel.event_states`).
    dt : float
        Time step (ms).
    weight : float
        Event weight (nA, peak current).

    Attributes
    ----------
    initial, gain, output : ndarray, shape (n_states,)
        States after the event (nA), cnexp factor and outward current per state.
    """

    def __init__(self, synapse, dt, weight=UNIT_WEIGHT):
        self.initial, tau, self.output = synapse.event_states(weight)
        self.gain = cnexp_gain(tau, dt)

    def currents(self, n_steps):
        """Outward current (nA) of the synapse at steps 0..n_steps - 1 (what each step
        of NEURON's update sees)."""
        state = self.initial.copy()
        out = np.empty(n_steps)
        for n in range(n_steps):
            out[n] = self.output @ state
            state = state + self.gain * (-state)
        return out


# -------------------------------------------------------------------- fixed step
class FixedStep:
    """NEURON's fixed-step update of a :class:`~hpckernels.datatypes.CellSystem`,
    assembled and factorized once.

    Parameters
    ----------
    system : CellSystem
    dt : float
        Time step (ms).

    Attributes
    ----------
    matrix : scipy.sparse.csc_matrix
        A = C / dt + G + K (uS): the matrix of every step's solve.
    lu : scipy.sparse.linalg.SuperLU
        Its sparse LU factorization (minimum-degree ordering of A + A^T, which has no fill
        on a tree, and no pivoting: A is a diagonally dominant M-matrix).
    membrane : ndarray, shape (n_nodes,)
        C / dt + G (uS): the membrane's part of A's diagonal.
    """

    def __init__(self, system, dt):
        self.system = system
        self.dt = float(dt)
        n, m, n_edges = system.n_nodes, system.n_modes, system.child.size
        self.capacitive = system.capacitance / self.dt  # C / dt (uS)
        self.membrane = self.capacitive + system.leak
        # E (n_edges, n_nodes): +1 at each edge's child, -1 at its parent (E u: the
        # potential difference along each edge); K = E^T diag(g) E
        edge = np.arange(n_edges)
        self.edges = sparse.csr_matrix(
            (
                np.r_[np.ones(n_edges), -np.ones(n_edges)],
                (np.r_[edge, edge], np.r_[system.child, system.parent]),
            ),
            shape=(n_edges, n),
        )
        self.edges_t = self.edges.T.tocsr()
        # K = E^T diag(g) E: the axial current K u leaving each node (nA)
        self.axial = (self.edges_t @ sparse.diags(system.conductance) @ self.edges).tocsr()
        self.matrix = (sparse.diags(self.membrane) + self.axial).tocsc()
        self.lu = splu(
            self.matrix,
            permc_spec="MMD_AT_PLUS_A",
            diag_pivot_thresh=0.0,
            options={"SymmetricMode": True},
        )
        # A is symmetric by construction: its transposed solves are its solves
        self.symmetric = abs(self.matrix - self.matrix.T).max() == 0.0
        self.mode_gain = cnexp_gain(system.mode_tau, self.dt)
        # P (n_modes, n_nodes): the node of each mode; P^T diag(mu): its current on the nodes
        self.mode_select = sparse.csr_matrix(
            (np.ones(m), (np.arange(m), system.mode_nodes)), shape=(m, n)
        )
        self.mode_current = sparse.csr_matrix(
            (system.mode_mu, (system.mode_nodes, np.arange(m))), shape=(n, m)
        )
        # a segment next to each node (itself for segments): probe rows on all nodes
        self.anchor = np.arange(n)
        zero = np.arange(system.n_segments, n)
        for a, b in ((system.child, system.parent), (system.parent, system.child)):
            free = (self.anchor[a] >= system.n_segments) & (b < system.n_segments)
            self.anchor[a[free][::-1]] = b[free][::-1]  # the first of each node's edges
        if np.any(self.anchor[zero] >= system.n_segments):
            raise ValueError("a zero-area node without a neighbouring segment")

    def axial_current(self, u):
        """K u (nA): the axial current leaving each node, summed edge by edge (each
        edge's current is added to one node and taken from the other).

        Parameters
        ----------
        u : ndarray, shape (n_nodes, k)
            Potentials (mV, deviations from rest).
        """
        return self.edges_t @ (self.system.conductance[:, None] * (self.edges @ u))

    def solve_transposed(self, rhs):
        """A^-T rhs."""
        return self.lu.solve(rhs) if self.symmetric else self.lu.solve(rhs, trans="T")

    @staticmethod
    def probe_rows(M):
        """Probe rows without their mean over segments.

        The membrane currents of the segments sum to zero (the axial currents cancel in
        pairs, the zero-area nodes carry none), so a constant added to a probe row does
        not change its signal; without their mean the rows do not pick up the round-off
        of that sum (e.g. a dipole's z at a depth of -1000 um).
        """
        M = np.asarray(M, dtype=float)
        return M - M.mean(axis=1, keepdims=True)

    # -------------------------------------------------------------- forward
    def _forward(self, kinetics, inputs, n_steps, emit):
        """Run NEURON's steps for one event at lag 0 per right-hand side and call
        ``emit(step, imem)`` with the membrane currents (nA, n_segments x k) of steps
        1..n_steps.

        ``inputs``: the segments (int, k) of unit events, or the events' weights (nA)
        on every segment (float, n_segments x k: e.g. a pathway's expected synapses)."""
        sigma = kinetics.currents(n_steps)
        n_seg, n_nodes = self.system.n_segments, self.system.n_nodes
        inputs = np.asarray(inputs)
        n_cols = inputs.shape[-1] if inputs.ndim == 2 else inputs.size
        u = np.zeros((n_nodes, n_cols), order="F")
        x = np.zeros((self.system.n_modes, n_cols))
        if inputs.ndim == 2:
            drive = np.zeros((n_nodes, n_cols))
            drive[:n_seg] = inputs
        else:
            where = (inputs.astype(int), np.arange(n_cols))
        leak = self.system.leak[:, None]
        membrane = self.membrane[:, None]
        gain = self.mode_gain[:, None]
        has_modes = self.system.n_modes > 0
        for n in range(n_steps):
            # outward membrane currents at u_n: leak, synapse, modes
            current = leak * u
            if inputs.ndim == 2:
                current += sigma[n] * drive
            else:
                current[where] += sigma[n]
            if has_modes:
                current -= self.mode_current @ x
            du = self.lu.solve(-current - self.axial @ u)
            emit(n + 1, membrane[:n_seg] * du[:n_seg] + current[:n_seg])
            u = u + du
            if has_modes:
                x += gain * (self.mode_select @ u - x)

    def membrane_currents(self, kinetics, columns, n_steps):
        """Membrane currents after one event at lag 0 on each column, by forward solves
        (all columns of a block as right-hand sides).

        Parameters
        ----------
        kinetics : SynapseKinetics
        columns : ndarray of int
            Segments (LFPy order) of the events.
        n_steps : int

        Returns
        -------
        ndarray, shape (n_columns, n_segments, n_steps + 1)
            Membrane currents (nA) at lags 0..n_steps minus those at rest (zero at lag 0).
        """
        columns = np.asarray(columns, dtype=int)
        out = np.zeros((n_steps + 1, columns.size, self.system.n_segments))
        for start in range(0, columns.size, COLUMN_BLOCK):
            part = slice(start, start + COLUMN_BLOCK)

            def emit(step, imem, part=part):
                out[step, part] = imem.T

            self._forward(kinetics, columns[part], n_steps, emit)
        return np.ascontiguousarray(out.transpose(1, 2, 0))

    @staticmethod
    def _project(rows, groups):
        """``project(imem)``: rows @ imem, each group of rows (a probe's channels) as its
        own product, so that a probe's numbers do not depend on the other probes (a
        product's rounding may depend on its number of rows)."""
        groups = groups or [slice(0, rows.shape[0])]

        def project(imem):
            return np.concatenate([rows[part] @ imem for part in groups])

        return project

    def forward_responses(self, kinetics, columns, M, n_steps, groups=None):
        """Probe signals of the unit responses of one kinetics by forward solves (the
        columns as right-hand sides, one block of at most :data:`COLUMN_BLOCK`).

        Parameters
        ----------
        kinetics : SynapseKinetics
        columns : ndarray of int
            Segments (LFPy order) of the events.
        M : ndarray, shape (n_channels, n_segments)
            Stacked probe matrix (probe units per nA).
        n_steps : int
        groups : list of slice, optional
            The channels of each probe (projected separately; default all together).

        Returns
        -------
        ndarray, shape (n_channels, n_columns, n_steps + 1)
            G[c, j, l] = (M imem_j)[c, l] (probe units per nA), zero at lag 0.
        """
        columns = np.asarray(columns, dtype=int)
        rows = self.probe_rows(M)
        project = self._project(rows, groups)
        out = np.zeros((n_steps + 1, columns.size, rows.shape[0]))
        for start in range(0, columns.size, COLUMN_BLOCK):
            part = slice(start, start + COLUMN_BLOCK)

            def emit(step, imem, part=part):
                out[step, part] = project(imem).T

            self._forward(kinetics, columns[part], n_steps, emit)
        return np.ascontiguousarray(out.transpose(2, 1, 0))

    def forward_signals(self, kinetics, weights, M, n_steps, groups=None):
        """Probe signals after one event at lag 0 with the given weights on every
        segment, per right-hand side (e.g. the expected synapses of several pathways).

        Parameters
        ----------
        kinetics : SynapseKinetics
            Of a unit event (the weights scale it).
        weights : ndarray, shape (n_segments, k)
            Peak current (nA) of the event on each segment.
        M : ndarray, shape (n_channels, n_segments)
        n_steps : int
        groups : list of slice, optional
            The channels of each probe (projected separately; default all together).

        Returns
        -------
        ndarray, shape (n_channels, k, n_steps + 1)
            Zero at lag 0.
        """
        rows = self.probe_rows(M)
        project = self._project(rows, groups)
        weights = np.asarray(weights, dtype=float)
        out = np.zeros((n_steps + 1, weights.shape[1], rows.shape[0]))

        def emit(step, imem):
            out[step] = project(imem).T

        self._forward(kinetics, weights, n_steps, emit)
        return np.ascontiguousarray(out.transpose(2, 1, 0))

    # -------------------------------------------------------------- adjoint
    def adjoint_responses(self, inputs, M, n_steps):
        """Probe signals of the unit responses by transposed solves (the channels as
        right-hand sides): the recurrence run backwards from the output, once for all
        kinetics.

        With the state z = (u, x, s) of the cell and of the synapse of each column, a step
        is u_{n+1} = A^-1 (C / dt u_n + P^T mu x_n - b_j c . s_n), then x and s by cnexp
        (z_{n+1} = Phi z_n), and the membrane currents are -K u_{n+1}: the signal of
        channel c at lag l is rho . u_l, rho = -K r the axial current of the probe row r
        (extended to the zero-area nodes by a neighbouring segment's value, which changes
        nothing since their net axial current is zero; summed edge by edge). So G[c, j,
        l] = lambda_l . z_0(j) with lambda_0 = (rho, 0, 0), lambda_{m+1} = Phi^T lambda_m
        and z_0(j) the synapse states s_0 of column j after the event. Per step::

            w = A^-T (lambda_u + P^T (a_x lambda_x))           the transposed solve
            lambda_u <- C / dt w
            lambda_x <- diag(mu) P w + (1 - a_x) lambda_x
            lambda_s(j) <- (1 - a_s) lambda_s(j) - c w[b_j]    (each column j)

        and G[c, j, l] = lambda_s(j) . s_0 (the recursion runs on s_0 lambda_s, state by
        state). The cell's part does not depend on the synapses: one run serves all
        kinetics.

        Parameters
        ----------
        inputs : dict of str to (SynapseKinetics, ndarray of int)
            {label: (kinetics, columns)}.
        M : ndarray, shape (n_channels, n_segments)
        n_steps : int

        Returns
        -------
        dict of str to ndarray
            {label: G (n_channels, n_columns, n_steps + 1)}, as :meth:`forward_responses`.
        """
        rows = self.probe_rows(M)[:, self.anchor]  # (n_channels, n_nodes)
        n_channels = rows.shape[0]
        runs = []
        for kinetics, columns in inputs.values():
            columns = np.asarray(columns, dtype=int)
            if columns.size and np.array_equal(columns, np.arange(columns[0], columns[-1] + 1)):
                columns = slice(columns[0], columns[-1] + 1)  # a view of w, no copy
            n_columns = np.arange(self.system.n_nodes)[columns].size
            G = np.zeros((n_channels, n_columns, n_steps + 1))
            # s_0 lambda_s per synapse state: (1 - a) s_0 lambda_s + (-s_0 c) w[b_j]
            states = np.zeros((kinetics.initial.size, n_channels, n_columns))
            drive = -kinetics.initial * kinetics.output
            runs.append((columns, 1.0 - kinetics.gain, drive, states, G))
        gain = self.mode_gain[:, None]
        has_modes = self.system.n_modes > 0
        lam_x = np.zeros((self.system.n_modes, n_channels))
        # channels on the second axis: SuperLU's right-hand sides (n_nodes, n_channels)
        rhs = -self.axial_current(rows.T)
        for m in range(n_steps):
            w = self.solve_transposed(rhs)
            rhs = self.capacitive[:, None] * w
            if has_modes:
                lam_x = self.mode_current.T @ w + (1.0 - gain) * lam_x
                rhs += self.mode_select.T @ (gain * lam_x)
            wt = w.T  # (n_channels, n_nodes), C order
            for columns, keep, drive, states, G in runs:
                at_columns = wt[:, columns]  # (n_channels, n_columns)
                for k, state in enumerate(states):
                    state *= keep[k]
                    state += drive[k] * at_columns
                if len(states) == 1:
                    G[:, :, m + 1] = states[0]
                else:
                    G[:, :, m + 1] = states.sum(axis=0)
        return {label: run[4] for label, run in zip(inputs, runs, strict=True)}

    # -------------------------------------------------------------- choice
    def route(self, n_channels, n_columns):
        """The cheaper route, 'forward' or 'adjoint', for these channels and columns.

        Per step the forward route solves n_columns right-hand sides and projects each
        (n_channels x n_segments); the adjoint route solves n_channels right-hand sides
        (and updates n_columns x n_channels synapse states).
        """
        n_nodes = self.system.n_nodes
        solve = self.lu.L.nnz + self.lu.U.nnz + 6 * n_nodes + 4 * self.system.n_modes
        forward = n_columns * (solve + 2 * n_channels * self.system.n_segments)
        adjoint = n_channels * (solve + 8 * n_columns)
        return "forward" if forward < adjoint else "adjoint"

    def blocks(self, inputs, n_channels, route, groups=None):
        """The units of work of :meth:`responses`, in order: ('adjoint', channels) for
        blocks of at most :data:`CHANNEL_BLOCK` channels of one group (probe), or
        ('forward', label, columns) for blocks of :data:`COLUMN_BLOCK` columns of each
        kinetics. Fixed by the problem, never by the number of ranks."""
        if route == "adjoint":
            groups = groups or [slice(0, n_channels)]
            return [
                ("adjoint", slice(start, min(start + CHANNEL_BLOCK, group.stop)))
                for group in groups
                for start in range(group.start, group.stop, CHANNEL_BLOCK)
            ]
        return [
            ("forward", label, slice(start, min(start + COLUMN_BLOCK, np.size(columns))))
            for label, (_, columns) in inputs.items()
            for start in range(0, np.size(columns), COLUMN_BLOCK)
        ]

    def solve_block(self, block, inputs, M, n_steps, groups=None):
        """The responses of one block of :meth:`blocks`: {label: G part}."""
        if block[0] == "adjoint":
            return self.adjoint_responses(inputs, M[block[1]], n_steps)
        _, label, part = block
        kinetics, columns = inputs[label]
        columns = np.asarray(columns)[part]
        return {label: self.forward_responses(kinetics, columns, M, n_steps, groups)}

    def responses(self, inputs, M, n_steps, route="auto", comm=None, everywhere=True, groups=None):
        """{label: G (n_channels, n_columns, n_steps + 1)} of ``inputs``.

        Parameters
        ----------
        inputs : dict of str to (SynapseKinetics, ndarray of int)
            {label: (kinetics, columns)}.
        M : ndarray, shape (n_channels, n_segments)
            Stacked probe matrix.
        n_steps : int
        route : {'auto', 'forward', 'adjoint'}
            'auto': the cheaper of the two by :meth:`route`, for all kinetics together.
        comm : mpi4py communicator, optional
            Blocks of :meth:`blocks` are dealt round robin to its ranks and gathered in
            block order (the same numbers for any rank count).
        everywhere : bool
            The result on every rank (else on rank 0, None elsewhere).
        groups : list of slice, optional
            The channels of each probe: a probe's responses do not depend on the others.
        """
        if route not in ROUTES:
            raise ValueError(f"route must be one of {ROUTES}, not {route!r}")
        comm = comm or ensemble.SerialComm()
        size = comm.Get_size()
        n_channels = np.shape(M)[0]
        if route == "auto":
            n_columns = sum(np.size(columns) for _, columns in inputs.values())
            route = self.route(n_channels, n_columns)
        blocks = self.blocks(inputs, n_channels, route, groups)
        mine = {
            k: self.solve_block(b, inputs, M, n_steps, groups)
            for k, b in enumerate(blocks)
            if k % size == comm.Get_rank()
        }
        if size > 1:
            parts = comm.allgather(mine) if everywhere else comm.gather(mine, root=0)
            if parts is None:
                return None
            mine = {k: v for part in parts for k, v in part.items()}
        axis = 0 if route == "adjoint" else 1
        out = {}
        for label in inputs:
            parts = [mine[k][label] for k in range(len(blocks)) if label in mine[k]]
            if not np.size(inputs[label][1]):
                out[label] = np.zeros((n_channels, 0, n_steps + 1))
            else:
                out[label] = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=axis)
        return out


# ------------------------------------------------------------------------ engine
def _probe_matrix(stack, basis, population, comm):
    """The stacked probe matrix of the primary probes of ``stack`` on the basis's cell
    (columns computed by the ranks of ``comm`` on blocks of segments)."""
    matrices = (
        stack.matrices_on(comm, basis.geometry, population)
        if comm is not None
        else stack.matrices(basis.geometry, population)
    )
    return np.concatenate([matrices[name] for name in stack.primary])


@ENGINES.register
class LinearEngine(Engine):
    """The linearized cell's fixed-step update as a sparse linear system, assembled once
    per population from NEURON: every response by sparse solves (no NEURON time
    stepping); the response file holds the system, so kernels need no NEURON."""

    name = "linear"
    writes_system = True
    uses_cache = False
    description = (
        "the linearized cell as a sparse linear system (assembled once from NEURON), "
        "responses by forward or adjoint solves; reads the system from --basis"
    )

    def population_system(self, config, post, comm=None, log=STDERR):
        """The response file's contents of population ``post``: its cell (geometry,
        rest potential, g_eff leak, placements) and linear system, from NEURON (rank 0;
        broadcast to every rank). Independent of probes and synapse kinetics.

        Returns
        -------
        PopulationBasis
            With ``system`` and without responses.
        """
        comm = comm or ensemble.SerialComm()
        result = None
        if comm.Get_rank() == 0:
            n_steps, dt = config.n_steps_tau, config.simulation["dt"]
            linearized = cellmod.build_linearized_cell(config, post, n_steps * dt)
            try:
                scale = config.populations[post]["position"]["scale"]
                result = PopulationBasis(
                    post=post,
                    dt=dt,
                    n_steps=n_steps,
                    geometry=linearized.geometry,
                    vrest=np.asarray(linearized.vrest, dtype=float),
                    leak_shift=np.asarray(linearized.leak_shift, dtype=float),
                    placements={
                        c["pre"]: cellmod.placement_pmf(linearized.cell, c["placement"], scale)
                        for c in config.connections_into(post)
                    },
                    basis_hash=response_hash(config, post),
                    system=cell_system(linearized),
                )
            finally:
                linearized.close()
            say(
                log,
                f"linear system of {post}: {result.system.n_nodes} nodes, "
                f"{result.system.n_modes} modes",
            )
        return comm.bcast(result, root=0)

    def response_hash(self, config, post):
        """Content hash of the response file's inputs
        (:func:`~hpckernels.inputs.response_hash`: no probe, kinetics or delay)."""
        return response_hash(config, post)

    def population_response(self, config, post, comm=None, cache=None, log=STDERR):
        """What ``hpckernels basis`` writes: :meth:`population_system` (rank 0)."""
        result = self.population_system(config, post, comm, log)
        return result if comm is None or comm.Get_rank() == 0 else None

    def responses(
        self,
        config,
        system,
        pres=None,
        probes=None,
        comm=None,
        everywhere=True,
        route="auto",
        log=STDERR,
    ):
        """The basis (responses of the wanted probes to unit events) of a population from
        its linear system, without NEURON.

        Parameters
        ----------
        config : NetworkConfig
        system : PopulationBasis
            With ``system`` (:meth:`population_system`, or a response file).
        pres : list of str, optional
            Only the kinetics and columns of the connections from these populations.
        probes : list of str, optional
            Only these probes (and the dipoles of head models among them).
        comm : mpi4py communicator, optional
            Blocks of channels (or columns) dealt to the ranks, gathered in block order.
        everywhere : bool
            The basis on every rank (else on rank 0, None elsewhere).
        route : {'auto', 'forward', 'adjoint'}

        Returns
        -------
        PopulationBasis or None
        """
        if system.system is None:
            raise InputError("--basis", f"holds no linear system of {system.post}")
        post, n_steps, dt = system.post, system.n_steps, system.dt
        stack = ProbeStack(config.probes, probes)
        M = _probe_matrix(stack, system, config.populations[post], comm)
        groups = kinetics_groups(config, post, pres)
        inputs = {
            label: (SynapseKinetics(synapse, dt), basis_columns(system.placements, connections))
            for label, (synapse, connections) in groups.items()
        }
        step = FixedStep(system.system, dt)
        probe_channels = list(stack.slices.values())
        solved = step.responses(inputs, M, n_steps, route, comm, everywhere, probe_channels)
        if solved is None:
            return None
        result = PopulationBasis(
            post=post,
            dt=dt,
            n_steps=n_steps,
            geometry=system.geometry,
            vrest=system.vrest,
            leak_shift=system.leak_shift,
            placements=system.placements,
            basis_hash=basis_hash(config, post),
            system=system.system,
        )
        for label, (synapse, _) in groups.items():
            result.kinetics[label] = KineticsBasis(
                label=label,
                synapse={"type": synapse.name, **synapse.taus},
                columns=inputs[label][1],
                responses={name: solved[label][part] for name, part in stack.slices.items()},
            )
        if comm is None or comm.Get_rank() == 0:
            say(
                log,
                f"responses of {post}: {M.shape[0]} channels, "
                f"{sum(np.size(c) for _, c in inputs.values())} columns",
            )
        return result

    def population_basis(
        self,
        config,
        post,
        comm=None,
        pres=None,
        cache=None,
        everywhere=True,
        log=STDERR,
        probes=None,
    ):
        """The basis of population ``post``: its linear system from NEURON, then the
        responses by sparse solves (see
        :meth:`~hpckernels.engines.base.Engine.population_basis`; ``cache`` is not
        used: nothing here is worth keeping but the system itself)."""
        system = self.population_system(config, post, comm, log)
        return self.responses(config, system, pres, probes, comm, everywhere, log=log)

    def _with_responses(self, config, pre, post, probes, comm, basis, everywhere, log):
        """``basis`` if it has the responses of ``probes`` for pathway pre -> post, else
        the responses from its system (or from a new system of ``post``)."""
        if basis is None:
            return self.population_basis(config, post, comm, [pre], None, everywhere, log, probes)
        stack = ProbeStack(config.probes, probes)
        have = basis.kinetics.values()
        if basis.system is None or (
            have and all(name in k.responses for k in have for name in stack.primary)
        ):
            return basis
        return self.responses(config, basis, [pre], probes, comm, everywhere, log=log)

    def forward_mean_field(self, config, system, pres, probes=None):
        """Mean-field kernels of pathways ``pres`` -> ``system.post`` by forward solves:
        the expected input of each pathway (:meth:`PathwayInput.expected_current
        <hpckernels.engines.pathway.PathwayInput.expected_current>`) is one right-hand
        side, the pathways of one synapse kinetics solved together. Cheaper than the
        basis when only mean-field kernels are wanted (a few right-hand sides instead of
        one per channel or column); in this process, no NEURON.

        Returns
        -------
        dict of str to dict
            {pre: {probe: kernel (n_channels, n_lags)}}.
        """
        post = system.post
        stack = ProbeStack(config.probes, probes)
        M = _probe_matrix(stack, system, config.populations[post], None)
        step = FixedStep(system.system, system.dt)
        groups = {}
        for pre in pres:
            pathway = PathwayInput(system, config, pre, post)
            groups.setdefault(pathway.label, []).append((pre, pathway))
        out = {}
        for members in groups.values():
            kinetics = SynapseKinetics(unit_synapse(members[0][1].synapse), system.dt)
            weights = np.stack([pathway.expected_current() for _, pathway in members], axis=1)
            probe_channels = list(stack.slices.values())
            signals = step.forward_signals(kinetics, weights, M, system.n_steps, probe_channels)
            for k, (pre, pathway) in enumerate(members):
                out[pre] = pathway.mean_field_kernels(stack, signals[:, k])
        return out

    def mean_field_kernels(
        self, config, pre, post, probes=None, comm=None, cache=None, basis=None, log=STDERR
    ):
        """Mean-field kernels on rank 0 (see
        :meth:`~hpckernels.engines.base.Engine.mean_field_kernels`): from the responses of
        ``basis`` if it has them, else by :meth:`forward_mean_field` from its system (a
        response file) or from the system of ``post`` built here."""
        stack = ProbeStack(config.probes, probes)
        if (
            basis is not None
            and all(name in k.responses for k in basis.kinetics.values() for name in stack.primary)
            and basis.kinetics
        ):
            return super().mean_field_kernels(config, pre, post, probes, comm, cache, basis, log)
        if comm is not None and comm.Get_rank() != 0:
            return None
        system = basis if basis is not None else self.population_system(config, post, log=log)
        if system.system is None:
            raise InputError("--basis", f"holds no responses of probes {stack.primary}")
        return self.forward_mean_field(config, system, [pre], probes)[pre]

    def population_mean_field(self, config, post, probes=None, log=STDERR):
        """{(pre, post): kernels} of every pathway into ``post``: its system from NEURON,
        then :meth:`forward_mean_field` (see
        :meth:`~hpckernels.engines.base.Engine.population_mean_field`)."""
        system = self.population_system(config, post, log=log)
        pres = [c["pre"] for c in config.connections_into(post)]
        kernels = self.forward_mean_field(config, system, pres, probes)
        return {(pre, post): kernels[pre] for pre in pres}

    def block_moments(
        self, config, pre, post, seed, comm, probes, cache, basis, log, realizations=None
    ):
        """Realization blocks from the basis (see
        :meth:`~hpckernels.engines.base.Engine.block_moments`), its responses solved
        first from a response file."""
        basis = self._with_responses(config, pre, post, probes, comm, basis, True, log)
        return super().block_moments(
            config, pre, post, seed, comm, probes, cache, basis, log, realizations
        )

    def unit_membrane_currents(self, config, post, synapse):
        """Forward solves with every segment as a right-hand side (see
        :meth:`~hpckernels.engines.base.Engine.unit_membrane_currents`)."""
        system = self.population_system(config, post, log=None)
        unit = unit_synapse(synapse_model(synapse))
        step = FixedStep(system.system, system.dt)
        kinetics = SynapseKinetics(unit, system.dt)
        return step.membrane_currents(kinetics, np.arange(system.n_segments), system.n_steps)
