COMMENT
Hyperpolarization-activated cation current (HCN) of the Hay et al. (2011)
layer-5 pyramidal cell (ModelDB 139653), after Kole, Hallermann and Stuart
(2006): g = gbar m, reversal ehcn = -45 mV. Written for hpckernels' shipped
Hay-style model.
ENDCOMMENT

NEURON {
    SUFFIX Ih
    NONSPECIFIC_CURRENT ihcn
    RANGE gIhbar, gIh, ihcn, ehcn
}

UNITS {
    (S) = (siemens)
    (mV) = (millivolt)
    (mA) = (milliamp)
}

PARAMETER {
    gIhbar = 0.00001 (S/cm2)
    ehcn = -45 (mV)
}

ASSIGNED {
    v (mV)
    ihcn (mA/cm2)
    gIh (S/cm2)
    m_inf
    m_tau (ms)
}

STATE {
    m
}

BREAKPOINT {
    SOLVE gates METHOD cnexp
    gIh = gIhbar * m
    ihcn = gIh * (v - ehcn)
}

DERIVATIVE gates {
    kinetics(v)
    m' = (m_inf - m) / m_tau
}

INITIAL {
    kinetics(v)
    m = m_inf
}

PROCEDURE kinetics(v (mV)) {
    LOCAL a, b
    UNITSOFF
    a = 6.43e-3 * ratio(v + 154.9, 11.9)
    b = 0.193 * exp(v / 33.1)
    m_inf = a / (a + b)
    m_tau = 1 / (a + b)
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
