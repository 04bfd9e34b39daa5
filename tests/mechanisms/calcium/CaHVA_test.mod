COMMENT
Test model only: a high-voltage-activated calcium current g = gbar m^2 h with Boltzmann
steady states and constant time constants, reversal from the calcium concentrations.
ENDCOMMENT

NEURON {
    SUFFIX CaHVA_test
    USEION ca READ eca WRITE ica
    RANGE gbar, ica
}

UNITS {
    (S) = (siemens)
    (mV) = (millivolt)
    (mA) = (milliamp)
}

PARAMETER {
    gbar = 0.001 (S/cm2)
}

ASSIGNED {
    v (mV)
    eca (mV)
    ica (mA/cm2)
    minf
    hinf
}

STATE {
    m
    h
}

BREAKPOINT {
    SOLVE gates METHOD cnexp
    ica = gbar * m * m * h * (v - eca)
}

DERIVATIVE gates {
    rates(v)
    m' = (minf - m) / 1.5 (ms)
    h' = (hinf - h) / 60 (ms)
}

INITIAL {
    rates(v)
    m = minf
    h = hinf
}

PROCEDURE rates(v (mV)) {
    UNITSOFF
    minf = 1 / (1 + exp(-(v + 50) / 6))
    hinf = 1 / (1 + exp((v + 60) / 8))
    UNITSON
}
