COMMENT
Reference for tests only: Ih of config/mechanisms/hay_l5pc frozen by hand at V_R,
g = gbar w_inf(V_R).
ENDCOMMENT

NEURON {
    SUFFIX Ih_frozen
    NONSPECIFIC_CURRENT ihcn
    RANGE gIhbar, V_R, ehcn, ihcn
}

UNITS {
    (S) = (siemens)
    (mV) = (millivolt)
    (mA) = (milliamp)
}

PARAMETER {
    gIhbar = 0.00001 (S/cm2)
    ehcn = -45 (mV)
    V_R = -65 (mV)
}

ASSIGNED {
    v (mV)
    ihcn (mA/cm2)
    g (S/cm2)
}

BREAKPOINT {
    ihcn = g * (v - ehcn)
}

INITIAL {
    LOCAL a, b, x
    x = V_R + 154.9
    if (fabs(x / 11.9) < 1e-6) {
        a = 6.43e-3 * 11.9 * (1 - x / 11.9 / 2)
    } else {
        a = 6.43e-3 * x / (exp(x / 11.9) - 1)
    }
    b = 0.193 * exp(V_R / 33.1)
    g = gIhbar * a / (a + b)
}
