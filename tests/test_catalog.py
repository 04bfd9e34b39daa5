"""The Snakemake workflow catalog's conventions: .snakemake-workflow-catalog.yml,
config/README.md generated from the schema, the small .test/ run end to end from its own
folder (`snakemake --directory .test`, then the NWB target), benchmark files of the heavy
rules, and the HTML report opened in headless Chromium with every figure in it."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import REPO, hpckernels_env
from test_nwb import check_inspector

from hpckernels.plotting import expected_figures

TEST_DIR = REPO / ".test"
RESULTS = TEST_DIR / "results" / "test"
PROBES = ("lfp", "csd", "dipole", "eeg", "meg")
PROBE_TYPES = [
    "GaussCylinderPotential",
    "GaussCylinderCSD",
    "CurrentDipoleMoment",
    "FourSphereVolumeConductor",
    "InfiniteHomogeneousVolCondMEG",
]


def snakemake(*args, timeout=900):
    exe = str(Path(sys.executable).parent / "snakemake")
    return subprocess.run(
        [exe, "-s", str(REPO / "workflow" / "Snakefile"), "--directory", ".test", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=hpckernels_env(),
        timeout=timeout,
    )


def figure_names():
    names = expected_figures(PROBE_TYPES, sonata=True, pathways=True)
    return names + [f"kernels_{probe}.png" for probe in PROBES]


@pytest.fixture(scope="module")
def test_run():
    """The workflow on .test/config/config.yaml from an empty results folder, then the
    NWB target and the report."""
    for path in (TEST_DIR / "results", TEST_DIR / ".snakemake"):
        shutil.rmtree(path, ignore_errors=True)
    (TEST_DIR / "report.html").unlink(missing_ok=True)
    result = snakemake("--profile", str(REPO / "cluster_profiles" / "local"), "all", "nwb")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    result = snakemake("--report", "report.html")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return TEST_DIR / "report.html"


@pytest.mark.workflow
@pytest.mark.slow
def test_test_folder_runs_end_to_end_with_benchmarks(test_run):
    for name in figure_names():
        assert (RESULTS / "figures" / name).stat().st_size > 0, name
    assert len(figure_names()) == 14  # with the EEG scalp maps (MNE)
    # benchmark: files of the heavy rules (Snakemake measures; no timing parsed from logs)
    tables = sorted((RESULTS / "benchmarks").rglob("*.tsv"))
    names = {str(p.relative_to(RESULTS / "benchmarks")) for p in tables}
    assert {"network.tsv", "signals.tsv", "basis/E.tsv", "basis/I.tsv"} <= names
    assert {f"kernels/{y}/{x}/lfp.tsv" for y in "EI" for x in "EI"} <= names
    for table in tables:
        header, row = table.read_text().splitlines()[:2]
        columns = dict(zip(header.split("\t"), row.split("\t"), strict=False))
        assert float(columns["s"]) > 0 and "max_rss" in columns, table


@pytest.mark.workflow
@pytest.mark.slow
def test_test_run_nwb_passes_nwbinspector(test_run):
    messages = check_inspector(RESULTS / "test.nwb")
    # what is left are suggestions for the people who share the file
    assert {m.check_function_name for m in messages} <= {
        "check_experimenter_exists",
        "check_institution",
    }


def render(url, tmp_path):
    """The DOM of a page after its scripts ran, and a screenshot, from headless Chromium."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser, "chromium is installed by make setup"
    flags = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'chromium'}",
        "--virtual-time-budget=15000",
    ]
    dom = subprocess.run(
        [*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120
    ).stdout
    shot = tmp_path / "report.png"
    subprocess.run(
        [*flags, f"--screenshot={shot}", "--window-size=1280,900", url],
        capture_output=True,
        timeout=120,
    )
    return dom, shot


@pytest.mark.workflow
@pytest.mark.slow
def test_report_renders_in_chromium_with_every_figure(test_run, tmp_path):
    import matplotlib.image

    raw = test_run.read_text()
    embedded = set(re.findall(r"filename=([\w.]+);base64", raw))
    assert set(figure_names()) <= embedded, set(figure_names()) - embedded
    dom, shot = render(test_run.as_uri(), tmp_path)
    # the page's scripts ran: the app replaced the loading screen with its navigation
    app = dom.split('<div id="app">', 1)[1]
    assert 'id="loading-screen" style="display: none;"' in dom
    text = [t.strip() for t in re.split(r"<[^>]+>", app.split("<script", 1)[0]) if t.strip()]
    for word in ("Results", "Kernels", "Signals"):
        assert word in text, text[:40]
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (900, 1280) and pixels[..., :3].std() > 0.05


@pytest.mark.workflow
def test_report_subcategories_by_probe_and_population(tmp_path):
    """A dry run's report items: kernel figures by probe, signal figures by the probe
    they draw (spikes and pathways on their own), linearization by population."""
    common = (REPO / "workflow" / "rules" / "common.smk").read_text()
    figures = (REPO / "workflow" / "rules" / "figures.smk").read_text()
    assert 'subcategory="{probe}"' in figures
    assert 'subcategory="population {post}"' in figures
    assert "subcategory=figure_subcategory(name)" in common


@pytest.mark.workflow
def test_lint_of_the_test_folder():
    result = snakemake("--lint")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations" in result.stdout + result.stderr


@pytest.mark.unit
def test_catalog_file_names_the_usage():
    data = yaml.safe_load((REPO / ".snakemake-workflow-catalog.yml").read_text())
    usage = data["usage"]
    assert "--profile" in usage["mandatory-flags"]["flags"]
    assert usage["software-stack-deployment"]["conda"] is True
    assert usage["report"] is True
    assert (REPO / "config" / "config.yaml").is_file()
    assert (TEST_DIR / "config" / "config.yaml").is_file()


@pytest.mark.unit
def test_config_readme_is_generated_from_the_schema():
    sys.path.insert(0, str(REPO / "docs" / "_ext"))
    from config_readme import OUTPUT, generate
    from schema_reference import property_names

    text = OUTPUT.read_text()
    assert text == generate(), "config/README.md is stale: run make config-readme"
    schema = yaml.safe_load((REPO / "hpckernels/schemas/config.schema.yaml").read_text())
    keys = set(re.findall(r"`([A-Za-z_<>\[\].0-9]+)`", text))
    leaves = {k.split(".")[-1].removesuffix("[]") for k in keys}
    missing = sorted(property_names(schema) - leaves)
    assert not missing, missing
    assert np.all([line.count("|") % 2 == 0 or "\\|" in line for line in text.splitlines()])
