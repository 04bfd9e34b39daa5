"""Compile and load NMODL mechanisms: the package's own (``mod/``) and a config's.

The package ships its mechanisms (``mod/``, installed as ``hpckernels/mod``). They
are compiled with ``nrnivmodl``, together with any extra mechanism folders, into a
per-user cache folder keyed by a hash of the mod files' contents, the NEURON
version and the machine type, and loaded by absolute path. NEURON also loads
``./x86_64`` from the working directory on import; building elsewhere keeps a stale
library from shadowing the right one. Compiling is never done from MPI ranks:
``hpckernels mechanisms`` (``make setup``, the workflow's first rule) builds them
beforehand.

The cache folder is ``$HPCKERNELS_CACHE_DIR``, else ``$XDG_CACHE_HOME/hpckernels``,
else ``~/.cache/hpckernels``.
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

#: The package's own mechanisms (current-based synapses).
MOD_DIR = Path(__file__).resolve().parent / "mod"

_loaded = set()


def cache_root():
    """Per-user cache folder of hpckernels."""
    explicit = os.environ.get("HPCKERNELS_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hpckernels"


def _neuron_version():
    # importlib.metadata avoids importing neuron (which must follow mpi4py)
    from importlib.metadata import version

    return version("neuron")


def mod_files(mod_dirs=(MOD_DIR,)):
    """Sorted .mod files of all folders; file names must be unique across folders."""
    files = {}
    for folder in map(Path, mod_dirs):
        if not folder.is_dir():
            raise InputError(str(folder), "mechanism folder not found")
        found = sorted(folder.glob("*.mod"))
        if not found:
            raise InputError(str(folder), "no .mod files in this mechanism folder")
        for path in found:
            if path.name in files:
                raise InputError(
                    str(path),
                    f"a mechanism file of this name is also in {files[path.name].parent}",
                )
            files[path.name] = path
    return [files[name] for name in sorted(files)]


def build_key(mod_dirs=(MOD_DIR,)):
    """Hash of the mod files' names and contents, the NEURON version and the machine."""
    digest = hashlib.sha256()
    for path in mod_files(mod_dirs):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(_neuron_version().encode() + platform.machine().encode())
    return digest.hexdigest()[:16]


def build_dir(mod_dirs=(MOD_DIR,)):
    """Folder holding the compiled mechanisms of these mod files."""
    return cache_root() / "mechanisms" / build_key(mod_dirs)


def library_path(directory):
    """Path of the compiled shared library inside a build folder, or None."""
    for candidate in (
        Path(directory) / platform.machine() / "libnrnmech.so",
        Path(directory) / platform.machine() / ".libs" / "libnrnmech.so",
    ):
        if candidate.is_file():
            return candidate
    return None


def compile_mechanisms(mod_dirs=(MOD_DIR,), quiet=True):
    """Compile the mod files unless a build of them exists; return the build folder.

    The build happens in a temporary folder that is renamed into place, so an
    interrupted compile never looks finished and concurrent compiles do not clash
    (the loser's build is discarded).
    """
    target = build_dir(mod_dirs)
    if library_path(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        for path in mod_files(mod_dirs):
            shutil.copy2(path, scratch / path.name)
        bindir = str(Path(sys.executable).parent)
        search = bindir + os.pathsep + os.environ.get("PATH", "")
        nrnivmodl = shutil.which("nrnivmodl", path=search)
        if nrnivmodl is None:
            raise InputError("nrnivmodl", "not found; install NEURON (pip install neuron)")
        result = subprocess.run(
            [nrnivmodl],
            cwd=scratch,
            env=dict(os.environ, PATH=search),
            capture_output=True,
            text=True,
        )
        if result.returncode != 0 or library_path(scratch) is None:
            sys.stderr.write(result.stdout + result.stderr)
            raise InputError(
                ", ".join(map(str, mod_dirs)), "nrnivmodl failed (its output is above)"
            )
        if not quiet:
            print(f"compiled mechanisms into {target}", file=sys.stderr)
        try:
            scratch.rename(target)
        except OSError:
            if not library_path(target):
                raise
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
    return target


def import_neuron():
    """Import NEURON without the ``numprocs=N`` line it prints on stdout under MPI.

    Import mpi4py first when MPI is wanted: NEURON then joins its communicator.
    """
    if "neuron" in sys.modules:
        return sys.modules["neuron"]
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        import neuron
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
    return neuron


def load_mechanisms(mod_dirs=(MOD_DIR,), allow_compile=True):
    """Load the compiled mechanisms into NEURON (once per process).

    Parameters
    ----------
    allow_compile : bool
        Compile first if no build exists. Must be False inside MPI runs with more than
        one rank; then a missing build is an error.
    """
    h = import_neuron().h
    target = build_dir(mod_dirs)
    if target in _loaded:
        return
    if library_path(target) is None:
        if not allow_compile:
            raise InputError(
                str(target),
                "mechanisms are not compiled; run "
                "'hpckernels mechanisms' before starting MPI ranks",
            )
        compile_mechanisms(mod_dirs)
    h.nrn_load_dll(str(library_path(target).resolve()))
    _loaded.add(target)
