COMMENT
Current-based twin of NEURON's ExpSyn: an instantaneous rise followed by a
single exponential decay with time constant tau (ms). A positive weight (nA)
is an inward (depolarizing) peak current.
ENDCOMMENT

NEURON {
    POINT_PROCESS ExpSynI
    RANGE tau, i
    NONSPECIFIC_CURRENT i
}

UNITS {
    (nA) = (nanoamp)
    (mV) = (millivolt)
}

PARAMETER {
    tau = 0.1 (ms) <1e-9,1e9>
}

ASSIGNED {
    v (mV)
    i (nA)
}

STATE {
    amplitude (nA)
}

INITIAL {
    amplitude = 0
}

BREAKPOINT {
    SOLVE kinetics METHOD cnexp
    i = -amplitude
}

DERIVATIVE kinetics {
    amplitude' = -amplitude / tau
}

NET_RECEIVE(weight (nA)) {
    amplitude = amplitude + weight
}
