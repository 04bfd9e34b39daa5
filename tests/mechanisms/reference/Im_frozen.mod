COMMENT
Reference for tests only: Im of config/mechanisms/hay_l5pc frozen by hand at V_R,
g = gbar m_inf, m_inf = a / (a + b) with a, b = 3.3e-3 exp(+-0.1 (V_R + 35)).
ENDCOMMENT

NEURON {
    SUFFIX Im_frozen
    USEION k READ ek WRITE ik
    RANGE gImbar, V_R, ik
}

UNITS {
    (S) = (siemens)
    (mV) = (millivolt)
    (mA) = (milliamp)
}

PARAMETER {
    gImbar = 0.00001 (S/cm2)
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
    g = gImbar / (1 + exp(-0.2 * (V_R + 35)))
}
