"""Compile and load the NMODL mechanisms in ``mod/``.

Mechanisms are compiled once into a build folder keyed by a hash of the mod
files and the NEURON version, and loaded by absolute path. NEURON also loads
``./x86_64`` from the working directory on import; building elsewhere keeps a
stale library from shadowing the right one. Compiling is never done from MPI
ranks: ``hpckernels mechanisms`` (or ``make setup``, or the workflow's first
rule) builds them beforehand.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .errors import InputError

MOD_DIR = Path(os.environ.get("HPCKERNELS_MOD_DIR", Path(__file__).resolve().parents[1] / "mod"))
BUILD_ROOT = Path(os.environ.get("HPCKERNELS_BUILD_DIR",
                                 Path(__file__).resolve().parents[1] / ".build"))


def _neuron_version():
    # importlib.metadata avoids importing neuron (which must follow mpi4py)
    from importlib.metadata import version

    return version("neuron")


def mod_files(mod_dir=MOD_DIR):
    """Sorted list of the .mod files."""
    files = sorted(Path(mod_dir).glob("*.mod"))
    if not files:
        raise InputError(str(mod_dir), "no .mod files found")
    return files


def build_key(mod_dir=MOD_DIR):
    """Hash of the mod files' contents, the NEURON version and the machine type."""
    digest = hashlib.sha256()
    for path in mod_files(mod_dir):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(_neuron_version().encode() + platform.machine().encode())
    return digest.hexdigest()[:16]


def build_dir(mod_dir=MOD_DIR, build_root=BUILD_ROOT):
    """Folder holding the compiled mechanisms for the current mod files."""
    return Path(build_root) / "mechanisms" / build_key(mod_dir)


def library_path(directory):
    """Path of the compiled shared library inside a build folder, or None."""
    for candidate in (Path(directory) / platform.machine() / "libnrnmech.so",
                      Path(directory) / platform.machine() / ".libs" / "libnrnmech.so"):
        if candidate.is_file():
            return candidate
    return None


def compile_mechanisms(mod_dir=MOD_DIR, build_root=BUILD_ROOT, quiet=True):
    """Compile the mod files unless a build for them exists; return the build folder.

    The build happens in a temporary folder that is renamed into place, so an
    interrupted compile never looks finished and concurrent compiles do not
    clash (the loser's build is discarded).
    """
    target = build_dir(mod_dir, build_root)
    if library_path(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        for path in mod_files(mod_dir):
            shutil.copy2(path, scratch / path.name)
        bindir = str(Path(sys.executable).parent)
        nrnivmodl = shutil.which("nrnivmodl", path=bindir + os.pathsep + os.environ["PATH"])
        if nrnivmodl is None:
            raise InputError("nrnivmodl", "not found; install NEURON (pip install neuron)")
        env = dict(os.environ, PATH=bindir + os.pathsep + os.environ["PATH"])
        result = subprocess.run([nrnivmodl], cwd=scratch, env=env, capture_output=True,
                                text=True)
        if result.returncode != 0 or library_path(scratch) is None:
            sys.stderr.write(result.stdout + result.stderr)
            raise InputError(str(mod_dir), "nrnivmodl failed (output above)")
        if not quiet:
            print(f"compiled mechanisms into {target}")
        try:
            scratch.rename(target)
        except OSError:
            if not library_path(target):
                raise
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
    return target


def load_mechanisms(mod_dir=MOD_DIR, build_root=BUILD_ROOT, allow_compile=True):
    """Load the compiled mechanisms into NEURON (once per process).

    Parameters
    ----------
    allow_compile : bool
        Compile first if no build exists. Must be False inside MPI runs with
        more than one rank; then a missing build is an error.
    """
    from neuron import h

    if hasattr(h, "Exp2SynI"):
        return
    target = build_dir(mod_dir, build_root)
    if library_path(target) is None:
        if not allow_compile:
            raise InputError(str(target), "mechanisms are not compiled; run "
                                          "'hpckernels mechanisms' before starting MPI ranks")
        compile_mechanisms(mod_dir, build_root)
    h.nrn_load_dll(str(library_path(target).resolve()))
