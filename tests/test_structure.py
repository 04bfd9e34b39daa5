"""The package's structure: its layering (wings import only downwards), no import
cycles, and the type registries match the schema."""

import ast
from pathlib import Path

import pytest
from conftest import REPO

from hpckernels.biophysics import BIOPHYSICS
from hpckernels.config import load_schema
from hpckernels.engines import DEFAULT_ENGINE, ENGINES
from hpckernels.io.signals import SIGNAL_FORMATS
from hpckernels.io.spikes import SPIKE_FORMATS
from hpckernels.probes import PROBES
from hpckernels.synapses import SYNAPSE_MODELS

pytestmark = pytest.mark.unit

PACKAGE = REPO / "hpckernels"


def module_name(path):
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path, modules):
    """Modules of the package that ``path`` imports anywhere (functions included)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t in modules and t != name)
    return found


def import_graph():
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: imported_modules(path, paths) for name, path in paths.items()}


#: The layers of the package, bottom up: a module may import modules of its own layer and
#: of the layers below, never above. Engines and io are side by side and import neither
#: each other.
LAYERS = {
    "foundation": [
        "hpckernels",
        "errors",
        "console",
        "registry",
        "hashing",
        "resources",
        "datatypes",
    ],
    "model": [
        "config",
        "inputs",
        "synapses",
        "distributions",
        "biophysics",
        "linearization",
        "cell",
        "simulator",
        "mechanisms",
        "binning",
        "convolution",
        "signals",
        "network",
        "probes",
        "usercache",
    ],
    "engines": ["engines"],
    "io": ["io"],
    "validation": ["validation"],
    "application": ["steps", "plotting", "commands", "cli", "__main__", "cellcheck", "runtime"],
    # the Python API (hpckernels.api) calls the steps, engines, io and plots: on top
    "api": ["api"],
}
RANK = {
    "foundation": 0,
    "model": 1,
    "engines": 2,
    "io": 2,
    "validation": 3,
    "application": 4,
    "api": 5,
}


#: Imports against the layers that are allowed: the package re-exports the API's
#: functions lazily (``hpckernels.__getattr__``), so ``import hpckernels`` loads nothing
#: above the foundation.
LAZY_EXPORTS = {("hpckernels", "hpckernels.api")}


def layer_of(module):
    """The layer of a package module (by its first component below ``hpckernels``)."""
    parts = module.split(".")
    head = parts[1] if len(parts) > 1 else "hpckernels"
    found = [layer for layer, names in LAYERS.items() if head in names]
    assert len(found) == 1, f"{module} is in no layer of tests/test_structure.py"
    return found[0]


def test_layers_import_only_downwards():
    """Physics imports no file layout or engine; io imports no engine and engines no io;
    validation imports no command, plot or step."""
    bad = []
    for name, targets in import_graph().items():
        mine = layer_of(name)
        for target in targets:
            if (name, target) in LAZY_EXPORTS:
                continue
            theirs = layer_of(target)
            if RANK[theirs] > RANK[mine] or (mine != theirs and RANK[mine] == RANK[theirs]):
                bad.append(f"{name} ({mine}) imports {target} ({theirs})")
    assert not bad, "\n".join(bad)


def test_layering_check_catches_an_upward_import(tmp_path, monkeypatch):
    """The check is not vacuous: a physics module importing an engine is reported."""
    graph = import_graph()
    graph["hpckernels.cell"] = {*graph["hpckernels.cell"], "hpckernels.engines.basis"}
    monkeypatch.setattr(__import__(__name__), "import_graph", lambda: graph, raising=False)
    with pytest.raises(AssertionError, match="hpckernels.cell .model. imports"):
        test_layers_import_only_downwards()


def test_no_import_cycles():
    graph = import_graph()
    # a package's __init__ importing its submodules is not a cycle with them
    for name, targets in graph.items():
        graph[name] = {t for t in targets if not name.startswith(t + ".")}
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target) :] + [target])
            elif target not in state:
                visit(target, [*stack, target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize(
    "registry,path",
    [
        (SYNAPSE_MODELS, ["$defs", "synapse"]),
        (BIOPHYSICS, ["$defs", "biophysics"]),
        (PROBES, ["$defs", "probe"]),
    ],
)
def test_registered_types_are_the_schema_types(registry, path):
    """Each registered class has its schema entry: the type enum and an if/then that
    validates its parameters with $defs/<kind>_<name>."""
    schema = load_schema()
    node = schema
    for key in path:
        node = node[key]
    assert set(node["properties"]["type"]["enum"]) == set(registry)
    branches = {b["if"]["properties"]["type"]["const"]: b["then"]["$ref"] for b in node["allOf"]}
    assert set(branches) == set(registry)
    for name, ref in branches.items():
        assert ref == f"#/$defs/{path[-1]}_{name}" and f"{path[-1]}_{name}" in schema["$defs"]


def test_spike_formats_are_the_schema_formats():
    schema = load_schema()
    assert set(schema["properties"]["spikes"]["properties"]["format"]["enum"]) == set(
        SPIKE_FORMATS
    )


def test_signal_formats_are_the_schema_formats():
    schema = load_schema()
    assert set(schema["properties"]["signals"]["properties"]["format"]["enum"]) == set(
        SIGNAL_FORMATS
    )


def test_engines_fill_the_seam():
    """Every registered engine is an Engine with a name; the default is registered; the
    kernel command takes its engine from the registry (no list of names of its own)."""
    assert DEFAULT_ENGINE in ENGINES and {"basis", "neuron"} <= set(ENGINES)
    for name, cls in ENGINES.items():
        assert cls.name == name and cls.description
    source = (PACKAGE / "commands" / "kernel.py").read_text()
    assert '"neuron"' not in source and "choices=" not in source.split("--engine")[1][:200]


def test_workflow_schema_is_the_package_schema():
    link = REPO / "workflow" / "schemas" / "config.schema.yaml"
    assert link.resolve() == (PACKAGE / "schemas" / "config.schema.yaml").resolve()
    assert Path(PACKAGE / "mod").resolve() == (REPO / "mod").resolve()
