"""Packaging: pyproject.toml declares ranges, constraints.txt the tested versions, the
conda files agree with it, and a wheel alone computes a kernel (with and without the
constraints)."""

import os
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from conftest import CONFIGS, REPO, hpckernels_env, run_cli
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

pytestmark = pytest.mark.unit

CONSTRAINTS = REPO / "constraints.txt"


def pins(lines):
    """{canonical name: version} of 'name==version' lines (comments and blanks skipped)."""
    out = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, pinned = line.partition("==")
        assert pinned, f"{line} is not pinned with =="
        key = canonicalize_name(name)
        assert key not in out, f"{name} is listed twice"
        out[key] = pinned.strip()
    return out


def declared(requirements):
    """{canonical name: Requirement} of a pyproject.toml requirement list."""
    return {canonicalize_name(Requirement(r).name): Requirement(r) for r in requirements}


def project():
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def conda_file(path):
    """(conda packages, pip pins) of a conda environment file."""
    data = yaml.safe_load(path.read_text())
    conda = [d for d in data["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in data["dependencies"] if isinstance(d, dict))
    return conda, pins(pip)


def test_pyproject_declares_ranges_that_hold_the_tested_versions():
    """Every dependency and extra is a range (no == pin), and the version constraints.txt
    pins for it lies in that range; the test suite runs with exactly those versions."""
    meta = project()
    groups = {"dependencies": meta["dependencies"], **meta["optional-dependencies"]}
    assert {"workflow", "test", "docs", "nwb", "mne", "notebook"} <= set(groups)
    tested = pins(CONSTRAINTS.read_text().splitlines())
    for group, requirements in groups.items():
        for key, requirement in declared(requirements).items():
            operators = {spec.operator for spec in requirement.specifier}
            assert operators and not operators & {"==", "==="}, (group, str(requirement))
            assert ">=" in operators, (group, str(requirement), "needs a lower bound")
            assert key in tested, f"{requirement.name} ({group}) is not in constraints.txt"
            assert requirement.specifier.contains(Version(tested[key]), prereleases=True), (
                group,
                str(requirement),
                tested[key],
            )
            # pinned to what this test suite runs with
            assert version(requirement.name) == tested[key], (
                requirement.name,
                version(requirement.name),
                tested[key],
            )
    # make setup installs with the constraints, every extra included
    makefile = (REPO / "Makefile").read_text()
    assert "-c constraints.txt -e '.[$(EXTRAS)]'" in makefile
    extras = makefile.split("EXTRAS := ", 1)[1].split()[0].split(",")
    assert set(extras) == set(meta["optional-dependencies"]), extras


def test_conda_files_pin_the_constraints_versions():
    meta = project()
    tested = pins(CONSTRAINTS.read_text().splitlines())
    runtime = set(declared(meta["dependencies"]))
    extras = meta["optional-dependencies"]
    workflow = set(declared(extras["workflow"]))
    # the rules also export NWB (pynwb) and draw EEG scalp maps (MNE)
    rules = runtime | set(declared(extras["nwb"])) | set(declared(extras["mne"]))
    rules_conda, rules_pip = conda_file(REPO / "workflow" / "envs" / "hpckernels.yaml")
    user_conda, user_pip = conda_file(REPO / "environment.yml")
    # the rules need the package's dependencies; users also need Snakemake
    assert set(rules_pip) == rules
    assert set(user_pip) == rules | workflow
    for pip in (rules_pip, user_pip):
        assert pip == {key: tested[key] for key in pip}
    # besides Python packages the rules call mpiexec (MPI kernel jobs), a C++ compiler and
    # make (nrnivmodl, mechanisms rule); NEST (network rule) is a pip package
    for conda in (rules_conda, user_conda):
        names = {c.split("=")[0] for c in conda}
        assert {"python", "openmpi", "cxx-compiler", "make", "pip"} <= names, names
    assert "nest-simulator" in runtime


@pytest.mark.slow
@pytest.mark.parametrize("constrained", [True, False], ids=["constraints", "newest"])
def test_wheel_alone_computes_a_kernel_from_another_folder(tmp_path, constrained):
    """pip install of the wheel (not editable) into a fresh venv, with constraints.txt
    (the tested versions) or without (whatever pip resolves in the declared ranges, the
    newest releases): `hpckernels mechanisms` compiles the packaged mod files into the
    user cache and `hpckernels kernel` run from another folder gives the kernel of the
    source tree."""
    source = tmp_path / "source"
    shutil.copytree(
        REPO,
        source,
        symlinks=True,
        ignore=shutil.ignore_patterns(
            ".venv",
            ".git",
            "results",
            ".snakemake",
            "*.egg-info",
            "build",
            "_build",
            "__pycache__",
        ),
    )
    dist = tmp_path / "dist"
    env = hpckernels_env()
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, source],
        check=True,
        env=env,
        timeout=600,
    )
    (wheel,) = dist.glob("hpckernels-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True, timeout=300)
    constraints = ["-c", CONSTRAINTS] if constrained else []
    subprocess.run(
        [venv / "bin" / "python", "-m", "pip", "install", "-q", *constraints, wheel],
        check=True,
        env=env,
        timeout=1800,
    )
    # what pip chose: inside the declared ranges, and the tested versions with -c
    freeze = subprocess.run(
        [venv / "bin" / "python", "-m", "pip", "freeze"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.splitlines()
    chosen = pins(line for line in freeze if "==" in line)
    tested = pins(CONSTRAINTS.read_text().splitlines())
    runtime = declared(project()["dependencies"])
    print("resolved:", ", ".join(f"{key}=={chosen[key]}" for key in runtime))
    for key, requirement in runtime.items():
        assert requirement.specifier.contains(Version(chosen[key]), prereleases=True)
        if constrained:
            assert chosen[key] == tested[key], (key, chosen[key], tested[key])

    work = tmp_path / "elsewhere"
    shutil.copytree(CONFIGS / "morphologies", work / "morphologies")
    shutil.copy(CONFIGS / "readme_example.yaml", work / "config.yaml")
    clean = {k: v for k, v in env.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    clean["PATH"] = str(venv / "bin") + os.pathsep + os.environ["PATH"]
    clean["HPCKERNELS_CACHE_DIR"] = str(tmp_path / "cache")
    exe = str(venv / "bin" / "hpckernels")
    installed = subprocess.run(
        [
            venv / "bin" / "python",
            "-c",
            "import hpckernels, pathlib; print(pathlib.Path(hpckernels.__file__).parent)",
        ],
        cwd=work,
        env=clean,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(installed.stdout.strip()).is_relative_to(venv)
    built = subprocess.run(
        [exe, "mechanisms"], cwd=work, env=clean, capture_output=True, text=True, timeout=600
    )
    assert built.returncode == 0, built.stderr
    assert Path(built.stdout.strip()).is_relative_to(tmp_path / "cache")
    out = work / "H_IE.h5"
    result = subprocess.run(
        [exe, "kernel", "config.yaml", "--pre", "I", "--post", "E", "-o", out.name],
        cwd=work,
        env=clean,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr

    reference = tmp_path / "reference.h5"
    assert (
        run_cli(
            [
                "kernel",
                CONFIGS / "readme_example.yaml",
                "--pre",
                "I",
                "--post",
                "E",
                "-o",
                reference,
            ]
        ).returncode
        == 0
    )
    with h5py.File(out) as fh, h5py.File(reference) as ref:
        kernel, expected = (
            fh["GaussCylinderPotential/kernel"][()],
            ref["GaussCylinderPotential/kernel"][()],
        )
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose(kernel, expected, rtol=0, atol=1e-12 * np.abs(expected).max())
