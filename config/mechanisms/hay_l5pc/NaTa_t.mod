COMMENT
Fast inactivating sodium current of the layer-5 pyramidal cell model of Hay et
al. (2011, PLoS Comput Biol 7: e1002107; ModelDB 139653), kinetics after Colbert
and Pan (2002): g = gbar m^3 h, rates at 21 C scaled to 34 C with Q10 = 2.3.
Written for hpckernels' shipped Hay-style model.
ENDCOMMENT

NEURON {
    SUFFIX NaTa_t
    USEION na READ ena WRITE ina
    RANGE gNaTa_tbar, gNaTa_t, ina
}

UNITS {
    (S) = (siemens)
    (mV) = (millivolt)
    (mA) = (milliamp)
}

PARAMETER {
    gNaTa_tbar = 0.00001 (S/cm2)
}

ASSIGNED {
    v (mV)
    ena (mV)
    ina (mA/cm2)
    gNaTa_t (S/cm2)
    m_inf
    m_tau (ms)
    h_inf
    h_tau (ms)
}

STATE {
    m
    h
}

BREAKPOINT {
    SOLVE gates METHOD cnexp
    gNaTa_t = gNaTa_tbar * m * m * m * h
    ina = gNaTa_t * (v - ena)
}

DERIVATIVE gates {
    kinetics(v)
    m' = (m_inf - m) / m_tau
    h' = (h_inf - h) / h_tau
}

INITIAL {
    kinetics(v)
    m = m_inf
    h = h_inf
}

PROCEDURE kinetics(v (mV)) {
    LOCAL a, b, q
    UNITSOFF
    q = 2.3^((34 - 21) / 10)
    a = 0.182 * ratio(-(v + 38), 6)
    b = 0.124 * ratio(v + 38, 6)
    m_inf = a / (a + b)
    m_tau = 1 / (a + b) / q
    a = 0.015 * ratio(v + 66, 6)
    b = 0.015 * ratio(-(v + 66), 6)
    h_inf = a / (a + b)
    h_tau = 1 / (a + b) / q
    UNITSON
}

FUNCTION ratio(x, k) {
    : x / (exp(x / k) - 1), continuous at x = 0 (limit k)
    if (fabs(x / k) < 1e-6) {
        ratio = k * (1 - x / k / 2)
    } else {
        ratio = x / (exp(x / k) - 1)
    }
}
