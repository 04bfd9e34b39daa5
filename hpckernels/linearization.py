"""Linearization of any NEURON cell model around an operating point.

The cell's equations are NEURON's own, dy/dt = f(y), evaluated with ``CVode.f``: y holds
the membrane potential v of every segment and every state of its mechanisms (gates, ion
concentrations). Mechanisms couple to the rest of the cell only through their own
segment's v, so the first-order terms are local to each segment::

    dI_i  = G_i dv_i + c_i . ds_i        (outward membrane current density, mA/cm2)
    ds_i' = a_i dv_i + A_i ds_i          (the segment's mechanism states)

- ``G_i`` (S/cm2): the instantaneous conductance of all mechanisms with their states held,
  i.e. the *frozen* membrane. Moving every v by the same step leaves the axial currents
  unchanged, so one central difference gives G and a for all segments at once; one per
  state slot gives c and A (2 (1 + states per segment) evaluations, doubled for the
  Richardson extrapolation below).
- the *quasi-active* part: the states' dynamics, diagonalised per segment (A = V L V^-1)
  into modes of Remme and Rinzel's form dx/dt = (dv - x) / tau, current -mu x, realized
  by one ``LinearMode`` point process each (``mod/linearmode.mod``, integrated with cnexp
  like a hand-written linearized channel).

Finite differences: central differences with steps h and 2h, combined by Richardson
extrapolation (error O(h^4)); h = 1e-3 mV for v and 1e-4 max(``|s|``, 1e-8) for a state s.
For the rate functions of voltage-gated channels (voltage scales >= 2 mV) the error of
the extrapolated derivatives is below 1e-10 relative, far below the 1e-6 of the kernel's
maximum that the kernels must meet; the difference between the two estimates is kept as
``Linearization.jacobian_error`` and checked.

Operating points:

- ``steady-state``: the rest of the active model, f(y) = 0, by Newton's method on the
  membrane potentials with the states at their steady state for each v (found per segment,
  Newton again), damped by pseudo-transient continuation so that it converges to the rest
  the cell relaxes to; the axial-current matrix comes from single-segment probes of f
  (exact: the cable is linear).
- ``uniform``: v clamped to given values (scalar or per segment); the states at their
  steady state there. The compensating current per segment (the "make uniform" procedure)
  enters the leak's reversal potential.

Either way the linearized cell must be stable: the eigenvalues of its Jacobian (cable,
leak and the chosen modes) nearest zero must have negative real parts. The linearized
cell is the same NEURON cell with its mechanisms replaced by ``pas`` (g = G) plus the
``LinearMode`` point processes of the quasi-active mechanisms. Being linear, it is
simulated around a uniform reference potential, where it rests without settling; its
deviations are those of the linearized membrane around the (possibly non-uniform)
operating point, at which the synapses are linearized.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from .errors import ConfigError

#: Finite-difference step (mV) of the membrane potential.
STEP_V = 1e-3
#: Relative finite-difference step of a state, and its floor (state units).
STEP_STATE, STEP_FLOOR = 1e-4, 1e-8
#: Step (mV) of the probes of the (linear) axial currents.
STEP_CABLE = 1.0
#: Convergence of the operating point: largest Newton step (mV; relative for states).
NEWTON_TOL_V, NEWTON_TOL_S = 1e-10, 1e-12
#: Modes whose current is below this fraction of the segment's leak are dropped.
MODE_CUTOFF = 1e-13
#: Version of the stored linearizations (cache files of another version are recomputed).
FORMAT = 2


def _neuron():
    from .mechanisms import import_neuron

    return import_neuron().h


# ------------------------------------------------------------------------ equations
class CellEquations:
    """NEURON's equations dy/dt = f(y) of one cell, with y split per segment.

    Parameters
    ----------
    cell : LFPy.Cell
        The only cell in this NEURON process (LFPy deletes other sections).
    where : str
        Config key for error messages.

    Attributes
    ----------
    v_index : ndarray of int, shape (n_segments,)
        Position of each segment's membrane potential in y (LFPy's segment order).
    slots : ndarray of int, shape (n_segments, n_slots)
        Positions of each segment's states in y (-1 where a segment has fewer).
    owner : ndarray of int
        Segment of each entry of y.
    mechanism : list of str
        Mechanism of each entry of y (``"v"``; ``"<ion>_ion"`` for concentrations).
    variable : list of str
        NEURON's range variable of each entry of y (``v``, ``m_NaTa_t``, ``cai``).
    cm : ndarray
        Specific membrane capacitance of each segment (uF/cm2).
    """

    def __init__(self, cell, where="cell"):
        h = _neuron()
        self.h = h
        self.cvode = h.CVode()
        self.where = where
        self._was_active = self.cvode.active()
        self.cvode.active(1)
        segments = [seg for sec in cell.allseclist for seg in sec]
        h.finitialize(float(segments[0].v))
        self.segments = segments
        self.cm = np.array([seg.cm for seg in segments])
        candidates = [
            [("v", "v")] + [pair for m in seg for pair in _state_variables(h, m.name())]
            for seg in segments
        ]
        found = state_positions(self.cvode, segments, candidates)
        self.n = len(found)
        missing = [i for i, item in enumerate(found) if item is None]
        if missing:
            name = h.ref("")
            self.cvode.statename(missing[0], name, 0)
            raise ConfigError(
                where,
                f"state {name[0]} does not belong to a segment's density mechanism (point "
                "processes with states and array states cannot be linearized)",
            )
        self.owner = np.array([item[0] for item in found])
        self.variable = [item[1] for item in found]
        self.mechanism = [item[2] for item in found]
        is_v = np.array([m == "v" for m in self.mechanism])
        n_seg = len(segments)
        self.v_index = np.full(n_seg, -1)
        self.v_index[self.owner[is_v]] = np.flatnonzero(is_v)
        if np.any(self.v_index < 0):
            raise ConfigError(where, "a segment's membrane potential is not a NEURON state")
        per_segment = [[] for _ in range(n_seg)]
        for i in np.flatnonzero(~is_v):
            per_segment[self.owner[i]].append(i)
        n_slots = max((len(s) for s in per_segment), default=0)
        self.slots = np.full((n_seg, n_slots), -1)
        for i, states in enumerate(per_segment):
            self.slots[i, : len(states)] = states

    @property
    def n_segments(self):
        return self.v_index.size

    def state(self):
        """The current y (NEURON's v and states)."""
        y = self.h.Vector()
        self.cvode.ygather(y)
        return y.as_numpy().copy()

    def f(self, y):
        """dy/dt at y (mV/ms for v, state units per ms)."""
        ydot = self.h.Vector(self.n)
        self.cvode.f(0.0, self.h.Vector(y), ydot)
        return ydot.as_numpy().copy()

    def assign(self, y):
        """Set every v and state of the cell to y (works for the fixed-step solver too)."""
        for i, (value, var) in enumerate(zip(y, self.variable, strict=True)):
            setattr(self.segments[self.owner[i]], var, float(value))

    def close(self):
        self.cvode.active(self._was_active)

    # ----------------------------------------------------------------- jacobians
    def _steps(self, y):
        steps = np.full(self.n, STEP_V)
        states = self.slots[self.slots >= 0]
        steps[states] = STEP_STATE * np.maximum(np.abs(y[states]), STEP_FLOOR)
        return steps

    def _directions(self):
        """Index sets perturbed together: all v, then state slot k of every segment."""
        return [self.v_index] + [s[s >= 0] for s in self.slots.T]

    def local_jacobian(self, y, richardson=True):
        """The segment-local first-order terms at y.

        Returns
        -------
        LocalJacobian
        """
        steps = self._steps(y)
        n_seg, n_slots = self.slots.shape
        dv = np.zeros(self.n)  # d f / d v_own, per row
        ds = np.zeros((self.n, n_slots))  # d f / d (slot k of the row's segment)
        error = 0.0
        for k, index in enumerate(self._directions()):
            p = np.zeros(self.n)
            p[index] = steps[index]
            one = (self.f(y + p) - self.f(y - p)) / 2
            if richardson:
                two = (self.f(y + 2 * p) - self.f(y - 2 * p)) / 4
                derivative = (4 * one - two) / 3
                error = max(error, _relative(one - two, derivative))
            else:
                derivative = one
            # each row sees the perturbed variable of its own segment
            rows_segment = self.owner
            if k == 0:
                step = steps[self.v_index][rows_segment]
                dv = derivative / step
            else:
                column = self.slots[rows_segment, k - 1]
                valid = column >= 0
                ds[valid, k - 1] = derivative[valid] / steps[column[valid]]
        return LocalJacobian(self, dv, ds, error)

    def cable(self, y):
        """Axial coupling: sparse matrix (n_segments, n_segments) of d f_v,i / d v_j, the
        diagonal minus the sum of the off-diagonals (zero row sums)."""
        from scipy import sparse

        base = self.f(y)
        rows, cols, vals = [], [], []
        v_rows = self.v_index
        for j in range(self.n_segments):
            p = y.copy()
            p[self.v_index[j]] += STEP_CABLE
            change = (self.f(p) - base)[v_rows] / STEP_CABLE
            change[j] = 0.0
            nonzero = np.flatnonzero(change)
            rows += nonzero.tolist()
            cols += [j] * nonzero.size
            vals += change[nonzero].tolist()
        off = sparse.csr_matrix((vals, (rows, cols)), shape=(self.n_segments,) * 2)
        return off - sparse.diags(np.asarray(off.sum(axis=1)).ravel())


def _relative(difference, value):
    scale = np.abs(value).max()
    return float(np.abs(difference).max() / scale) if scale > 0 else 0.0


#: Marker values written into NEURON's variables to find them in CVODE's state vector.
_TOKEN = 1e7

_STATE_NAMES = {}


def _state_variables(h, mechanism):
    """(range variable, owner) of the STATE variables of a density mechanism on a
    segment; an ion's concentrations, which are states when a mechanism writes them."""
    if mechanism.endswith("_ion"):
        ion = mechanism[: -len("_ion")]
        return [(f"{ion}i", mechanism), (f"{ion}o", mechanism)]
    if mechanism not in _STATE_NAMES:
        standard = h.MechanismStandard(mechanism, 3)
        name = h.ref("")
        names = []
        for i in range(int(standard.count())):
            if standard.name(name, i) == 1:  # array states are not supported
                names.append(name[0])
        _STATE_NAMES[mechanism] = names
    return [(name, mechanism) for name in _STATE_NAMES[mechanism]]


def state_positions(cvode, segments, candidates):
    """Where variables of segments sit in CVODE's state vector.

    Every candidate variable is set to a distinct marker value, the state vector is
    read and the variables are restored (NEURON's ``statename`` takes time proportional
    to the number of states per call).

    Parameters
    ----------
    candidates : list of list of (variable, owner)
        Per segment the range variables that may be states.

    Returns
    -------
    list
        For each position of the state vector (segment, variable, owner), or None.
    """
    h = _neuron()
    tokens = []
    for i, seg in enumerate(segments):
        for variable, owner in candidates[i]:
            tokens.append((i, variable, owner, getattr(seg, variable)))
            setattr(seg, variable, _TOKEN + len(tokens) - 1)
    marked = h.Vector()
    cvode.ygather(marked)
    for i, variable, _, original in tokens:
        setattr(segments[i], variable, original)
    found = []
    for value in marked.as_numpy():
        k = int(round(value - _TOKEN))
        if 0 <= k < len(tokens) and value == _TOKEN + k:
            found.append(tokens[k][:3])
        else:
            found.append(None)
    return found


@dataclass
class LocalJacobian:
    """Segment-local first-order terms of a cell's equations at one point.

    ``dv[r]``: d f_r / d v of row r's segment; ``ds[r, k]``: d f_r / d (state in slot k of
    row r's segment); ``error``: estimated relative error of the extrapolated derivatives.
    """

    equations: CellEquations
    dv: np.ndarray
    ds: np.ndarray
    error: float

    def blocks(self, segment):
        """(G, a, c, A) of one segment: instantaneous conductance (S/cm2), d(states)/dv
        (per ms per mV), d(current)/d(states) (mA/cm2 per state unit), d(states)/d(states)
        (per ms)."""
        eq = self.equations
        v = eq.v_index[segment]
        slots = eq.slots[segment]
        slots = slots[slots >= 0]
        cm = eq.cm[segment]
        G = -1e-3 * cm * self.dv[v]
        c = -1e-3 * cm * self.ds[v, : slots.size]
        a = self.dv[slots]
        A = self.ds[np.ix_(slots, np.arange(slots.size))]
        return G, a, c, A

    def _padded(self, values):
        """Per segment the state block A (n_slots x n_slots, identity where a segment has
        fewer states) and ``values`` gathered per slot (zero where missing)."""
        eq = self.equations
        n_seg, n_slots = eq.slots.shape
        valid = eq.slots >= 0
        rows = np.where(valid, eq.slots, 0)
        blocks = self.ds[rows]  # (n_seg, n_slots, n_slots): row k = d f(slot k) / d slots
        blocks[~valid] = 0.0
        blocks *= valid[:, None, :]
        index = np.arange(n_slots)
        blocks[:, index, index] += ~valid
        return blocks, np.where(valid, values[rows], 0.0)

    def state_newton_step(self, y):
        """Newton step of the states towards their steady state at fixed v."""
        eq = self.equations
        f = eq.f(y)
        step = np.zeros(eq.n)
        if eq.slots.shape[1] == 0:
            return step, f
        blocks, rhs = self._padded(-f)
        solution = np.linalg.solve(blocks, rhs[..., None])[..., 0]
        valid = eq.slots >= 0
        step[eq.slots[valid]] = solution[valid]
        return step, f

    def dc_slope(self):
        """d f_v / d v per segment with the states at their steady state (per ms):
        dv_v - J_vs A^-1 a."""
        eq = self.equations
        out = self.dv[eq.v_index].copy()
        if eq.slots.shape[1] == 0:
            return out
        blocks, a = self._padded(self.dv)
        adapt = np.linalg.solve(blocks, a[..., None])[..., 0]
        return out - np.einsum("ik,ik->i", self.ds[eq.v_index], adapt)


# ------------------------------------------------------------------ operating point
def _settle_states(eq, y, where, max_iter=50):
    """The states' steady state at the v of y (Newton per segment)."""
    states = eq.slots[eq.slots >= 0]
    for _ in range(max_iter):
        jac = eq.local_jacobian(y, richardson=False)
        step, _ = jac.state_newton_step(y)
        y = y + step
        scale = np.maximum(np.abs(y[states]), STEP_FLOOR)
        if states.size == 0 or np.max(np.abs(step[states]) / scale) < NEWTON_TOL_S:
            return y
    raise ConfigError(
        where, "the mechanisms' states do not settle at the operating point (Newton diverged)"
    )


def steady_state(eq, y0, where, max_iter=200):
    """The rest of the cell: f(y) = 0, starting from y0 (NEURON's initial state).

    Newton on v with the states at their steady state for each v, damped by
    pseudo-transient continuation (the time step grows as the residual shrinks), so that
    it follows the cell's relaxation to the rest it reaches.
    """
    from scipy.sparse import diags
    from scipy.sparse.linalg import spsolve

    y = _settle_states(eq, y0.copy(), where)
    cable = eq.cable(y)
    v = eq.v_index
    dt, previous = 1.0, None
    for _ in range(max_iter):
        jac = eq.local_jacobian(y, richardson=False)
        residual = eq.f(y)[v]
        norm = float(np.abs(residual).max())
        J = cable + diags(jac.dc_slope())
        # at rest already (a passive cell without g_eff, at e_pas): the residual is
        # round-off that does not shrink, so the time step would never grow; the full
        # Newton step says how far the rest is
        if np.abs(spsolve(J.tocsc(), residual)).max() < NEWTON_TOL_V:
            return y, cable
        if previous is not None and norm > 0:
            dt = min(dt * previous / norm, 1e12)
        previous = norm
        step = spsolve((diags(np.full(v.size, 1.0 / dt)) - J).tocsc(), residual)
        y = y.copy()
        y[v] += step
        y = _settle_states(eq, y, where)
        if np.abs(step).max() < NEWTON_TOL_V and dt > 1e6:
            return y, cable
    raise ConfigError(
        where,
        "no steady state found (the active model with the g_eff conductances may fire "
        "or oscillate); use operating_point: uniform with a vrest, or check the model",
    )


def clamped_state(eq, y0, vrest, where):
    """Operating point with v clamped to ``vrest`` (per segment) and the states at their
    steady state there."""
    y = y0.copy()
    y[eq.v_index] = vrest
    y = _settle_states(eq, y, where)
    return y, eq.cable(y)


#: Systems up to this size get all their eigenvalues (dense, O(n^3)); larger ones the
#: growth test of :func:`fastest_growth`.
DENSE_EIGENVALUES = 1000
#: Growth rates (per ms) below this count as stable: such a mode would take more than
#: 100 s to grow e-fold, beyond any kernel's lags.
GROWTH_TOL = 1e-5


def fastest_growth(jacobian, seed=0):
    """Growth rate (per ms) of the fastest-growing solution of dy/dt = J y, from below.

    Power iteration on the Cayley transform (I - h J / 2)^-1 (I + h J / 2), the
    trapezoidal rule's step, at h = 0.5, 30 and 1000 ms: it maps eigenvalues with negative
    real part into the unit disk and those with positive real part outside it, whatever
    h, so a growing mode dominates the iterates; the rate is read from the last steps.
    Growing real modes (a resting cell losing stability to a depolarizing instability) are
    found down to rates of ~1e-6/ms; oscillatory ones only if they grow faster than
    ~1e-3/ms (their growth per step shrinks with h ``|Im lambda|``).
    """
    from scipy import sparse
    from scipy.sparse.linalg import splu

    n = jacobian.shape[0]
    rng = np.random.default_rng(seed)
    worst = -np.inf
    for h, steps in ((0.5, 3000), (30.0, 400), (1000.0, 1000)):
        step = splu((sparse.identity(n) - h / 2 * jacobian).tocsc())
        forward = (sparse.identity(n) + h / 2 * jacobian).tocsr()
        y = rng.standard_normal(n)
        y /= np.linalg.norm(y)
        logs = np.empty(steps)
        for k in range(steps):
            y = step.solve(forward @ y)
            norm = np.linalg.norm(y)
            logs[k] = np.log(norm)
            y /= norm
        # log |(1 + h lambda / 2) / (1 - h lambda / 2)| ~ h Re(lambda) for small h lambda
        worst = max(worst, float(np.mean(logs[-steps // 4 :])) / h)
    return worst


def check_stable(jacobian, where):
    """Raise ConfigError unless the linear system dy/dt = J y returns to rest: every
    eigenvalue has a negative real part (systems up to ``DENSE_EIGENVALUES`` unknowns), or
    no solution grows faster than ``GROWTH_TOL`` per ms (larger ones, see
    :func:`fastest_growth`)."""
    n = jacobian.shape[0]
    if n <= DENSE_EIGENVALUES:
        worst = float(np.max(np.linalg.eigvals(jacobian.toarray()).real))
        unstable = worst >= -1e-12
    else:
        worst = fastest_growth(jacobian)
        unstable = worst > GROWTH_TOL
    if unstable:
        raise ConfigError(
            where,
            f"the linearized cell is unstable at its operating point (growth rate "
            f"{worst:.3g}/ms: it would not return to rest; the active model fires or "
            "oscillates there)",
        )
    return worst


# ---------------------------------------------------------------- linearization
@dataclass
class Modes:
    """Quasi-active modes of a cell: one ``LinearMode`` each.

    Attributes
    ----------
    segment : ndarray of int
    tau : ndarray
        Time constant (ms).
    mu : ndarray
        Conductance density (S/cm2) of the current -mu x.
    """

    segment: np.ndarray
    tau: np.ndarray
    mu: np.ndarray

    @classmethod
    def none(cls):
        return cls(np.zeros(0, dtype=int), np.zeros(0), np.zeros(0))


@dataclass
class Linearization:
    """First-order terms of a cell around its operating point, per segment.

    Attributes
    ----------
    vrest : ndarray
        Membrane potential (mV) of each segment at the operating point.
    conductance : ndarray
        Instantaneous (frozen) conductance density of all mechanisms (S/cm2).
    passive_conductance : ndarray
        Conductance density of ``pas`` and ``geff`` alone (S/cm2).
    blocks : list of tuple
        Per segment (a, c, A, mechanisms of its states) of the states' dynamics.
    jacobian_error : float
        Estimated relative error of the finite-difference derivatives.
    mechanisms : set of str
        Mechanisms with states in the cell.
    """

    vrest: np.ndarray
    conductance: np.ndarray
    passive_conductance: np.ndarray
    blocks: list
    jacobian_error: float
    cable: object
    cm: np.ndarray
    mechanisms: set = field(default_factory=set)

    def save(self, path):
        """Write to an ``.npz`` file (atomically: a temporary file renamed)."""
        from pathlib import Path

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        sizes = np.array([a.size for a, _, _, _ in self.blocks], dtype=int)
        cable = self.cable.tocoo()
        tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.npz")
        np.savez(
            tmp,
            format=FORMAT,
            vrest=self.vrest,
            conductance=self.conductance,
            passive_conductance=self.passive_conductance,
            sizes=sizes,
            a=np.concatenate([b[0] for b in self.blocks] + [np.zeros(0)]),
            c=np.concatenate([b[1] for b in self.blocks] + [np.zeros(0)]),
            A=np.concatenate([b[2].ravel() for b in self.blocks] + [np.zeros(0)]),
            owners=np.array([o for b in self.blocks for o in b[3]] + [""], dtype=str),
            jacobian_error=self.jacobian_error,
            cable_row=cable.row,
            cable_col=cable.col,
            cable_data=cable.data,
            cm=self.cm,
        )
        os.replace(tmp, path)

    @classmethod
    def load(cls, path):
        """Read a file written by :meth:`save`; None if it is missing or unreadable."""
        from scipy import sparse

        try:
            with np.load(path) as data:
                if int(data["format"]) != FORMAT:
                    return None
                sizes = data["sizes"]
                a, c, A, owners = data["a"], data["c"], data["A"], list(data["owners"][:-1])
                blocks, i, j = [], 0, 0
                for n in sizes:
                    blocks.append(
                        (
                            a[i : i + n],
                            c[i : i + n],
                            A[j : j + n * n].reshape(n, n),
                            [str(o) for o in owners[i : i + n]],
                        )
                    )
                    i, j = i + n, j + n * n
                return cls(
                    vrest=data["vrest"],
                    conductance=data["conductance"],
                    passive_conductance=data["passive_conductance"],
                    blocks=blocks,
                    jacobian_error=float(data["jacobian_error"]),
                    cable=sparse.csr_matrix(
                        (data["cable_data"], (data["cable_row"], data["cable_col"])),
                        shape=(sizes.size, sizes.size),
                    ),
                    cm=data["cm"],
                    mechanisms={str(o) for o in owners},
                )
        except (OSError, KeyError, ValueError):
            return None

    def check_stable(self, conductance, modes, where="linearization"):
        """Raise ConfigError unless the linearized cell with this leak and these modes
        returns to rest (a positive leak without modes always does)."""
        if modes.tau.size == 0 and np.all(np.asarray(conductance) > 0):
            return None
        return check_stable(self.jacobian(conductance, modes), where)

    def jacobian(self, conductance, modes):
        """Jacobian (sparse) of the linearized cell: v of each segment (mV), then x of each
        mode; per ms."""
        from scipy import sparse

        n_seg, n_modes = self.vrest.size, modes.tau.size
        leak = 1e3 * np.asarray(conductance) / self.cm  # per ms
        coupling = 1e3 * modes.mu / self.cm[modes.segment]
        modes_index = n_seg + np.arange(n_modes)
        rows = np.concatenate([np.arange(n_seg), modes.segment, modes_index, modes_index])
        cols = np.concatenate([np.arange(n_seg), modes_index, modes.segment, modes_index])
        vals = np.concatenate([-leak, coupling, 1 / modes.tau, -1 / modes.tau])
        membrane = sparse.csr_matrix((vals, (rows, cols)), shape=(n_seg + n_modes,) * 2)
        cable = sparse.block_diag([self.cable, sparse.csr_matrix((n_modes, n_modes))])
        return (membrane + cable).tocsr()

    def modes(self, quasi_active, where="linearization"):
        """Modes of the states of the mechanisms for which ``quasi_active(mechanism)``
        is true (the others are frozen: their states held).

        Raises
        ------
        ConfigError
            If the states' dynamics are not a sum of real decaying modes.
        """
        segment, taus, mus = [], [], []
        for i, (a, c, A, owners) in enumerate(self.blocks):
            keep = np.array([quasi_active(m) for m in owners], dtype=bool)
            if not keep.any():
                continue
            a, c, A = a[keep], c[keep], A[np.ix_(keep, keep)]
            values, vectors = np.linalg.eig(A)
            if np.any(np.abs(values.imag) > 1e-9 * np.abs(values)):
                names = sorted({m for m, k in zip(owners, keep, strict=True) if k})
                raise ConfigError(
                    where,
                    f"the states of {', '.join(names)} oscillate around the operating point "
                    "(complex eigenvalues), which LinearMode cannot represent; freeze them",
                )
            values, vectors = values.real, vectors.real
            if np.any(values >= 0):
                names = sorted({m for m, k in zip(owners, keep, strict=True) if k})
                raise ConfigError(
                    where,
                    f"a state of {', '.join(names)} does not relax at the operating point "
                    "(eigenvalue >= 0); freeze it",
                )
            b = np.linalg.solve(vectors, a)
            tau = -1.0 / values
            mu = -(c @ vectors) * tau * b
            significant = np.abs(mu) > MODE_CUTOFF * abs(self.conductance[i])
            segment += [i] * int(significant.sum())
            taus += tau[significant].tolist()
            mus += mu[significant].tolist()
        return Modes(np.asarray(segment, dtype=int), np.asarray(taus), np.asarray(mus))


def operating_state(eq, operating_point, vrest=None, where="cell.biophysics"):
    """The full state y (v and states) of a cell's operating point, and its axial
    coupling (see :meth:`CellEquations.cable`).

    Parameters
    ----------
    eq : CellEquations
    operating_point : {"steady-state", "uniform"}
    vrest : ndarray, optional
        Membrane potential (mV) per segment of the uniform operating point.
    """
    y0 = eq.state()
    if operating_point == "uniform":
        return clamped_state(eq, y0, vrest, where)
    return steady_state(eq, y0, where)


def linearization_at(eq, y, cable, where="cell.biophysics"):
    """The :class:`Linearization` of a cell at its operating point y (checked stable)."""
    jac = eq.local_jacobian(y)
    eq.assign(y)
    blocks, mechanisms = [], set()
    conductance = np.empty(eq.n_segments)
    for i in range(eq.n_segments):
        G, a, c, A = jac.blocks(i)
        conductance[i] = G
        slots = eq.slots[i]
        owners = [eq.mechanism[s] for s in slots[slots >= 0]]
        mechanisms.update(owners)
        blocks.append((a, c, A, owners))
    passive = np.array(
        [
            (seg.pas.g if hasattr(seg, "pas") else 0.0)
            + (seg.geff.g if hasattr(seg, "geff") else 0.0)
            for seg in eq.segments
        ]
    )
    return Linearization(
        vrest=y[eq.v_index].copy(),
        conductance=conductance,
        passive_conductance=passive,
        blocks=blocks,
        jacobian_error=jac.error,
        cable=cable,
        cm=eq.cm.copy(),
        mechanisms=mechanisms,
    )


def linearize(cell, operating_point, vrest=None, where="cell.biophysics"):
    """Operating point and first-order terms of an active cell (its NEURON state is
    left at the operating point).

    Parameters
    ----------
    cell : LFPy.Cell
        With its mechanisms (and the ``geff`` conductance, if any) inserted.
    operating_point : {"steady-state", "uniform"}
    vrest : ndarray, optional
        Membrane potential (mV) per segment of the uniform operating point.

    Returns
    -------
    Linearization
    """
    eq = CellEquations(cell, where)
    try:
        y, cable = operating_state(eq, operating_point, vrest, where)
        return linearization_at(eq, y, cable, where)
    finally:
        eq.close()


# ------------------------------------------------------------------- realization
class LinearMembrane:
    """An active cell turned into its linearized twin, in place: its mechanisms replaced
    by ``pas`` (the frozen conductance) and one ``LinearMode`` per quasi-active mode.

    The twin is linear, so only deviations from the operating point matter: NEURON
    simulates them around a uniform reference potential (the operating point of the
    first segment, the soma's), at which every leak and mode rests -- no axial current
    flows at rest and the cell needs no settling. The operating point itself
    (``vrest``, per segment) is where the synapses are linearized.

    Parameters
    ----------
    cell : LFPy.Cell
    vrest : ndarray
        Operating point (mV) per segment.
    conductance : ndarray
        Leak conductance density (S/cm2) per segment.
    modes : Modes
    where : str
    """

    def __init__(self, cell, vrest, conductance, modes, where="cell.biophysics"):
        h = _neuron()
        self.vrest = np.asarray(vrest, dtype=float)
        self.reference = float(self.vrest[0])
        self.conductance = np.asarray(conductance, dtype=float)
        self.modes = modes
        segments = [seg for sec in cell.allseclist for seg in sec]
        for sec in cell.allseclist:
            for name in {m.name() for m in sec(0.5)}:
                if not name.endswith("_ion"):
                    sec.uninsert(name)
            sec.insert("pas")
        for seg, g in zip(segments, self.conductance, strict=True):
            seg.pas.g = g
            seg.pas.e = self.reference
        area = np.array([seg.area() for seg in segments])
        self.point_processes = []
        for i, tau, mu in zip(modes.segment, modes.tau, modes.mu, strict=True):
            mode = h.LinearMode(segments[i])
            mode.tau = tau
            mode.mu = mu * area[i] * 1e-2  # S/cm2 * um2 -> uS
            mode.vr = self.reference
            self.point_processes.append(mode)

    def initialize(self, h):
        """Put the cell at rest (``h.finitialize`` at the reference potential)."""
        h.finitialize(self.reference)

    def release(self):
        """Drop the point processes (before the sections are deleted)."""
        self.point_processes = []
