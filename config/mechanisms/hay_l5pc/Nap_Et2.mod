COMMENT
Persistent sodium current of the Hay et al. (2011) layer-5 pyramidal cell
(ModelDB 139653), after Magistretti and Alonso (1999): g = gbar m^3 h; the
activation time constant is six times that of NaTa_t; rates at 21 C scaled to
34 C with Q10 = 2.3. Written for hpckernels' shipped Hay-style model.
ENDCOMMENT

NEURON {
    SUFFIX Nap_Et2
    USEION na READ ena WRITE ina
    RANGE gNap_Et2bar, gNap_Et2, ina
}

UNITS {
    (S) = (siemens)
    (mV) = (millivolt)
    (mA) = (milliamp)
}

PARAMETER {
    gNap_Et2bar = 0.00001 (S/cm2)
}

ASSIGNED {
    v (mV)
    ena (mV)
    ina (mA/cm2)
    gNap_Et2 (S/cm2)
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
    gNap_Et2 = gNap_Et2bar * m * m * m * h
    ina = gNap_Et2 * (v - ena)
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
    m_inf = 1 / (1 + exp(-(v + 52.6) / 4.6))
    a = 0.182 * ratio(-(v + 38), 6)
    b = 0.124 * ratio(v + 38, 6)
    m_tau = 6 / (a + b) / q
    h_inf = 1 / (1 + exp((v + 48.8) / 10))
    a = 2.88e-6 * ratio(v + 17, 4.63)
    b = 6.94e-6 * ratio(-(v + 64.4), 2.63)
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
