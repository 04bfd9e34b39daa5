"""Never a silently wrong result: every bad input ends in one line naming the key or file
and what is allowed, exit code 2 and no output (issue 8); warnings for inputs that are
allowed but probably not meant."""

import copy
import math
import shutil

import h5py
import numpy as np
import pytest
import yaml
from conftest import CONFIGS, run_cli, run_main
from test_cli import set_in, write_config

pytestmark = pytest.mark.unit

NAN, INF = math.nan, math.inf


def assert_bad(result, *fragments, outputs=()):
    """Exit 2, one line on stderr with every fragment, no traceback, no Python repr of
    numpy scalars or functions, and none of ``outputs`` (nor temporary files) left."""
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hpckernels: error:"), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    for noise in ("Traceback", "np.float64", "<function", "numpy."):
        assert noise not in lines[0], lines[0]
    assert "numprocs" not in result.stdout
    for output in outputs:
        assert not output.exists(), f"{output} was written"
        assert not list(output.parent.glob(f".{output.stem}.tmp-*")), "temporary file left"


# --------------------------------------------------------------------- config values
CONFIG_CASES = {
    # NaN and infinity pass `type: number`; every number must be finite
    "weight nan": (
        set_in(["connections", 0, "synapse", "weight"], NAN),
        "connections[0].synapse.weight",
        "not a finite number",
    ),
    "probability nan": (
        set_in(["connections", 1, "probability"], NAN),
        "connections[1].probability",
        "not a finite number",
    ),
    "vrest inf": (
        set_in(["simulation", "vrest"], -INF),
        "simulation.vrest",
        "not a finite number",
    ),
    "g_pas nan": (
        set_in(["populations", "E", "cell", "biophysics", "g_pas"], NAN),
        "populations.E.cell.biophysics.g_pas",
        "not a finite number",
    ),
    "rate inf": (
        set_in(["populations", "I", "rate"], INF),
        "populations.I.rate",
        "not a finite number",
    ),
    "external count nan": (
        set_in(["populations", "E", "external", "count"], NAN),
        "populations.E.external.count",
        "not a finite number",
    ),
    "probe coordinate nan": (
        set_in(["probes", "lfp", "z", "start"], NAN),
        "probes.lfp.z.start",
        "not a finite number",
    ),
    "dt nan": (set_in(["simulation", "dt"], NAN), "simulation.dt", "not a finite number"),
    "tau inf": (set_in(["simulation", "tau"], INF), "simulation.tau", "not a finite number"),
    "delay loc inf": (
        set_in(["connections", 0, "delay", "loc"], INF),
        "connections[0].delay.loc",
        "not a finite number",
    ),
    # one delay rule for mean-field and ensemble kernels
    "negative delays": (
        set_in(["connections", 2, "delay"], {"distribution": "norm", "loc": -5.0, "scale": 1.0}),
        "connections[2].delay",
        "delays must be >= 0",
    ),
    "delays beyond tau": (
        set_in(
            ["connections", 2, "delay"], {"distribution": "uniform", "loc": 40.0, "scale": 20.0}
        ),
        "connections[2].delay",
        "beyond simulation.tau",
    ),
    "linspace of no contacts": (set_in(["probes", "lfp", "z"], {"num": 0}), "probes.lfp.z", ""),
    "eeg radii not increasing": (
        set_in(
            ["probes", "eeg"],
            {
                "type": "FourSphereVolumeConductor",
                "dipole": "dipole",
                "dipole_location": [0.0, 0.0, 78000.0],
                "radii": [79000.0, 78500.0, 85000.0, 90000.0],
                "sigmas": [0.3, 1.5, 0.015, 0.3],
                "r_electrodes": [[0.0, 0.0, 90000.0]],
            },
        ),
        "probes.eeg",
        "radii",
    ),
    "eeg electrode inside the head": (
        set_in(
            ["probes", "eeg"],
            {
                "type": "FourSphereVolumeConductor",
                "dipole": "dipole",
                "dipole_location": [0.0, 0.0, 78000.0],
                "radii": [79000.0, 80000.0, 85000.0, 90000.0],
                "sigmas": [0.3, 1.5, 0.015, 0.3],
                "r_electrodes": [[0.0, 0.0, 50000.0]],
            },
        ),
        "probes.eeg",
        "Electrode",
    ),
    "csd slab of no thickness": (
        set_in(
            ["probes", "csd"],
            {"type": "GaussCylinderCSD", "z": [0.0, -100.0], "h": 0.0, "R": 150.0, "sigma_z": 0},
        ),
        "probes.csd.h",
        "less than or equal to the minimum of 0",
    ),
    "population value of a parameter that has none": (
        set_in(["probes", "lfp", "sigma"], "population"),
        "probes.lfp.sigma",
        "not of type 'number'",
    ),
    "kernels larger than memory": (
        set_in(["simulation", "dt"], 1e-7),
        "simulation.dt",
        "of memory",
    ),
    "tiny convolution chunks": (
        set_in(["signals"], {"t_stop": 1000.0, "chunk_size": 8}),
        "signals.chunk_size",
        "at least 1600",
    ),
}


@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_validate_rejects(tmp_path, case):
    edit, key, allowed = CONFIG_CASES[case]
    result = run_main(["validate", write_config(tmp_path, edit)])
    assert_bad(result, key, allowed)


@pytest.mark.parametrize("case", ["weight nan", "negative delays", "delays beyond tau"])
def test_kernel_rejects_what_validate_rejects(tmp_path, case):
    edit, key, allowed = CONFIG_CASES[case]
    out = tmp_path / "k.h5"
    result = run_main(
        ["kernel", write_config(tmp_path, edit), "--pre", "I", "--post", "E", "-o", out]
    )
    assert_bad(result, key, allowed, outputs=[out])


# ----------------------------------------------------------- cells (loaded by validate)
@pytest.fixture(scope="module")
def cell_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cells")
    shutil.copytree(CONFIGS / "morphologies", folder, dirs_exist_ok=True)
    (folder / "broken.hoc").write_text(
        "begintemplate Broken\npublic soma\ncreate soma[1]\nproc init( {\n}\nendtemplate Broken\n"
    )
    (folder / "garbage.swc").write_text("garbage\n1 2 3\nxx yy\n")
    (folder / "nosoma.swc").write_text("1 1 0 0 0 5 -1\n2 3 0 10 0 1 1\n")
    (folder / "binary.hoc").write_bytes(bytes(range(256)) * 4)
    return folder


def cell_edit(key, name):
    def edit(data, folder):
        cell = data["populations"]["E"]["cell"]
        if key == "template":
            cell["template"] = {"file": str(folder / "broken.hoc"), "name": "Broken"}
        elif key == "name":
            cell["template"]["name"] = "NoSuchTemplate"
        else:
            cell["morphology"] = str(folder / name)

    return edit


CELL_CASES = {
    "template syntax error": (
        cell_edit("template", None),
        "populations.E.cell.template.file",
        "broken.hoc",
    ),
    "wrong template name": (
        cell_edit("name", None),
        "populations.E.cell.template.name",
        "NoSuchTemplate",
    ),
    "garbage swc": (
        cell_edit("morphology", "garbage.swc"),
        "populations.E.cell.morphology",
        "garbage.swc",
    ),
    "soma-less swc": (
        cell_edit("morphology", "nosoma.swc"),
        "populations.E.cell.morphology",
        "nosoma.swc",
    ),
    "unreadable hoc morphology": (
        cell_edit("morphology", "binary.hoc"),
        "populations.E.cell.morphology",
        "binary.hoc",
    ),
}


@pytest.mark.parametrize("case", sorted(CELL_CASES))
def test_broken_cells(tmp_path, cell_files, case):
    # a failed cell check is never remembered in the cache: the user's cache is fine here
    edit, key, file = CELL_CASES[case]
    config = write_config(tmp_path, lambda data: edit(data, cell_files))
    assert_bad(run_main(["validate", config]), key, file)
    if case == "soma-less swc":  # NEURON crashes on it: the kernel command is one line too
        out = tmp_path / "out"
        result = run_main(["kernel", config, "--pre", "I", "--post", "E", "--output-dir", out])
        assert_bad(result, key, file, outputs=[out])


def test_placement_that_reaches_no_segment(tmp_path):
    edit = set_in(["connections", 0, "placement", "sections"], ["axon"])
    assert_bad(
        run_main(["validate", write_config(tmp_path, edit)]), "connections[0].placement", "axon"
    )


# ------------------------------------------------- active cells (issue 11)
HAY = yaml.safe_load((CONFIGS / "hay_l5pc.yaml").read_text())


def write_active_config(tmp_path, edit):
    """config/hay_l5pc.yaml with absolute paths, after ``edit(data, tmp_path)``."""
    data = copy.deepcopy(HAY)
    data["mechanisms"] = [str(CONFIGS / folder) for folder in data["mechanisms"]]
    for population in data["populations"].values():
        cell = population["cell"]
        cell["template"]["file"] = str(CONFIGS / cell["template"]["file"])
        cell["morphology"] = str(CONFIGS / cell["morphology"])
    edit(data, tmp_path)
    path = tmp_path / "active.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def mod_folder(name, text):
    def edit(data, tmp_path):
        folder = tmp_path / name
        folder.mkdir()
        (folder / f"{name}.mod").write_text(text)
        data["mechanisms"].append(str(folder))

    return edit


def biophysics_edit(population, **changes):
    def edit(data, tmp_path):
        data["populations"][population]["cell"]["biophysics"].update(changes)

    return edit


def garbage_morphology(data, tmp_path):
    (tmp_path / "garbage.swc").write_text("1 1 0 0 hello\nfoo bar\n")
    data["populations"]["E"]["cell"]["morphology"] = str(tmp_path / "garbage.swc")


def unknown_recipe_mechanism(data, tmp_path):
    recipe = data["populations"]["I"]["cell"]["biophysics"]["sections"]
    recipe[0]["mechanisms"]["NaTa_tt"] = {}


ACTIVE_CASES = {
    "missing mechanism folder": (
        lambda data, tmp_path: data.pop("mechanisms"),
        "populations.E.cell.template.file",
        "Ih is not a MECHANISM",
    ),
    "mechanism the recipe names is not compiled": (
        unknown_recipe_mechanism,
        "populations.I.cell.biophysics.sections[0].mechanisms.NaTa_tt",
        "no mechanism 'NaTa_tt'",
    ),
    "morphology that does not load": (
        garbage_morphology,
        "populations.E.cell.morphology",
        "garbage.swc",
    ),
    "mechanism folder that does not compile": (
        mod_folder("broken", "NEURON { SUFFIX broken }\nBREAKPOINT { x = + + }\n"),
        "mechanisms[1]",
        "nrnivmodl failed: Error: Illegal",
    ),
    "mechanism folder not found": (
        lambda data, tmp_path: data["mechanisms"].append(str(tmp_path / "nowhere")),
        "mechanisms[1]",
        "mechanism folder not found",
    ),
    "mechanism defined twice": (
        mod_folder("dup", "NEURON { POINT_PROCESS Exp2SynI }\n"),
        "mechanisms[1]",
        "mechanism Exp2SynI",
    ),
    "linearization of a mechanism the cell lacks": (
        biophysics_edit("E", linearization={"default": "frozen", "Ihh": "quasi-active"}),
        "populations.E.cell.biophysics.linearization.Ihh",
        "no mechanism Ihh",
    ),
    "per-segment vrest of the wrong length": (
        biophysics_edit("E", operating_point="uniform", vrest=[-65.0, -66.0]),
        "populations.E.cell.biophysics.vrest",
        "2 values for the cell's 280 segments",
    ),
    "vrest with the steady state": (
        biophysics_edit("I", vrest=-65.0),
        "populations.I.cell.biophysics.vrest",
        "only used with operating_point: uniform",
    ),
    "unknown linearization": (
        biophysics_edit("E", linearization="linear"),
        "populations.E.cell.biophysics.linearization",
        "linear",
    ),
}


@pytest.mark.parametrize("case", sorted(ACTIVE_CASES))
def test_active_cells_reject(tmp_path, case):
    edit, key, allowed = ACTIVE_CASES[case]
    result = run_main(["validate", write_active_config(tmp_path, edit)])
    assert_bad(result, key, allowed)


def test_plot_linearization_of_a_passive_cell(tmp_path):
    config = write_config(tmp_path, lambda data: None)
    out = tmp_path / "fig.png"
    result = run_main(["plot-linearization", config, "--pre", "I", "--post", "E", "-o", out])
    assert_bad(result, "populations.E.cell.biophysics.type", "active cells only", outputs=[out])


def test_kernel_of_an_unloadable_active_cell_writes_nothing(tmp_path):
    config = write_active_config(tmp_path, garbage_morphology)
    out = tmp_path / "out"
    result = run_main(["kernel", config, "--pre", "I", "--post", "E", "--output-dir", out])
    assert_bad(result, "populations.E.cell.morphology", "garbage.swc", outputs=[out])


# ------------------------------------------------------------------- config files
def test_binary_and_non_utf8_config(tmp_path):
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"simulation:\x00\x01\x02")
    assert_bad(run_main(["validate", binary]), str(binary), "binary")
    latin = tmp_path / "latin1.yaml"
    latin.write_bytes("simulation: {dt: 0.1}  # caf\xe9\n".encode("latin-1"))
    assert_bad(run_main(["validate", latin]), str(latin), "UTF-8")


# -------------------------------------------------------------------- command options
def test_output_dir_and_cache_that_are_files(tmp_path):
    config = write_config(tmp_path, lambda data: None)
    afile = tmp_path / "afile"
    afile.write_text("x")
    result = run_main(["kernel", config, "--pre", "I", "--post", "E", "--output-dir", afile])
    assert_bad(result, "--output-dir", "not a folder")
    out = tmp_path / "k.h5"
    args = ["kernel", config, "--pre", "I", "--post", "E", "-o", out, "--cache", afile]
    assert_bad(run_main([*args, "--engine", "neuron"]), "--cache", "not a folder", outputs=[out])
    # the linear engine (default) keeps no cache
    assert_bad(run_main(args), "--cache", "linear engine keeps no cache", outputs=[out])


def test_one_realization_is_refused(tmp_path):
    config = write_config(tmp_path, lambda data: None)
    result = run_main(
        [
            "kernel",
            config,
            "--pre",
            "I",
            "--post",
            "E",
            "--mode",
            "ensemble",
            "--realizations",
            "1",
            "-o",
            tmp_path / "k.h5",
        ]
    )
    assert result.returncode == 2 and "--realizations" in result.stderr
    assert "expected an integer >= 2" in result.stderr and not (tmp_path / "k.h5").exists()


def test_no_empty_output_folder_on_error(tmp_path):
    config = write_config(tmp_path, set_in(["connections", 0, "synapse", "weight"], NAN))
    out = tmp_path / "new" / "folder"
    result = run_main(["kernel", config, "--pre", "I", "--post", "E", "--output-dir", out])
    assert_bad(result, "weight", outputs=[out])
    assert not (tmp_path / "new").exists()


# ------------------------------------------------- stale or misplaced pathway kernels
@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory):
    """Mean-field kernel files of every pathway of two_population.yaml."""
    folder = tmp_path_factory.mktemp("kernels")
    config = write_config(folder, lambda data: None)
    for pre, post in (("E", "E"), ("E", "I"), ("I", "E"), ("I", "I")):
        result = run_main(
            [
                "kernel",
                config,
                "--pre",
                pre,
                "--post",
                post,
                "--output-dir",
                folder / "kernels" / post / pre,
            ]
        )
        assert result.returncode == 0, result.stderr
    return folder


def assemble(tmp_path, kernel_dir, config, *extra):
    kernels = tmp_path / "kernels"
    if not kernels.exists():
        shutil.copytree(kernel_dir / "kernels", kernels)
    out = tmp_path / "tensor.h5"
    return run_main(["assemble", config, "--kernels-dir", kernels, "-o", out, *extra]), out


def test_assemble_refuses_kernels_of_another_weight(tmp_path, kernel_dir):
    config = write_config(tmp_path, set_in(["connections", 2, "synapse", "weight"], 0.005))
    result, out = assemble(tmp_path, kernel_dir, config)
    # I->E and, through the g_eff leak, E->E are stale; the message names the change
    assert_bad(
        result,
        "kernels/E/",
        "synapse.weight: 0.0045 in the file, 0.005 in the config",
        outputs=[out],
    )
    result, out = assemble(tmp_path, kernel_dir, config, "--allow-stale")
    assert result.returncode == 0, result.stderr
    assert "warning" in result.stderr and "--allow-stale" in result.stderr
    with h5py.File(out) as fh:
        assert "I/E/lfp.h5" in fh.attrs["stale_inputs"] or "E/I/lfp.h5" in str(
            fh.attrs["stale_inputs"]
        )


def test_assemble_refuses_a_misplaced_kernel_file(tmp_path, kernel_dir):
    config = write_config(tmp_path, lambda data: None)
    kernels = tmp_path / "kernels"
    shutil.copytree(kernel_dir / "kernels", kernels)
    shutil.copy(kernels / "E" / "I" / "lfp.h5", kernels / "E" / "E" / "lfp.h5")
    result, out = assemble(tmp_path, kernel_dir, config)
    assert_bad(result, str(kernels / "E" / "E" / "lfp.h5"), "pre is I, expected E", outputs=[out])


@pytest.mark.parametrize("damage", ["truncated", "empty", "wrong shape"])
def test_assemble_refuses_damaged_kernel_files(tmp_path, kernel_dir, damage):
    config = write_config(tmp_path, lambda data: None)
    kernels = tmp_path / "kernels"
    shutil.copytree(kernel_dir / "kernels", kernels)
    victim = kernels / "I" / "E" / "dipole.h5"
    if damage == "truncated":
        victim.write_bytes(victim.read_bytes()[:1000])
    elif damage == "empty":
        victim.write_bytes(b"")
    else:
        with h5py.File(victim, "r+") as fh:
            del fh["dipole/kernel"]
            fh["dipole/kernel"] = np.zeros((3, 17))
    result, out = assemble(tmp_path, kernel_dir, config)
    assert_bad(result, str(victim), outputs=[out])


def test_assemble_output_may_not_be_an_input(tmp_path, kernel_dir):
    config = write_config(tmp_path, lambda data: None)
    kernels = tmp_path / "kernels"
    shutil.copytree(kernel_dir / "kernels", kernels)
    victim = kernels / "E" / "E" / "lfp.h5"
    before = victim.read_bytes()
    result = run_main(["assemble", config, "--kernels-dir", kernels, "-o", victim])
    assert_bad(result, "-o/--output", "also an input")
    assert victim.read_bytes() == before


def test_stale_temporary_files_are_removed(tmp_path, kernel_dir):
    config = write_config(tmp_path, lambda data: None)
    leftover = tmp_path / ".tensor.tmp-4194999.h5"  # no such process
    leftover.write_bytes(b"half written")
    result, out = assemble(tmp_path, kernel_dir, config)
    assert result.returncode == 0, result.stderr
    assert out.exists() and not leftover.exists()


def test_damaged_cache_is_recomputed(tmp_path):
    config = write_config(tmp_path, lambda data: None)
    cache = tmp_path / "cache"
    first, second = tmp_path / "a.h5", tmp_path / "b.h5"
    args = ["kernel", config, "--pre", "I", "--post", "E", "--engine", "neuron"]
    args += ["--cache", cache, "-o"]
    assert run_main([*args, first]).returncode == 0
    (entry,) = cache.glob("*.h5")
    entry.write_bytes(entry.read_bytes()[:500])
    result = run_main([*args, second])
    assert result.returncode == 0, result.stderr
    with h5py.File(first) as a, h5py.File(second) as b:
        assert np.array_equal(a["lfp/kernel"][()], b["lfp/kernel"][()])


# ------------------------------------------------------------------------ basis files
@pytest.fixture(scope="module")
def basis_file(tmp_path_factory):
    """The response file of E of two_population.yaml (hpckernels basis, linear engine)."""
    folder = tmp_path_factory.mktemp("basis")
    config = write_config(folder, lambda data: None)
    path = folder / "E.h5"
    result = run_main(["basis", config, "--post", "E", "-o", path])
    assert result.returncode == 0, result.stderr
    return path


@pytest.fixture(scope="module")
def responses_file(tmp_path_factory):
    """The basis of E of two_population.yaml with --engine basis (responses per probe)."""
    folder = tmp_path_factory.mktemp("responses")
    config = write_config(folder, lambda data: None)
    path = folder / "E.h5"
    result = run_main(["basis", config, "--post", "E", "--engine", "basis", "-o", path])
    assert result.returncode == 0, result.stderr
    return path


def test_kernel_refuses_a_basis_of_another_config(tmp_path, basis_file, responses_file):
    out = tmp_path / "k.h5"
    # the response file holds the cell: a cell edit is refused, a probe edit is not
    config = write_config(
        tmp_path, set_in(["populations", "E", "cell", "biophysics", "g_pas"], 1e-4)
    )
    args = ["kernel", config, "--pre", "I", "--post", "E", "--basis", basis_file, "-o", out]
    assert_bad(run_main(args), str(basis_file), "biophysics.g_pas", outputs=[out])
    config = write_config(tmp_path, set_in(["probes", "lfp", "sigma"], 0.4))
    ok = tmp_path / "ok.h5"
    args = ["kernel", config, "--pre", "I", "--post", "E", "--basis", basis_file, "-o", ok]
    assert run_main(args).returncode == 0
    # responses of the probes: a probe edit is refused
    args = ["kernel", config, "--pre", "I", "--post", "E", "--engine", "basis"]
    args += ["--basis", responses_file, "-o", out]
    found = "probes.lfp.sigma: 0.3 in the file, 0.4"
    assert_bad(run_main(args), str(responses_file), found, outputs=[out])
    # of another population, and a file that is no basis
    config = write_config(tmp_path, lambda data: None)
    args = ["kernel", config, "--pre", "E", "--post", "I", "--basis", basis_file, "-o", out]
    assert_bad(run_main(args), str(basis_file), "post is E, expected I", outputs=[out])
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as fh:
        fh["x"] = np.zeros(3)
    args[-3] = other
    assert_bad(run_main(args), str(other), "not a basis file", outputs=[out])
    # a linear system is read by the linear engine only
    args = ["kernel", config, "--pre", "I", "--post", "E", "--engine", "basis"]
    args += ["--basis", basis_file, "-o", out]
    assert_bad(run_main(args), str(basis_file), "--engine linear", outputs=[out])


def test_basis_only_with_the_basis_engine_and_into_a_postsynaptic_population(tmp_path, basis_file):
    config = write_config(
        tmp_path, lambda data: data["populations"].update(X={"size": 10, "rate": 1.0})
    )
    out = tmp_path / "k.h5"
    result = run_main(
        [
            "kernel",
            config,
            "--pre",
            "I",
            "--post",
            "E",
            "--engine",
            "neuron",
            "--basis",
            basis_file,
            "-o",
            out,
        ]
    )
    assert_bad(result, "--basis", "--engine basis", outputs=[out])
    result = run_main(["basis", config, "--post", "X", "-o", out])
    assert_bad(result, "--post", "no connection into 'X'", outputs=[out])


def test_damaged_basis_file(tmp_path, basis_file, responses_file):
    config = write_config(tmp_path, lambda data: None)
    damaged = tmp_path / "E.h5"
    shutil.copy(responses_file, damaged)
    with h5py.File(damaged, "r+") as fh:
        group = fh["kinetics"][next(iter(fh["kinetics"]))]["lfp"]
        del group["response"]
        group["response"] = np.zeros((13, 2, 5))
    out = tmp_path / "k.h5"
    args = ["kernel", config, "--pre", "I", "--post", "E", "--engine", "basis"]
    args += ["--basis", damaged, "-o", out]
    assert_bad(run_main(args), str(damaged), "checksum mismatch", outputs=[out])
    # sealed after the edit (a writer that went wrong): the shapes are checked
    from hpckernels.io.h5 import seal

    with h5py.File(damaged, "r+") as fh:
        seal(fh)
    assert_bad(run_main(args), str(damaged), "expected (channels", outputs=[out])
    shutil.copy(basis_file, damaged)
    with h5py.File(damaged, "r+") as fh:
        del fh["system/conductance"]
        fh["system/conductance"] = np.ones(3)
        seal(fh)
    args = ["kernel", config, "--pre", "I", "--post", "E", "--basis", damaged, "-o", out]
    assert_bad(run_main(args), str(damaged), "system's arrays do not fit", outputs=[out])


# --------------------------------------------------------------- signals and figures
def sonata(path, names=("E", "I"), t_stop=1000.0):
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as fh:
        for name in names:
            times = np.sort(rng.uniform(0, t_stop, 200))
            fh[f"spikes/{name}/timestamps"] = times
            fh[f"spikes/{name}/node_ids"] = rng.integers(0, 50, times.size)
    return path


def test_signals_refuse_a_tensor_of_another_config(tmp_path, kernel_dir):
    config = write_config(tmp_path, set_in(["signals"], {"t_stop": 1000.0}))
    result, tensor = assemble(tmp_path, kernel_dir, config)
    assert result.returncode == 0, result.stderr
    spikes = sonata(tmp_path / "spikes.h5")
    edited = tmp_path / "edited"
    edited.mkdir()
    other = write_config(
        edited,
        lambda data: (
            set_in(["signals"], {"t_stop": 1000.0})(data),
            set_in(["populations", "I", "rate"], 9.0)(data),
        ),
    )
    out = tmp_path / "signals.h5"
    result = run_main(["signals", other, "--kernels", tensor, "--spikes", spikes, "-o", out])
    assert_bad(result, str(tensor), "rate", outputs=[out])
    result = run_main(
        ["signals", other, "--kernels", tensor, "--spikes", spikes, "-o", out, "--allow-stale"]
    )
    assert result.returncode == 0, result.stderr
    with h5py.File(out) as fh:
        assert "rate" in fh.attrs["stale_kernels"]
    # the config it was made for is fine; editing only the signals section is too
    t_start = write_config(edited, set_in(["signals"], {"t_start": 100.0, "t_stop": 1000.0}))
    result = run_main(["signals", t_start, "--kernels", tensor, "--spikes", spikes, "-o", out])
    assert result.returncode == 0, result.stderr


def test_signal_warnings(tmp_path, kernel_dir):
    config = write_config(tmp_path, set_in(["signals"], {"t_stop": 1000.0}))
    _, tensor = assemble(tmp_path, kernel_dir, config)
    spikes = sonata(tmp_path / "spikes.h5")
    with h5py.File(spikes, "r+") as fh:  # population I only fires after the window
        fh["spikes/I/timestamps"][...] = np.linspace(1500.0, 1600.0, 200)
    result = run_main(
        ["signals", config, "--kernels", tensor, "--spikes", spikes, "-o", tmp_path / "s.h5"]
    )
    assert result.returncode == 0, result.stderr
    assert "warning: no spikes of population I in [0, 1000) ms" in result.stderr


def test_nest_senders_outside_every_range_are_warned(tmp_path, kernel_dir):
    def edit(data):
        data["signals"] = {"t_stop": 1000.0}
        data["spikes"] = {
            "format": "nest_gdf",
            "files": [str(tmp_path / "x.gdf")],
            "populations": {"E": {"node_ids": [1, 10]}, "I": {"node_ids": [11, 20]}},
        }

    (tmp_path / "x.gdf").write_text(
        "".join(
            f"{s}\t{t:.3f}\n"
            for s, t in zip([1, 5, 15, 42, 99], [10, 20, 30, 40, 50], strict=True)
        )
    )
    config = write_config(tmp_path, edit)
    _, tensor = assemble(tmp_path, kernel_dir, config)
    result = run_main(["signals", config, "--kernels", tensor, "-o", tmp_path / "s.h5"])
    assert result.returncode == 0, result.stderr
    assert "2 spikes of 2 senders (42, 99)" in result.stderr
    assert "spikes.populations" in result.stderr


def test_nest_header_hint_names_the_config_value(tmp_path):
    from hpckernels.errors import InputError
    from hpckernels.io.spikes import read_spike_times

    path = tmp_path / "spike_recorder-1-0.dat"
    path.write_text("3\t10.5\n4\t11.0\n")
    with pytest.raises(InputError, match="set spikes.format: nest_gdf"):
        read_spike_times(path, {"E": (1, 10)}, format="nest_ascii")


def test_plot_kernels_on_a_pathway_file(tmp_path, kernel_dir):
    out = tmp_path / "k.png"
    result = run_main(
        [
            "plot-kernels",
            kernel_dir / "kernels" / "E" / "I" / "lfp.h5",
            "--probe",
            "lfp",
            "-o",
            out,
        ]
    )
    assert_bad(result, "lfp.h5", "not a kernel tensor", outputs=[out])


def test_plot_signals_on_a_file_that_is_not_signals(tmp_path):
    spikes = sonata(tmp_path / "spikes.h5")
    figures = tmp_path / "figures"
    result = run_main(["plot-signals", spikes, "--output-dir", figures])
    assert_bad(result, str(spikes), "not a signals file")
    assert not figures.exists()


# --------------------------------------------------------------- network and warnings
def test_network_larger_than_memory_is_refused_before_building(tmp_path):
    def edit(data):
        data["populations"]["E"]["size"] = 2_000_000
        data["network"]["scale"] = 1.0

    base = yaml.safe_load((CONFIGS / "config.yaml").read_text())
    folder = tmp_path / "cfg"
    shutil.copytree(CONFIGS / "morphologies", folder / "morphologies")
    edit(base)
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump(base))
    out = tmp_path / "spikes.h5"
    result = run_main(["network", config, "-o", out])
    assert_bad(result, "network.scale", "of memory", outputs=[out])


def test_probability_zero_is_warned(tmp_path):
    result = run_main(
        ["validate", write_config(tmp_path, set_in(["connections", 1, "probability"], 0.0))]
    )
    assert result.returncode == 0, result.stderr
    assert "warning: connections[1].probability is 0" in result.stderr


def test_no_numprocs_noise_on_stdout(tmp_path):
    config = write_config(tmp_path, lambda data: None)
    result = run_cli(["kernel", config, "--pre", "I", "--post", "E", "-o", tmp_path / "k.h5"])
    assert result.returncode == 0 and result.stdout == "", result.stdout
