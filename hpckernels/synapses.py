"""Synapse models and their linearization around a membrane potential.

A conductance synapse ``I = w s(t) (V - E)`` (outward positive) with peak-normalised
time course ``s`` and peak conductance ``w`` (uS) is replaced, around the
potential ``V_R``, by the current synapse ``I = w (V_R - E) s(t)``: the
current-based NEURON mechanism of ``mod/`` with peak current ``-w (V_R - E)`` nA
(positive is inward). Its mean conductance over time, ``w * rate * integral(s)``,
can be added to the leak (``g_eff``, Hagen et al. 2022, Eq. 7).

One class per synapse type of the config (``synapse.type``), registered in
:data:`SYNAPSE_MODELS`; its schema entry lists the type's parameters.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .errors import ConfigError
from .registry import Registry

#: Synapse types of the config by name.
SYNAPSE_MODELS = Registry("synapse type")


class SynapseModel:
    """A synapse of the config: kinetics, weight and reversal potential.

    Parameters
    ----------
    spec : dict
        Config entry: ``type``, ``weight`` (uS, or nA when ``current_based``), the
        type's time constants (ms), ``e`` (mV, conductance-based only) and
        ``current_based`` (default False).

    Attributes
    ----------
    name : str
        The config's ``type``.
    time_constants : tuple of str
        Names of the type's time constants (ms); NEURON parameter names too.
    conductance_mechanism : str
        NEURON point process of the conductance synapse (for detailed simulations).
    current_mechanism : str
        Current-based twin in ``mod/`` whose NET_RECEIVE weight is the peak current (nA).
    """

    name: ClassVar[str]
    time_constants: ClassVar[tuple]
    conductance_mechanism: ClassVar[str]
    current_mechanism: ClassVar[str]

    def __init__(self, spec):
        self.spec = spec
        self.weight = float(spec["weight"])
        self.current_based = bool(spec.get("current_based", False))
        self.e = None if "e" not in spec else float(spec["e"])
        self.taus = {key: float(spec[key]) for key in self.time_constants}

    def check(self, where, g_eff):
        """Raise ConfigError for combinations the schema cannot express."""
        if self.current_based:
            if self.e is not None:
                raise ConfigError(
                    f"{where}.e", "a current-based synapse has no reversal potential"
                )
            if g_eff:
                raise ConfigError(
                    f"{where}.current_based",
                    "current-based synapses need simulation.g_eff: false "
                    "(their conductance is unknown)",
                )
        elif self.e is None:
            raise ConfigError(
                f"{where}.e",
                "required for a conductance-based synapse (or set current_based: true)",
            )
        elif not self.weight > 0:
            raise ConfigError(
                f"{where}.weight",
                f"{self.weight} uS: a conductance is > 0 (the sign of a synapse's effect is "
                "its reversal potential e; a signed current needs current_based: true)",
            )

    def kinetics(self):
        """Hashable description of the time course: (type, time constants)."""
        return (self.name, *sorted(self.taus.items()))

    def time_course(self, t):
        """Peak-normalised time course s(t) (dimensionless) at times ``t`` (ms) >= 0."""
        raise NotImplementedError

    def time_course_integral(self):
        """Integral over time of the peak-normalised time course (ms)."""
        raise NotImplementedError

    def linearized_weight(self, vrest):
        """Peak current (nA) of the current-based twin at ``vrest`` (mV); positive is inward.

        Parameters
        ----------
        vrest : float or ndarray
            Membrane potential (mV) of the linearization, scalar or per segment.
        """
        if self.current_based:
            return np.broadcast_to(self.weight, np.shape(vrest)).astype(float)
        return -self.weight * (np.asarray(vrest, dtype=float) - self.e)

    def event_states(self, weight=1.0):
        """The current-based mechanism (``current_mechanism``) as a linear system: its
        states after one event of ``weight`` (nA) from rest, their time constants and
        the outward current of each state.

        Every state relaxes to zero, ``x' = -x / tau``, and the mechanism's outward
        current (nA) is ``output @ x`` (what its NMODL file says).

        Returns
        -------
        initial : ndarray, shape (n_states,)
            States (nA) right after the event.
        tau : ndarray, shape (n_states,)
            Time constants (ms).
        output : ndarray, shape (n_states,)
            Outward current (nA) per nA of each state.
        """
        raise NotImplementedError

    def mean_conductance(self, rate):
        """Time-averaged conductance (uS) of one synapse activated at ``rate`` (spikes/s)."""
        # uS * ms * (1/s) = 1e-3 uS
        return 1e-3 * abs(self.weight) * self.time_course_integral() * rate

    def leak_shift(self, rate, synapses_per_segment, area):
        """Mean conductance density (S/cm2) of these synapses, to add to the leak.

        Parameters
        ----------
        rate : float
            Activation rate of each synapse (spikes/s).
        synapses_per_segment : ndarray
            Expected number of such synapses on each segment.
        area : ndarray
            Segment membrane areas (um2).

        Returns
        -------
        ndarray
            Conductance density (S/cm2) per segment.
        """
        # uS / um2 = 1e-6 S / 1e-8 cm2 = 100 S/cm2
        return 100.0 * self.mean_conductance(rate) * synapses_per_segment / area

    def insert_current(self, h, segment):
        """The current-based point process on a NEURON segment (weight set per event)."""
        return self._insert(h, self.current_mechanism, segment)

    def insert_conductance(self, h, segment):
        """The conductance-based point process (NEURON's own) with this reversal potential."""
        synapse = self._insert(h, self.conductance_mechanism, segment)
        synapse.e = self.e
        return synapse

    def _insert(self, h, mechanism, segment):
        synapse = getattr(h, mechanism)(segment)
        for key, value in self.taus.items():
            setattr(synapse, key, value)
        return synapse


@SYNAPSE_MODELS.register
class Exp2Syn(SynapseModel):
    """Difference of exponentials, NEURON's ``Exp2Syn``: rise ``tau1`` < decay ``tau2`` (ms).

    s(t) = (exp(-t/tau2) - exp(-t/tau1)) / s_peak, with s_peak its maximum.
    """

    name = "Exp2Syn"
    time_constants = ("tau1", "tau2")
    conductance_mechanism = "Exp2Syn"
    current_mechanism = "Exp2SynI"

    def check(self, where, g_eff):
        if not self.taus["tau1"] < self.taus["tau2"]:
            raise ConfigError(
                f"{where}.tau1", "rise time tau1 must be smaller than decay time tau2"
            )
        super().check(where, g_eff)

    def _peak(self):
        tau1, tau2 = self.taus["tau1"], self.taus["tau2"]
        t_peak = tau1 * tau2 / (tau2 - tau1) * np.log(tau2 / tau1)
        return np.exp(-t_peak / tau2) - np.exp(-t_peak / tau1)

    def time_course(self, t):
        t = np.asarray(t, dtype=float)
        tau1, tau2 = self.taus["tau1"], self.taus["tau2"]
        return (np.exp(-t / tau2) - np.exp(-t / tau1)) / self._peak()

    def time_course_integral(self):
        # integral of exp(-t/tau2) - exp(-t/tau1) is tau2 - tau1
        return (self.taus["tau2"] - self.taus["tau1"]) / self._peak()

    def event_states(self, weight=1.0):
        """``Exp2SynI`` (mod/exp2synI.mod): states rise (tau1) and decay (tau2) both
        jump by -weight peak_scale, the outward current is decay - rise (see
        :meth:`SynapseModel.event_states`)."""
        tau1, tau2 = self.taus["tau1"], self.taus["tau2"]
        if tau1 / tau2 > 0.9999:  # the mechanism's INITIAL block
            tau1 = 0.9999 * tau2
        t_peak = (tau1 * tau2) / (tau2 - tau1) * np.log(tau2 / tau1)
        peak_scale = 1.0 / (np.exp(-t_peak / tau2) - np.exp(-t_peak / tau1))
        jump = -weight * peak_scale
        return np.array([jump, jump]), np.array([tau1, tau2]), np.array([-1.0, 1.0])


@SYNAPSE_MODELS.register
class ExpSyn(SynapseModel):
    """Single exponential decay, NEURON's ``ExpSyn``: s(t) = exp(-t/tau), tau in ms."""

    name = "ExpSyn"
    time_constants = ("tau",)
    conductance_mechanism = "ExpSyn"
    current_mechanism = "ExpSynI"

    def time_course(self, t):
        return np.exp(-np.asarray(t, dtype=float) / self.taus["tau"])

    def time_course_integral(self):
        return self.taus["tau"]

    def event_states(self, weight=1.0):
        """``ExpSynI`` (mod/expsynI.mod): the amplitude jumps by weight, the outward
        current is -amplitude (see :meth:`SynapseModel.event_states`)."""
        return np.array([float(weight)]), np.array([self.taus["tau"]]), np.array([-1.0])


def synapse_model(spec, where="synapse"):
    """The :class:`SynapseModel` of a config synapse entry."""
    return SYNAPSE_MODELS.lookup(spec["type"], f"{where}.type")(spec)
