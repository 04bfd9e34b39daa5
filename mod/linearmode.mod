COMMENT
One mode of a quasi-active (first-order) linearized membrane, in the form of
Remme and Rinzel's linearized channels: a state x (mV) that relaxes towards the
deviation of the membrane potential from the operating point vr with time
constant tau,

    dx/dt = (v - vr - x) / tau,

and contributes the outward current i = -mu x (nA). A segment carries one
LinearMode per mode of its linearized gating and concentration dynamics
(hpckernels.linearization); at the operating point x = 0 and i = 0. The
conductance mu (uS) may have either sign: mu > 0 amplifies (e.g. Ih), mu < 0
opposes the deviation. Integrated with cnexp, exactly as a hand-written
linearized channel.
ENDCOMMENT

NEURON {
    POINT_PROCESS LinearMode
    RANGE tau, mu, vr, i
    NONSPECIFIC_CURRENT i
}

UNITS {
    (nA) = (nanoamp)
    (mV) = (millivolt)
    (uS) = (microsiemens)
}

PARAMETER {
    tau = 1 (ms) <1e-12,1e12>
    mu = 0 (uS)
    vr = -65 (mV)
}

ASSIGNED {
    v (mV)
    i (nA)
}

STATE {
    x (mV)
}

INITIAL {
    x = 0
}

BREAKPOINT {
    SOLVE relax METHOD cnexp
    i = -mu * x
}

DERIVATIVE relax {
    x' = (v - vr - x) / tau
}
