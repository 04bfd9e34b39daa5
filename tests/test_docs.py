"""Documentation: the site builds without a warning (Sphinx -W, nitpicky), and the
configuration reference, generated from the schema, names every key of the schema."""

import html
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, hpckernels_env

pytestmark = [pytest.mark.unit, pytest.mark.slow]

DOCS = REPO / "docs"
SCHEMA = REPO / "hpckernels" / "schemas" / "config.schema.yaml"

sys.path.insert(0, str(DOCS / "_ext"))
from schema_reference import property_names  # noqa: E402


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site built as `make docs` builds it, into a temporary folder."""
    out = tmp_path_factory.mktemp("docs")
    sphinx = Path(sys.executable).parent / "sphinx-build"
    result = subprocess.run(
        [
            sphinx,
            "-W",
            "--keep-going",
            "-n",
            "-q",
            "-b",
            "html",
            "-d",
            out / "doctrees",
            DOCS,
            out / "html",
        ],
        capture_output=True,
        text=True,
        env=hpckernels_env(),
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    assert "WARNING" not in result.stderr, result.stderr[-5000:]
    return out / "html"


def literals(page):
    """Text of every inline literal of an HTML page."""
    found = re.findall(r'<code class="docutils literal[^"]*">(.*?)</code>', page, re.S)
    return {html.unescape(re.sub(r"<[^>]+>", "", text)).strip() for text in found}


def walk_names(schema):
    """Every property name of the schema, collected here by a walk of its own."""
    names = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("properties"), dict):
                names.update(node["properties"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return names


def test_site_builds_without_warnings(site):
    for page in ("index", "theory", "config-reference", "api", "layout", "benchmarks"):
        assert (site / f"{page}.html").is_file(), page
    # API pages follow the package: one per module found by autosummary's walk
    api = {p.stem for p in (site / "api").glob("hpckernels.*.html")}
    modules = {
        "hpckernels." + ".".join(p.relative_to(REPO / "hpckernels").with_suffix("").parts)
        for p in (REPO / "hpckernels").rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
    }
    assert modules <= api, sorted(modules - api)


def test_config_reference_names_every_schema_key(site):
    schema = yaml.safe_load(SCHEMA.read_text())
    names = walk_names(schema)
    assert names == property_names(schema)  # the extension's walk finds the same names
    assert {"simulation", "dt", "tau1", "population_average", "node_ids", "sigma_z"} <= names
    page = (site / "config-reference.html").read_text()
    keys = literals(page)
    # a key appears as its path (populations.<name>.size) or, in a definition, alone
    last = {key.rsplit(".", 1)[-1].removesuffix("[]") for key in keys}
    missing = sorted(names - last)
    assert not missing, f"keys of the schema missing from the reference: {missing}"
    # every type of every discriminated definition has its own table
    for definition in ("synapse", "biophysics", "probe"):
        for value in schema["$defs"][definition]["properties"]["type"]["enum"]:
            assert f"{definition} type <code" in page and value in keys, (definition, value)
    for fmt in schema["properties"]["spikes"]["properties"]["format"]["enum"]:
        assert fmt in keys, fmt
