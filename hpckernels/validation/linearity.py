"""Where a linearization holds: the responses of an active cell and of its passive,
frozen and quasi-active linearizations to the synapses of one presynaptic spike, as the
input grows (Hagen et al. 2022, Fig 2).

The input is a number of synapses of pathway X -> Y spread over the segments by the
connection's placement pdf (as expected numbers per segment), all activated at one time.
The active model gets NEURON's conductance-based synapses and starts at its operating
point (the steady state with the g_eff conductances, or the uniform clamp); the
linearized cells get the current-based synapses linearized at that point, as in the
kernels. Responses are the deviations of the somatic membrane potential (mV) and of
every segment's membrane current (nA) from their values at rest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import cell as cellmod
from .. import linearization
from ..engines.common import SynapseSampler
from ..errors import ConfigError
from ..simulator import NeuronDriver
from ..synapses import synapse_model

#: The linearized membranes compared with the active model.
VARIANTS = ("passive", "frozen", "quasi-active")


@dataclass
class Traces:
    """Response of one cell to one input.

    Attributes
    ----------
    t : ndarray
        Time (ms) after the presynaptic spike.
    v_soma : ndarray
        Somatic membrane potential minus its rest value (mV).
    imem : ndarray, shape (n_segments, n_times)
        Membrane currents minus their rest values (nA).
    """

    t: np.ndarray
    v_soma: np.ndarray
    imem: np.ndarray


def r_squared(actual, expected):
    """Squared Pearson correlation of two responses (flattened)."""
    a, b = np.ravel(actual), np.ravel(expected)
    if a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1] ** 2)


class ResponseComparison:
    """The active cell of population ``post`` and its linearizations, driven by the
    synapses pathway ``pre`` -> ``post`` makes per presynaptic spike.

    Parameters
    ----------
    config : NetworkConfig
        ``post``'s biophysics must be ``active``.
    pre, post : str
    duration : float
        Time (ms) recorded after the spike.
    onset : float
        Time (ms) of the spike after the start (the rest before it is checked).
    """

    def __init__(self, config, pre, post, duration=50.0, onset=2.0):
        self.config = config
        self.pre, self.post = pre, post
        self.membrane = cellmod.population_biophysics(config, post)
        if self.membrane.name != "active":
            raise ConfigError(
                f"populations.{post}.cell.biophysics.type",
                "responses are compared for active cells only",
            )
        self.connection = config.connection(pre, post)
        self.synapse = synapse_model(self.connection["synapse"])
        if self.synapse.current_based:
            raise ConfigError(
                f"connections[{config.connections.index(self.connection)}].synapse",
                "the active model needs conductance-based synapses",
            )
        self.dt = config.simulation["dt"]
        self.onset = onset
        self.tstop = onset + duration
        self.linearization = None

    def _cell(self):
        return cellmod.build_cell(self.config, self.post, self.tstop)

    def _conductance(self, cell):
        if not self.config.simulation["g_eff"]:
            return np.zeros(cell.totnsegs), np.zeros(cell.totnsegs)
        return cellmod.effective_conductance(self.config, self.post, cell)

    def active(self, synapses):
        """Responses of the active model to each number of ``synapses`` (one
        :class:`Traces` each); keeps its linearization for :meth:`linear`."""
        cell = self._cell()
        self.membrane.add_conductance(cell, *self._conductance(cell))
        eq = linearization.CellEquations(cell, self.membrane.where)
        try:
            vrest = None
            if self.membrane.operating_point == "uniform":
                vrest = self.membrane.rest_vrest(cell.totnsegs)
            y, cable = linearization.operating_state(
                eq, self.membrane.operating_point, vrest, self.membrane.where
            )
            self.linearization = linearization.linearization_at(eq, y, cable, self.membrane.where)
        finally:
            eq.close()
        from neuron import h

        placement = SynapseSampler.from_cell(self.config, self.pre, self.post, cell).placement
        handler = h.FInitializeHandler(1, lambda: eq.assign(y))
        try:
            return [
                self._simulate(
                    cell,
                    lambda seg: self.synapse.insert_conductance(h, seg),
                    count * self.synapse.weight * placement,
                    lambda: h.finitialize(float(y[eq.v_index[0]])),
                )
                for count in synapses
            ]
        finally:
            del handler
            cell.strip_hoc_objects()

    def linear(self, variant, synapses):
        """Responses of a linearized cell (``passive``, ``frozen`` or ``quasi-active``) at
        the active model's operating point to each number of ``synapses``; call
        :meth:`active` first."""
        from neuron import h

        lin = self.linearization
        if variant == "passive":
            conductance, modes = lin.passive_conductance, linearization.Modes.none()
        elif variant == "frozen":
            conductance, modes = lin.conductance, linearization.Modes.none()
        elif variant == "quasi-active":
            conductance, modes = lin.conductance, lin.modes(lambda m: True, self.membrane.where)
        else:
            raise ValueError(f"unknown variant {variant}; one of {VARIANTS}")
        cell = self._cell()
        membrane = linearization.LinearMembrane(
            cell, lin.vrest, conductance, modes, self.membrane.where
        )
        placement = SynapseSampler.from_cell(self.config, self.pre, self.post, cell).placement
        current = self.synapse.linearized_weight(lin.vrest)
        try:
            return [
                self._simulate(
                    cell,
                    lambda seg: self.synapse.insert_current(h, seg),
                    count * current * placement,
                    lambda: membrane.initialize(h),
                )
                for count in synapses
            ]
        finally:
            membrane.release()
            cell.strip_hoc_objects()

    def _simulate(self, cell, make_synapse, weights, initialize):
        """One run: a synapse with its weight on every segment that gets input, all
        activated at ``onset``; traces from the onset on, minus their values there."""
        driver = NeuronDriver(cell, lambda h: initialize(), [_soma(cell)._ref_v])
        try:
            events = []
            for seg, weight in zip(driver.segments, weights, strict=True):
                if weight != 0:
                    events.append((driver.add_synapse(make_synapse(seg), weight), [self.onset]))
            driver.set_events(events)
            recorded = driver.run(int(round(self.tstop / self.dt)), self.dt)
        finally:
            driver.release()
        start = int(round(self.onset / self.dt))
        v = recorded[-1, start:].copy()
        imem = recorded[:-1, start:]
        drift = float(np.abs(recorded[-1, :start] - v[0]).max()) if start else 0.0
        if drift > 1e-6:
            raise RuntimeError(f"the cell is not at rest before the input ({drift} mV)")
        t = np.arange(v.size) * self.dt
        return Traces(t, v - v[0], imem - imem[:, :1])


def _soma(cell):
    """The middle segment of the cell's first soma section (else of its first section)."""
    for sec in cell.allseclist:
        if "soma" in sec.name():
            return sec(0.5)
    return next(iter(cell.allseclist))(0.5)
