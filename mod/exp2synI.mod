COMMENT
Current-based twin of NEURON's Exp2Syn: a difference of exponentials
whose amplitude does not depend on the membrane potential.

Used for synapses linearized around a resting potential V_R: a conductance
synapse of peak conductance g (uS) and reversal potential E becomes a current
synapse of peak current weight = -g * (V_R - E) (nA). A positive weight is an
inward (depolarizing) current, so the outward NONSPECIFIC_CURRENT is negative.
The peak of a single event equals the weight, as for Exp2Syn.
ENDCOMMENT

NEURON {
    POINT_PROCESS Exp2SynI
    RANGE tau1, tau2, i
    NONSPECIFIC_CURRENT i
}

UNITS {
    (nA) = (nanoamp)
    (mV) = (millivolt)
}

PARAMETER {
    tau1 = 0.1 (ms) <1e-9,1e9>
    tau2 = 10 (ms) <1e-9,1e9>
}

ASSIGNED {
    v (mV)
    i (nA)
    peak_scale
}

STATE {
    rise (nA)
    decay (nA)
}

INITIAL {
    LOCAL t_peak
    : equal time constants make the normalisation singular; nudge as Exp2Syn does
    if (tau1 / tau2 > 0.9999) {
        tau1 = 0.9999 * tau2
    }
    rise = 0
    decay = 0
    t_peak = (tau1 * tau2) / (tau2 - tau1) * log(tau2 / tau1)
    peak_scale = 1 / (exp(-t_peak / tau2) - exp(-t_peak / tau1))
}

BREAKPOINT {
    SOLVE kinetics METHOD cnexp
    i = decay - rise
}

DERIVATIVE kinetics {
    rise' = -rise / tau1
    decay' = -decay / tau2
}

NET_RECEIVE(weight (nA)) {
    rise = rise - weight * peak_scale
    decay = decay - weight * peak_scale
}
