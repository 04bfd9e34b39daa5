COMMENT
Reference for tests only: SKv3_1 of config/mechanisms/hay_l5pc frozen by hand at V_R,
g = gbar m_inf.
ENDCOMMENT

NEURON {
    SUFFIX SKv3_1_frozen
    USEION k READ ek WRITE ik
    RANGE gSKv3_1bar, V_R, ik
}

UNITS {
    (S) = (siemens)
    (mV) = (millivolt)
    (mA) = (milliamp)
}

PARAMETER {
    gSKv3_1bar = 0.00001 (S/cm2)
    V_R = -65 (mV)
}

ASSIGNED {
    v (mV)
    ek (mV)
    ik (mA/cm2)
    g (S/cm2)
}

BREAKPOINT {
    ik = g * (v - ek)
}

INITIAL {
    g = gSKv3_1bar / (1 + exp(-(V_R - 18.7) / 9.7))
}
