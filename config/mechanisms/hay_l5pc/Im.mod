COMMENT
Muscarinic (M-type) potassium current of the Hay et al. (2011) layer-5
pyramidal cell (ModelDB 139653), after Adams et al. (1982): g = gbar m with
exponential forward and backward rates; rates at 21 C scaled to 34 C with
Q10 = 2.3. Written for hpckernels' shipped Hay-style model.
ENDCOMMENT

NEURON {
    SUFFIX Im
    USEION k READ ek WRITE ik
    RANGE gImbar, gIm, ik
}

UNITS {
    (S) = (siemens)
    (mV) = (millivolt)
    (mA) = (milliamp)
}

PARAMETER {
    gImbar = 0.00001 (S/cm2)
}

ASSIGNED {
    v (mV)
    ek (mV)
    ik (mA/cm2)
    gIm (S/cm2)
    m_inf
    m_tau (ms)
}

STATE {
    m
}

BREAKPOINT {
    SOLVE gates METHOD cnexp
    gIm = gImbar * m
    ik = gIm * (v - ek)
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
    LOCAL a, b, q
    UNITSOFF
    q = 2.3^((34 - 21) / 10)
    a = 3.3e-3 * exp(0.1 * (v + 35))
    b = 3.3e-3 * exp(-0.1 * (v + 35))
    m_inf = a / (a + b)
    m_tau = 1 / (a + b) / q
    UNITSON
}
