COMMENT
Reference for tests only: Nap_Et2 of config/mechanisms/hay_l5pc frozen by hand at V_R,
g = gbar m_inf^3 h_inf.
ENDCOMMENT

NEURON {
    SUFFIX Nap_Et2_frozen
    USEION na READ ena WRITE ina
    RANGE gNap_Et2bar, V_R, ina
}

UNITS {
    (S) = (siemens)
    (mV) = (millivolt)
    (mA) = (milliamp)
}

PARAMETER {
    gNap_Et2bar = 0.00001 (S/cm2)
    V_R = -65 (mV)
}

ASSIGNED {
    v (mV)
    ena (mV)
    ina (mA/cm2)
    g (S/cm2)
}

BREAKPOINT {
    ina = g * (v - ena)
}

INITIAL {
    LOCAL m, h
    m = 1 / (1 + exp(-(V_R + 52.6) / 4.6))
    h = 1 / (1 + exp((V_R + 48.8) / 10))
    g = gNap_Et2bar * m * m * m * h
}
