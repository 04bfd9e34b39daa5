COMMENT
Test model only: a calcium-activated potassium current g = gbar z, z relaxing with a
1-ms time constant to a Hill function of the calcium concentration (no voltage
dependence: its state couples to the membrane through calcium only).
ENDCOMMENT

NEURON {
    SUFFIX SKCa_test
    USEION k READ ek WRITE ik
    USEION ca READ cai
    RANGE gbar, ik
}

UNITS {
    (S) = (siemens)
    (mV) = (millivolt)
    (mA) = (milliamp)
    (molar) = (1/liter)
    (mM) = (millimolar)
}

PARAMETER {
    gbar = 0.002 (S/cm2)
}

ASSIGNED {
    v (mV)
    ek (mV)
    ik (mA/cm2)
    cai (mM)
    zinf
}

STATE {
    z
}

BREAKPOINT {
    SOLVE gates METHOD cnexp
    ik = gbar * z * (v - ek)
}

DERIVATIVE gates {
    rates(cai)
    z' = (zinf - z) / 1 (ms)
}

INITIAL {
    rates(cai)
    z = zinf
}

PROCEDURE rates(ca (mM)) {
    UNITSOFF
    zinf = 1 / (1 + (0.00043 / ca)^4.8)
    UNITSON
}
