"""Packaging: the dependency lists agree, and a wheel alone computes a kernel."""

import os
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import h5py
import numpy as np
import pytest
import tomllib
import yaml
from conftest import CONFIGS, REPO, hpckernels_env, run_cli

pytestmark = pytest.mark.unit


def pins(requirements):
    """{name (lower case): version} of 'name==version' requirements."""
    out = {}
    for requirement in requirements:
        name, _, pinned = requirement.partition("==")
        assert pinned, f"{requirement} is not pinned with =="
        out[name.strip().lower()] = pinned.strip()
    return out


def conda_file(path):
    """(conda packages, pip pins) of a conda environment file."""
    data = yaml.safe_load(path.read_text())
    conda = [d for d in data["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in data["dependencies"] if isinstance(d, dict))
    return conda, pins(pip)


def test_dependency_lists_agree_and_are_the_tested_versions():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    runtime = pins(project["dependencies"])
    workflow = pins(project["optional-dependencies"]["workflow"])
    rules_conda, rules_pip = conda_file(REPO / "workflow" / "envs" / "hpckernels.yaml")
    user_conda, user_pip = conda_file(REPO / "environment.yml")
    # the rules need the package's dependencies; users also need Snakemake
    assert rules_pip == runtime
    assert user_pip == {**runtime, **workflow}
    # pinned to what this test suite runs with
    for name, pinned in {**runtime, **workflow}.items():
        assert version(name) == pinned, (name, version(name), pinned)
    # besides Python packages the rules call mpiexec (pathway jobs), a C++ compiler and
    # make (nrnivmodl, mechanisms rule); NEST (network rule) is a pip package
    for conda in (rules_conda, user_conda):
        names = {c.split("=")[0] for c in conda}
        assert {"python", "openmpi", "cxx-compiler", "make", "pip"} <= names, names
    assert "nest-simulator" in runtime


@pytest.mark.slow
def test_wheel_alone_computes_a_kernel_from_another_folder(tmp_path):
    """pip install of the wheel (not editable) into a fresh venv: `hpckernels mechanisms`
    compiles the packaged mod files into the user cache and `hpckernels kernel` run from
    another folder gives the kernel of the source tree."""
    source = tmp_path / "source"
    shutil.copytree(
        REPO,
        source,
        symlinks=True,
        ignore=shutil.ignore_patterns(
            ".venv", ".git", "results", ".snakemake", "*.egg-info", "build", "__pycache__"
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
    subprocess.run(
        [venv / "bin" / "python", "-m", "pip", "install", "-q", wheel],
        check=True,
        env=env,
        timeout=1800,
    )

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
