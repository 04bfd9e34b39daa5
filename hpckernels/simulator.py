"""The one NEURON driver: synaptic events onto a cell, fixed-step runs, membrane currents.

Every NEURON simulation of hpckernels goes through :class:`NeuronDriver`: the kernel
engines (one linearized cell driven by the expected synapses of a spike, by a
realization, or by one unit event per segment), the ground truth (detailed or
linearized cells driven by the network's spikes) and the linearization check (an
active cell and its linearizations). The driver owns the event sources (one NetCon
per point process), queues their events after ``finitialize`` has cleared NEURON's
queue, steps with a fixed ``dt`` in a HOC loop and gathers every segment's membrane
current (``i_membrane_``, nA; plus optional extra pointers such as the soma's
potential) after each step into one Vector: one conversion to numpy per run or chunk
instead of one per segment.

Not ``ParallelContext.psolve``: once MPI is initialised it is a collective that
exchanges spikes between ranks, and ranks run different numbers of simulations.
"""

from __future__ import annotations

from .cell import segments

#: HOC procedure of :meth:`NeuronDriver.run`: ``$1`` steps, pointers ``$o2``, step buffer
#: ``$o3``, output ``$o4``; with ``$5`` the state after ``finitialize`` is gathered first.
_ADVANCE_GATHER = (
    "proc hpckernels_advance_gather() { local i, n, k\n"
    "  n = $o2.size()\n"
    "  k = 0\n"
    "  if ($5) {\n"
    "    $o2.gather($o3)\n"
    "    $o4.copy($o3, 0)\n"
    "    k = 1\n"
    "  }\n"
    "  for i = 1, $1 {\n"
    "    fadvance()\n"
    "    $o2.gather($o3)\n"
    "    $o4.copy($o3, k * n)\n"
    "    k += 1\n"
    "  }\n"
    "}\n"
)


class NeuronDriver:
    """Synaptic events onto one NEURON cell and fixed-step runs that record its membrane
    currents.

    Parameters
    ----------
    cell : LFPy.Cell
        The cell (linearized or detailed, as built by :mod:`hpckernels.cell`).
    initialize : callable
        ``initialize(h)`` puts the cell in its initial state (``h.finitialize(...)``);
        events are queued right after it.
    extra : sequence of NEURON pointers, optional
        More variables recorded after the membrane currents (e.g. ``seg._ref_v``).

    Attributes
    ----------
    n_segments : int
    """

    def __init__(self, cell, initialize, extra=()):
        from neuron import h

        self._initialize = initialize
        self.segments = segments(cell)
        self.n_segments = len(self.segments)
        h.load_file("stdrun.hoc")
        h.cvode.use_fast_imem(1)
        self._pointers = h.PtrVector(self.n_segments + len(extra))
        for index, segment in enumerate(self.segments):
            self._pointers.pset(index, segment._ref_i_membrane_)
        for index, pointer in enumerate(extra, self.n_segments):
            self._pointers.pset(index, pointer)
        self.synapses, self.netcons = [], []
        self._pending = []
        self._handler = h.FInitializeHandler(1, self._queue_events)

    # ---------------------------------------------------------------- synapses
    def add_synapse(self, point_process, weight=0.0):
        """Drive ``point_process`` by an event source of weight ``weight``; its index."""
        from neuron import h

        netcon = h.NetCon(None, point_process)
        netcon.weight[0] = weight
        self.synapses.append(point_process)
        self.netcons.append(netcon)
        return len(self.netcons) - 1

    def set_events(self, events):
        """Events of the next run: ``[(synapse index, times (ms)), ...]`` (repeated
        times are repeated events), replacing earlier ones."""
        self._pending = [(index, list(times)) for index, times in events]

    def _queue_events(self):
        # called by NEURON after finitialize cleared the event queue
        for index, times in self._pending:
            event = self.netcons[index].event
            for t in times:
                event(t)

    # ------------------------------------------------------------------- runs
    def _start(self, dt):
        from neuron import h

        if not hasattr(h, "hpckernels_advance_gather"):
            h(_ADVANCE_GATHER)
        h.cvode.active(0)
        h.cvode.use_fast_imem(1)
        h.dt = dt
        self._initialize(h)
        return h

    def _advance(self, h, n_steps, with_initial):
        size = int(self._pointers.size())
        rows = n_steps + (1 if with_initial else 0)
        step, values = h.Vector(size), h.Vector(rows * size)
        h.hpckernels_advance_gather(n_steps, self._pointers, step, values, int(with_initial))
        return values.as_numpy().reshape(rows, size).T.copy()

    def run(self, n_steps, dt):
        """Simulate ``n_steps`` fixed steps of ``dt`` (ms) from the initial state.

        Returns
        -------
        ndarray, shape (n_segments + n_extra, n_steps + 1)
            Membrane currents (nA; then the extra variables) at times 0, dt, ...,
            n_steps dt.
        """
        h = self._start(dt)
        return self._advance(h, n_steps, True)

    def run_chunks(self, n_steps, dt, chunk):
        """:meth:`run` in pieces of at most ``chunk + 1`` recorded times (bounded memory).

        Yields
        ------
        (int, ndarray)
            Index of the first recorded time of the piece, and the piece (rows as
            :meth:`run`).
        """
        h = self._start(dt)
        done, first = 0, True
        while first or done < n_steps:
            steps = min(chunk, n_steps - done)
            yield (0 if first else done + 1), self._advance(h, steps, first)
            done += steps
            first = False

    def release(self):
        """Drop the driver's NEURON objects (before the cell's sections are deleted)."""
        self._handler = None
        self._pending, self.netcons, self.synapses, self.segments = [], [], [], []
        self._pointers = None
