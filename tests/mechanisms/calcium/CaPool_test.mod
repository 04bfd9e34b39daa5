COMMENT
Test model only: submembrane calcium, driven by the calcium current and decaying to
cai0 (the form of Hay et al.'s CaDynamics_E2): a concentration state of the cell.
ENDCOMMENT

NEURON {
    SUFFIX CaPool_test
    USEION ca READ ica WRITE cai
    RANGE decay, gamma, depth, cai0
}

UNITS {
    (mV) = (millivolt)
    (mA) = (milliamp)
    FARADAY = (faraday) (coulombs)
    (molar) = (1/liter)
    (mM) = (millimolar)
    (um) = (micron)
}

PARAMETER {
    gamma = 0.05
    decay = 80 (ms)
    depth = 0.1 (um)
    cai0 = 1e-4 (mM)
}

ASSIGNED {
    ica (mA/cm2)
}

STATE {
    cai (mM)
}

BREAKPOINT {
    SOLVE pool METHOD cnexp
}

DERIVATIVE pool {
    cai' = -(10000) * ica * gamma / (2 * FARADAY * depth) - (cai - cai0) / decay
}

INITIAL {
    cai = cai0
}
