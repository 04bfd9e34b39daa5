"""Synapse models and their linearization around a resting potential.

A conductance synapse ``I = g(t) (V - E)`` with ``g(t) = w s(t)`` (peak-normalised
time course ``s``) is replaced by the current synapse ``I = w (V_R - E) s(t)``
(outward positive), i.e. by the current-based mechanism with peak current
``-w (V_R - E)`` nA. Its mean conductance, ``w * rate * integral(s)``, can be
added to the leak (``g_eff``).
"""

from __future__ import annotations

import numpy as np

from .errors import ConfigError

#: Current-based mechanism (in ``mod/``) for each synapse type of the config.
CURRENT_MECHANISM = {"Exp2Syn": "Exp2SynI", "ExpSyn": "ExpSynI"}

#: Time-constant parameters of each synapse type.
TIME_CONSTANTS = {"Exp2Syn": ("tau1", "tau2"), "ExpSyn": ("tau",)}


def check(synapse, where, g_eff):
    """Raise ConfigError if a synapse spec is incomplete or inconsistent."""
    kind = synapse["type"]
    needed = TIME_CONSTANTS[kind]
    for key in needed:
        if key not in synapse:
            raise ConfigError(f"{where}.{key}", f"required for a {kind} synapse")
    for key in set(sum(TIME_CONSTANTS.values(), ())) - set(needed):
        if key in synapse:
            raise ConfigError(f"{where}.{key}", f"not a parameter of {kind}; "
                                                f"allowed: {', '.join(needed)}")
    if kind == "Exp2Syn" and not synapse["tau1"] < synapse["tau2"]:
        raise ConfigError(f"{where}.tau1", "rise time tau1 must be smaller than decay time tau2")
    if synapse["current_based"]:
        if "e" in synapse:
            raise ConfigError(f"{where}.e", "a current-based synapse has no reversal potential")
        if g_eff:
            raise ConfigError(f"{where}.current_based",
                              "current-based synapses need simulation.g_eff: false "
                              "(their conductance is unknown)")
    elif "e" not in synapse:
        raise ConfigError(f"{where}.e", "required for a conductance-based synapse "
                                        "(or set current_based: true)")


def time_course_integral(synapse):
    """Integral over time of the peak-normalised synaptic time course (ms).

    Exp2Syn: s(t) = (exp(-t/tau2) - exp(-t/tau1)) / s_peak, whose integral is
    (tau2 - tau1) / s_peak; ExpSyn: s(t) = exp(-t/tau), integral tau.
    """
    if synapse["type"] == "ExpSyn":
        return float(synapse["tau"])
    tau1, tau2 = float(synapse["tau1"]), float(synapse["tau2"])
    t_peak = tau1 * tau2 / (tau2 - tau1) * np.log(tau2 / tau1)
    s_peak = np.exp(-t_peak / tau2) - np.exp(-t_peak / tau1)
    return (tau2 - tau1) / s_peak


def linearized_weight(synapse, vrest):
    """Peak current (nA) of the current-based twin; positive is inward.

    Parameters
    ----------
    synapse : dict
        Synapse spec; ``weight`` in uS (conductance) or nA (``current_based``).
    vrest : float or ndarray
        Membrane potential (mV) of the linearization, scalar or per segment.
    """
    if synapse["current_based"]:
        return np.broadcast_to(float(synapse["weight"]), np.shape(vrest)).astype(float)
    return -synapse["weight"] * (np.asarray(vrest, dtype=float) - synapse["e"])


def mechanism_parameters(synapse):
    """NEURON mechanism name and its time-constant parameters."""
    return CURRENT_MECHANISM[synapse["type"]], {
        key: float(synapse[key]) for key in TIME_CONSTANTS[synapse["type"]]}


def leak_shift(synapse, rate, synapses_per_segment, area):
    """Mean synaptic conductance per membrane area (S/cm2) to add to g_pas.

    Parameters
    ----------
    synapse : dict
        Synapse spec, weight in uS.
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
    # uS * ms * (1/s) / um2 = 1e-6 S * 1e-3 / 1e-8 cm2 = 0.1 S/cm2
    mean_conductance = abs(synapse["weight"]) * time_course_integral(synapse) * rate
    return 0.1 * mean_conductance * synapses_per_segment / area
