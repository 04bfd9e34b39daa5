COMMENT
Kv3.1 (Shaw-related) potassium current of the Hay et al. (2011) layer-5
pyramidal cell (ModelDB 139653), after Rettig et al. (1992): g = gbar m with a
Boltzmann steady state and a sigmoidal time constant. Written for hpckernels'
shipped Hay-style model.
ENDCOMMENT

NEURON {
    SUFFIX SKv3_1
    USEION k READ ek WRITE ik
    RANGE gSKv3_1bar, gSKv3_1, ik
}

UNITS {
    (S) = (siemens)
    (mV) = (millivolt)
    (mA) = (milliamp)
}

PARAMETER {
    gSKv3_1bar = 0.00001 (S/cm2)
}

ASSIGNED {
    v (mV)
    ek (mV)
    ik (mA/cm2)
    gSKv3_1 (S/cm2)
    m_inf
    m_tau (ms)
}

STATE {
    m
}

BREAKPOINT {
    SOLVE gates METHOD cnexp
    gSKv3_1 = gSKv3_1bar * m
    ik = gSKv3_1 * (v - ek)
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
    UNITSOFF
    m_inf = 1 / (1 + exp(-(v - 18.7) / 9.7))
    m_tau = 4 / (1 + exp(-(v + 46.56) / 44.14))
    UNITSON
}
