"""Active cells linearized by hpckernels (issue 11): frozen and quasi-active kernels against
lfpykernels 0.2.0 with hand-written mechanisms (tests/mechanisms/reference), the active
model against its linearizations (Hagen et al. 2022, Fig 2), operating points (per-segment
vrest, a steady state that is not uniform), the finite-difference steps, and cells from
morphology files with and without templates."""

import copy

import lfpykit
import numpy as np
import pytest
import yaml
from conftest import CONFIGS, load
from lfpykernels_reference import REFERENCE_MECHANISMS, reference_kernels

from hpckernels import cell as cellmod
from hpckernels import linearization, mechanisms, probes
from hpckernels.config import NetworkConfig
from hpckernels.engines.neuron import PathwayModel
from hpckernels.validation.linearity import ResponseComparison, r_squared

pytestmark = pytest.mark.unit

HAY = CONFIGS / "hay_l5pc.yaml"
PATHWAYS = [("E", "E"), ("E", "I"), ("I", "E"), ("I", "I")]
#: Agreement with lfpykernels' route: max |difference| <= RTOL max |H| (the issue's bounds).
RTOL_FROZEN, RTOL_QUASI_ACTIVE = 1e-6, 1e-5


@pytest.fixture(scope="session")
def hay_mechanisms(mechanisms_loaded):
    """The shipped Hay-style mechanisms and the hand-written reference twins, loaded."""
    mechanisms.load_all(load(HAY))
    mechanisms.load_mechanisms((REFERENCE_MECHANISMS,))
    return True


def variant(path, edit, base_dir=CONFIGS):
    """A config from the YAML file ``path`` after ``edit(data)``."""
    data = yaml.safe_load(path.read_text())
    edit(data)
    return NetworkConfig(data, base_dir=base_dir)


def uniform(linearization_choice, vrest=-65.0):
    """Edit: every active population linearized at a uniform vrest."""

    def edit(data):
        for population in data["populations"].values():
            biophysics = population["cell"]["biophysics"]
            biophysics.update(
                operating_point="uniform", vrest=vrest, linearization=linearization_choice
            )

    return edit


def ours(config, pre, post):
    with PathwayModel(config, pre, post) as model:
        return model.mean_field_kernels()


def reference(config, pre, post, t_X, vrest=None):
    """lfpykernels' kernels of the config's two probes, computed with the same probe
    objects (the comparison is of the cells, not of the probes: tests/test_reference.py
    compares those)."""
    models = [
        probes.probe_type(config.probes["lfp"]).model(None),
        lfpykit.CurrentDipoleMoment(cell=None),
    ]
    kernels = reference_kernels(config, pre, post, models, t_X=t_X, vrest=vrest)
    return {"lfp": kernels["GaussCylinderPotential"], "dipole": kernels["CurrentDipoleMoment"]}


def relative_difference(actual, expected):
    assert actual.shape == expected.shape
    scale = np.abs(expected).max()
    assert scale > 0
    return np.abs(actual - expected).max() / scale


# ------------------------------------------------------------------ lfpykernels routes
@pytest.mark.parametrize("pre,post", PATHWAYS)
def test_frozen_matches_lfpykernels(hay_mechanisms, pre, post):
    """Frozen Hay-style cells (E: template, I: recipe) at a uniform -65 mV against the
    paper's route: hand-written *_frozen mechanisms and make_cell_uniform, t_X = 500 ms."""
    config = variant(HAY, uniform("frozen"))
    mine, ref = ours(config, pre, post), reference(config, pre, post, t_X=500.0)
    for name in ("lfp", "dipole"):
        assert relative_difference(mine[name], ref[name]) <= RTOL_FROZEN, name


def test_ih_quasi_active_others_frozen_matches_lfpykernels(hay_mechanisms):
    """The paper's 'lin' variant, as a per-mechanism choice: Ih quasi-active (the
    hand-written Remme-Rinzel Ih_linearized), the other channels frozen."""
    config = variant(HAY, uniform({"default": "frozen", "Ih": "quasi-active"}))
    mine, ref = ours(config, "E", "E"), reference(config, "E", "E", t_X=2000.0)
    frozen = ours(variant(HAY, uniform("frozen")), "E", "E")
    for name in ("lfp", "dipole"):
        assert relative_difference(mine[name], ref[name]) <= RTOL_FROZEN, name
        # and Ih's dynamics matter: the variant is not the frozen kernel
        assert relative_difference(frozen[name], ref[name]) > 100 * RTOL_FROZEN, name


def passive_ih(data):
    """The paper's passive + Ih ball-and-sticks cells (example_network_methods.set_Ih:
    g_pas 0.0003 S/cm2, Ih 0.002 S/cm2 in the soma and 0.01 in the dendrites),
    quasi-active at a uniform -65 mV."""
    data["mechanisms"] = ["mechanisms/hay_l5pc"]
    for population in data["populations"].values():
        population["cell"]["biophysics"] = {
            "type": "active",
            "operating_point": "uniform",
            "vrest": -65.0,
            "linearization": "quasi-active",
            "sections": [
                {
                    "sections": ["all"],
                    "mechanisms": {"pas": {"g": 0.0003}, "Ih": {"gIhbar": 0.01}},
                },
                {"sections": ["soma"], "mechanisms": {"Ih": {"gIhbar": 0.002}}},
            ],
        }


@pytest.mark.parametrize("pre,post", PATHWAYS)
def test_quasi_active_matches_remme_rinzel_ih(hay_mechanisms, pre, post):
    """Quasi-active passive + Ih cells against lfpykernels with the hand-written
    Remme-Rinzel linearization of Ih (t_X = 1000 ms)."""
    config = variant(CONFIGS / "two_population.yaml", passive_ih)
    mine, ref = ours(config, pre, post), reference(config, pre, post, t_X=1000.0)
    for name in ("lfp", "dipole"):
        assert relative_difference(mine[name], ref[name]) <= RTOL_QUASI_ACTIVE, name


# ------------------------------------------------------------------------- Fig 2
@pytest.fixture(scope="module")
def responses(hay_mechanisms):
    """Somatic voltage and membrane-current responses of the shipped (steady-state)
    Hay-style E cell to 1 and 10 synapses of each input pathway."""
    config = load(HAY)
    out = {}
    for pre in ("E", "I"):
        comparison = ResponseComparison(config, pre, "E", duration=40.0)
        out[pre] = {"active": comparison.active([1.0, 10.0])}
        for name in ("frozen", "quasi-active"):
            out[pre][name] = comparison.linear(name, [1.0, 10.0])
    return out


@pytest.mark.parametrize("pre", ["E", "I"])
def test_quasi_active_equals_active_for_small_input(responses, pre):
    """Hagen et al. (2022) Fig 2: for small input the active model's somatic voltage and
    membrane currents are those of its quasi-active linearization (R^2 >= 0.999), which
    the frozen one does not reach."""
    active, quasi, frozen = (responses[pre][k][0] for k in ("active", "quasi-active", "frozen"))
    assert np.abs(active.v_soma).max() > 1e-3  # a response, not noise
    assert r_squared(quasi.v_soma, active.v_soma) >= 0.999
    assert r_squared(quasi.imem, active.imem) >= 0.999
    assert r_squared(frozen.imem, active.imem) < r_squared(quasi.imem, active.imem)
    # the error of the linearization is second order: 10x the input, ~100x the error
    big = responses[pre]["active"][1], responses[pre]["quasi-active"][1]
    small_error = np.abs(quasi.v_soma - active.v_soma).max()
    big_error = np.abs(big[1].v_soma - big[0].v_soma).max()
    assert 30 * small_error < big_error < 300 * small_error


# -------------------------------------------------------------- operating points
def passive_active(data):
    """E as an 'active' cell whose only mechanism is the paper's passive leak."""
    data["populations"]["E"]["cell"]["biophysics"] = {
        "type": "active",
        "linearization": "quasi-active",
        "sections": [{"sections": ["all"], "mechanisms": {"pas": {"g": 0.0003}}}],
    }


def test_per_segment_vrest(hay_mechanisms):
    """A uniform operating point with one vrest per segment (a compensating current per
    segment holds it): each synapse is linearized at its segment's vrest -- as
    lfpykernels does with a per-compartment Vrest list -- and the linearized cell rests."""
    config = variant(CONFIGS / "two_population.yaml", passive_active)
    cell = cellmod.build_cell(config, "E", 1.0)
    n = cell.totnsegs
    vrest = np.linspace(-72.0, -58.0, n).round(3)
    del cell

    def edit(data):
        passive_active(data)
        data["populations"]["E"]["cell"]["biophysics"].update(
            operating_point="uniform", vrest=vrest.tolist()
        )

    config = variant(CONFIGS / "two_population.yaml", edit)
    with PathwayModel(config, "I", "E") as model:
        np.testing.assert_array_equal(model.vrest, vrest)
        mine = model.mean_field_kernels()
        from neuron import h

        recorders = [h.Vector().record(seg._ref_v) for seg in cellmod.segments(model.cell)]
        model.simulate(np.zeros(n), [np.zeros(0, dtype=int)] * n)
        v = np.array([r.as_numpy() for r in recorders])
    assert np.abs(v - v[:, :1]).max() < 1e-12  # at rest
    ref = reference(load(CONFIGS / "two_population.yaml"), "I", "E", 500.0, list(vrest))
    for name in ("lfp", "dipole"):
        assert relative_difference(mine[name], ref[name]) <= RTOL_FROZEN, name


def test_steady_state_that_is_not_uniform(hay_mechanisms):
    """The shipped E cell's steady state with g_eff varies along the cell (Ih, leak and
    synaptic reversal potentials differ between soma and tuft); it is an equilibrium of
    NEURON's own integration of the active model, and the linearized cell rests there."""
    config = load(HAY)
    cell = cellmod.build_cell(config, "E", 1.0)
    membrane = cellmod.population_biophysics(config, "E")
    membrane.add_conductance(cell, *cellmod.effective_conductance(config, "E", cell))
    eq = linearization.CellEquations(cell)
    y, _ = linearization.operating_state(eq, "steady-state")
    eq.close()
    vrest = y[eq.v_index]
    assert vrest.max() - vrest.min() > 5.0
    from neuron import h

    handler = h.FInitializeHandler(1, lambda: eq.assign(y))
    recorders = [h.Vector().record(seg._ref_v) for seg in cellmod.segments(cell)]
    h.cvode.active(0)
    h.dt = 0.0625
    h.finitialize()
    for _ in range(3200):  # 200 ms
        h.fadvance()
    v = np.array([r.as_numpy() for r in recorders])
    del handler, recorders
    assert np.abs(v - vrest[:, None]).max() < 1e-6
    with PathwayModel(config, "E", "E") as model:
        np.testing.assert_allclose(model.vrest, vrest, rtol=0, atol=1e-9)


def test_finite_difference_steps(hay_mechanisms, monkeypatch):
    """The documented steps give derivatives whose kernels do not move when the steps grow
    tenfold (far below the 1e-6 of the kernel's maximum the kernels must meet)."""
    config = load(HAY)
    base = ours(config, "E", "E")
    monkeypatch.setattr(linearization, "STEP_V", 10 * linearization.STEP_V)
    monkeypatch.setattr(linearization, "STEP_STATE", 10 * linearization.STEP_STATE)
    monkeypatch.setattr(cellmod, "linearization_cache", lambda config, post: None)
    coarse = ours(config, "E", "E")
    for name in ("lfp", "dipole"):
        assert relative_difference(coarse[name], base[name]) < 1e-7, name


# ----------------------------------------------------------- cells from files
def no_template(method):
    """E from its SWC file without a template: a per-section recipe and a segment rule."""

    def edit(data):
        cell = data["populations"]["E"]["cell"]
        del cell["template"]
        cell["nseg"] = method
        cell["biophysics"]["linearization"] = "frozen"
        cell["biophysics"]["sections"] = [
            {
                "sections": ["all"],
                "cm": 1.0,
                "Ra": 100.0,
                "mechanisms": {"pas": {"g": 0.0000589, "e": -90.0}, "Ih": {"gIhbar": 0.0002}},
            },
            {"sections": ["apic", "dend"], "cm": 2.0},
            {
                "sections": ["soma"],
                "mechanisms": {"NaTa_t": {"gNaTa_tbar": 2.04}, "SKv3_1": {"gSKv3_1bar": 0.693}},
                "ions": {"ena": 50.0, "ek": -85.0},
            },
        ]

    return edit


@pytest.mark.parametrize(
    "method,check",
    [
        ({"method": "fixed_length", "max_length": 30.0}, lambda L, n: np.all(L / n <= 30.0)),
        ({"method": "lambda_f", "lambda_f": 100.0}, lambda L, n: np.all(n % 2 == 1)),
    ],
    ids=["fixed_length", "lambda_f"],
)
def test_morphology_file_without_template(hay_mechanisms, method, check):
    """An LFPy.Cell from an SWC file, the recipe inserting the mechanisms, the segment
    rule applied: a (frozen) kernel comes out."""
    config = variant(HAY, no_template(method))
    cell = cellmod.build_cell(config, "E", 1.0)
    assert type(cell).__name__ == "Cell"
    lengths = np.array([sec.L for sec in cell.allseclist])
    nseg = np.array([sec.nseg for sec in cell.allseclist])
    assert check(lengths, nseg) and nseg.sum() > 150
    soma = [sec for sec in cell.allseclist if "soma" in sec.name()][0]
    assert {"NaTa_t", "SKv3_1", "Ih", "pas"} <= {m.name() for m in soma(0.5)}
    del cell
    kernels = ours(config, "I", "E")
    assert np.all(np.isfinite(kernels["lfp"])) and np.abs(kernels["lfp"]).max() > 0


def test_template_with_a_segment_rule(hay_mechanisms):
    """The segment rule also applies to a template's cell (after its biophysics)."""
    rule = {"method": "fixed_length", "max_length": 10.0}
    config = variant(HAY, lambda d: d["populations"]["E"]["cell"].update(nseg=rule))
    cell = cellmod.build_cell(config, "E", 1.0)
    assert all(sec.L / sec.nseg <= 10.0 for sec in cell.allseclist)
    assert cell.totnsegs > 400  # the template's own rule gives 280


def test_linearization_is_cached_by_content(hay_mechanisms, tmp_path, monkeypatch):
    """The linearization is stored under the hash of what it depends on, and reused."""
    monkeypatch.setenv("HPCKERNELS_CACHE_DIR", str(tmp_path))
    config = load(HAY)
    path = cellmod.linearization_cache(config, "I")
    assert not path.exists()
    first = ours(config, "E", "I")
    assert path.is_file()
    stored = linearization.Linearization.load(path)
    assert stored.vrest.size == len(stored.blocks) and stored.jacobian_error < 1e-6
    second = ours(config, "E", "I")
    np.testing.assert_array_equal(first["lfp"], second["lfp"])
    other = copy.deepcopy(config.data)
    other["populations"]["I"]["external"]["count"] = 161
    assert cellmod.linearization_cache(NetworkConfig(other, base_dir=CONFIGS), "I") != path


def test_linearization_figure(responses, tmp_path):
    """The figure of the responses (plot-linearization) is drawn, with its provenance."""
    from PIL import Image

    from hpckernels.plotting.linearization import plot_linearization

    config = load(HAY)
    cell = cellmod.build_cell(config, "E", 1.0)
    z = cell.z.mean(axis=-1)
    del cell
    out = plot_linearization(
        responses["E"] | {"passive": responses["E"]["frozen"]},
        [1.0, 10.0],
        z,
        tmp_path / "fig.png",
        "E->E",
        config,
    )
    image = Image.open(out)
    assert image.size[0] > 500 and image.info["Software"] == "hpckernels"
    assert config.hash in image.info["Description"]
    pixels = np.asarray(image.convert("L"))
    assert (pixels < 128).mean() > 0.01  # lines were drawn


@pytest.mark.parametrize("n", [50, 1500], ids=["eigenvalues", "growth"])
def test_stability_check(n):
    """An unstable mode is found both by the eigenvalues of small systems and by the
    growth test of large ones (a cable-like stable system plus one growing mode)."""
    from scipy import sparse

    cable = sparse.diags([np.full(n - 1, 1.0), np.full(n, -2.05), np.full(n - 1, 1.0)], [-1, 0, 1])
    stable = sparse.block_diag([cable, sparse.diags(-1 / np.geomspace(0.1, 2000.0, 20))])
    linearization.check_stable(stable.tocsr(), "x")
    for rate in (1e-2, 1e-4):
        unstable = sparse.block_diag([stable, sparse.csr_matrix([[rate]])]).tocsr()
        with pytest.raises(linearization.ConfigError, match="unstable"):
            linearization.check_stable(unstable, "populations.E.cell.biophysics")


def test_frozen_twin_of_the_shipped_config():
    """config/hay_l5pc_frozen.yaml is config/hay_l5pc.yaml but for the linearization and
    the run's name."""
    quasi = yaml.safe_load(HAY.read_text())
    frozen = yaml.safe_load((CONFIGS / "hay_l5pc_frozen.yaml").read_text())
    for data, choice in ((quasi, "quasi-active"), (frozen, "frozen")):
        for population in data["populations"].values():
            assert population["cell"]["biophysics"].pop("linearization") == choice
        data.pop("workflow")
    assert quasi == frozen


CALCIUM = CONFIGS.parent / "tests" / "mechanisms" / "calcium"


def calcium(data):
    """E as a ball-and-sticks cell whose soma has a calcium current, a calcium pool (a
    concentration state) and a calcium-activated potassium current (tests/mechanisms/
    calcium): states coupled through a concentration, not through v alone."""
    data["mechanisms"] = [str(CALCIUM)]
    data["populations"]["E"]["cell"]["biophysics"] = {
        "type": "active",
        "linearization": "quasi-active",
        "sections": [
            {"sections": ["all"], "mechanisms": {"pas": {"g": 0.0001, "e": -70.0}}},
            {
                "sections": ["soma"],
                "mechanisms": {
                    "CaHVA_test": {"gbar": 0.0005},
                    "CaPool_test": {},
                    "SKCa_test": {"gbar": 0.001},
                },
                "ions": {"ek": -85.0},
            },
        ],
    }


@pytest.fixture(scope="module")
def calcium_config(mechanisms_loaded):
    config = variant(CONFIGS / "two_population.yaml", calcium)
    mechanisms.load_all(config)
    return config


def test_concentration_states(calcium_config):
    """The calcium concentration is a state of the cell, owned by ca_ion; the SK gate
    depends on it alone; all of them enter the quasi-active modes."""
    cell = cellmod.build_cell(calcium_config, "E", 1.0)
    eq = linearization.CellEquations(cell)
    eq.close()
    owners = {m for m in eq.mechanism if m != "v"}
    assert owners == {"CaHVA_test", "SKCa_test", "ca_ion"}
    assert "cai" in eq.variable
    del cell
    with PathwayModel(calcium_config, "E", "E") as model:
        soma_modes = model.linearized.membrane.modes.segment == 0
        assert soma_modes.sum() == 4  # m, h, cai, z


def test_quasi_active_equals_active_with_a_calcium_pool(calcium_config):
    """Fig 2 for a model whose states are coupled through a concentration."""
    comparison = ResponseComparison(calcium_config, "E", "E", duration=40.0)
    active = comparison.active([10.0])[0]
    quasi = comparison.linear("quasi-active", [10.0])[0]
    frozen = comparison.linear("frozen", [10.0])[0]
    assert np.abs(active.v_soma).max() > 1e-3
    assert r_squared(quasi.v_soma, active.v_soma) >= 0.999
    assert r_squared(quasi.imem, active.imem) >= 0.999
    assert r_squared(frozen.imem, active.imem) < r_squared(quasi.imem, active.imem)
