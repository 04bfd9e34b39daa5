COMMENT
Reference for tests only: the quasi-active (Remme and Rinzel) linearization of Ih of
config/mechanisms/hay_l5pc around V_R, written by hand. With g = gbar w (v - ehcn) and
w' = (w_inf(v) - w) / tau(v), to first order in the deviations

    ihcn = gbar w_inf(V_R) (v - ehcn) - mu m,   m' = (v - V_R - m) / tau(V_R),
    mu = gbar w_inf'(V_R) (ehcn - V_R),

w_inf = a / (a + b), tau = 1 / (a + b), a = 6.43e-3 x / (exp(x / 11.9) - 1),
x = v + 154.9, b = 0.193 exp(v / 33.1); w_inf' = (a' b - a b') / (a + b)^2.
ENDCOMMENT

NEURON {
    SUFFIX Ih_linearized
    NONSPECIFIC_CURRENT ihcn
    RANGE gIhbar, V_R, ehcn, ihcn, mu, tau
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
    mu (S/cm2)
    tau (ms)
}

STATE {
    m (mV)
}

BREAKPOINT {
    SOLVE relax METHOD cnexp
    ihcn = g * (v - ehcn) - mu * m
}

DERIVATIVE relax {
    m' = (v - V_R - m) / tau
}

INITIAL {
    LOCAL x, u, e, a, da, b, db
    x = V_R + 154.9
    u = x / 11.9
    e = exp(u)
    a = 6.43e-3 * x / (e - 1)
    : d/dv [x / (exp(x / k) - 1)] = ((e - 1) - u e) / (e - 1)^2
    da = 6.43e-3 * ((e - 1) - u * e) / ((e - 1) * (e - 1))
    b = 0.193 * exp(V_R / 33.1)
    db = b / 33.1
    g = gIhbar * a / (a + b)
    tau = 1 / (a + b)
    mu = gIhbar * (da * b - a * db) / ((a + b) * (a + b)) * (ehcn - V_R)
    m = 0
}
