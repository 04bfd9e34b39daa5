"""Differential tests against lfpykernels 0.2.0, the reference implementation.

Both implementations get the same numbers (tests/lfpykernels_reference.py
translates the config) in lfpykernels' convention (``operating_point: uniform``, see
conftest.load_uniform). Tolerance: max |difference| <= 1e-6 max |H|.
"""

import numpy as np
import pytest
from conftest import CONFIGS, TEST_CONFIGS, load_uniform
from lfpykernels_reference import reference_kernels, reference_probe

from hpckernels import probes
from hpckernels.engines.neuron import PathwayModel

pytestmark = pytest.mark.unit


RTOL = 1e-6


def ours(config, pre, post):
    with PathwayModel(config, pre, post) as model:
        return model.mean_field_kernels()


def assert_close(actual, expected):
    assert actual.shape == expected.shape
    scale = np.abs(expected).max()
    assert scale > 0
    assert np.abs(actual - expected).max() <= RTOL * scale


def check_pathway(config, pre, post, t_X=500.0):
    mine = ours(config, pre, post)
    for name, spec in config.probes.items():
        ref = reference_kernels(config, pre, post, [reference_probe(spec)], t_X=t_X)
        (expected,) = ref.values()
        assert_close(mine[name], expected)


def test_readme_example(mechanisms_loaded):
    check_pathway(load_uniform(CONFIGS / "readme_example.yaml"), "I", "E")


def test_lfpykernels_unittest_parameters(mechanisms_loaded):
    """GaussCylinderPotential and KernelApproxCurrentDipoleMoment, tau = 100 ms, t_X = 200 ms."""
    check_pathway(load_uniform(TEST_CONFIGS / "lfpykernels_unittest.yaml"), "E", "E", t_X=200.0)


@pytest.mark.parametrize("pre,post", [("E", "E"), ("E", "I"), ("I", "E"), ("I", "I")])
def test_two_population_pathways(mechanisms_loaded, pre, post):
    """LFP (GaussCylinderPotential) and the 3-row current dipole moment of each pathway."""
    check_pathway(load_uniform(CONFIGS / "two_population.yaml"), pre, post)


def test_engine_with_the_same_probe_object(mechanisms_loaded):
    """With one probe implementation on both sides, the engines agree to round-off."""
    config = load_uniform(CONFIGS / "readme_example.yaml")
    spec = config.probes["GaussCylinderPotential"]
    probe = probes.probe_type(spec).model(None)
    (expected,) = reference_kernels(config, "I", "E", [probe]).values()
    actual = ours(config, "I", "E")["GaussCylinderPotential"]
    assert np.abs(actual - expected).max() <= 1e-10 * np.abs(expected).max()


def test_current_based_connection(mechanisms_loaded):
    """synapse.current_based: weight in nA, g_eff off; lfpykernels with conductance_based=False."""
    data = load_uniform(CONFIGS / "readme_example.yaml").data
    data["simulation"]["g_eff"] = False
    synapse = data["connections"][1]["synapse"]
    data["connections"][1]["synapse"] = {
        "type": "Exp2Syn",
        "weight": 0.1,
        "tau1": synapse["tau1"],
        "tau2": synapse["tau2"],
        "current_based": True,
    }
    from hpckernels.config import NetworkConfig

    config = NetworkConfig(data, base_dir=CONFIGS)
    check_pathway(config, "I", "E")


def test_fir_kernel(mechanisms_loaded):
    """fir: true returns lags (0, tau] as lfpykernels' fir=True."""
    data = load_uniform(CONFIGS / "readme_example.yaml").data
    data["simulation"]["fir"] = True
    from hpckernels.config import NetworkConfig

    config = NetworkConfig(data, base_dir=CONFIGS)
    mine = ours(config, "I", "E")["GaussCylinderPotential"]
    assert mine.shape == (13, 800)
    check_pathway(config, "I", "E")
