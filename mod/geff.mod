COMMENT
Mean conductance of a cell's synaptic input (g_eff, Hagen et al. 2022) as a
membrane conductance density g (S/cm2) with reversal potential e (mV): the
conductance-weighted mean reversal potential of the synapses. Inserted into
active models, whose operating point then moves as it does in a network.
ENDCOMMENT

NEURON {
    SUFFIX geff
    NONSPECIFIC_CURRENT i
    RANGE g, e, i
}

UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (S) = (siemens)
}

PARAMETER {
    g = 0 (S/cm2) <0,1e9>
    e = 0 (mV)
}

ASSIGNED {
    v (mV)
    i (mA/cm2)
}

BREAKPOINT {
    i = g * (v - e)
}
