COMMENT
Reference for tests only (the lfpykernels route of Hagen et al. 2022): NaTa_t of
config/mechanisms/hay_l5pc frozen by hand at the potential V_R, g = gbar m_inf^3 h_inf.
ENDCOMMENT

NEURON {
    SUFFIX NaTa_t_frozen
    USEION na READ ena WRITE ina
    RANGE gNaTa_tbar, V_R, ina
}

UNITS {
    (S) = (siemens)
    (mV) = (millivolt)
    (mA) = (milliamp)
}

PARAMETER {
    gNaTa_tbar = 0.00001 (S/cm2)
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
    LOCAL am, bm, ah, bh
    am = 0.182 * efun(-(V_R + 38), 6)
    bm = 0.124 * efun(V_R + 38, 6)
    ah = 0.015 * efun(V_R + 66, 6)
    bh = 0.015 * efun(-(V_R + 66), 6)
    g = gNaTa_tbar * (am / (am + bm))^3 * ah / (ah + bh)
}

FUNCTION efun(x, k) {
    if (fabs(x / k) < 1e-6) {
        efun = k * (1 - x / k / 2)
    } else {
        efun = x / (exp(x / k) - 1)
    }
}
