"""Compile and load NMODL mechanisms: the package's own (``mod/``) and a config's.

The package ships its mechanisms (``mod/``, installed as ``hpckernels/mod``). A config
may list folders of its own (``mechanisms: [folder, ...]``, e.g. the ion channels of an
active cell model). Each folder is compiled with ``nrnivmodl`` into its own library in a
per-user cache folder keyed by a hash of its mod files' contents, the NEURON version
and the machine type, and loaded by absolute path; so any set of folders can be loaded
into one process (a mechanism name may be defined in one folder only). NEURON also loads
``./x86_64`` from the working directory on import; building elsewhere keeps a stale
library from shadowing the right one. Compiling is never done from MPI ranks:
``hpckernels mechanisms [CONFIG]`` (``make setup``, the workflow's first rule) builds
them beforehand.

The cache folder is ``$HPCKERNELS_CACHE_DIR``, else ``$XDG_CACHE_HOME/hpckernels``,
else ``~/.cache/hpckernels``.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
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


def compile_mechanisms(mod_dirs=(MOD_DIR,), quiet=True, label=None):
    """Compile the mod files unless a build of them exists; return the build folder.

    ``label`` names the folders in error messages (default their paths).

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
            log = target.parent / f"{target.name}.log"
            log.write_text(result.stdout + result.stderr)
            raise InputError(
                label or ", ".join(map(str, mod_dirs)),
                f"nrnivmodl failed: {compile_error(result.stdout + result.stderr)} "
                f"(full output: {log})",
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


def load_mechanisms(mod_dirs=(MOD_DIR,), allow_compile=True, label=None):
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
                label or str(target),
                "mechanisms are not compiled; run "
                "'hpckernels mechanisms [CONFIG]' before starting MPI ranks",
            )
        compile_mechanisms(mod_dirs, label=label)
    h.nrn_load_dll(str(library_path(target).resolve()))
    _loaded.add(target)


#: NMODL statements that name a mechanism.
_NAME_PATTERN = re.compile(r"\b(?:SUFFIX|POINT_PROCESS|ARTIFICIAL_CELL)\s+([A-Za-z_]\w*)")


def mechanism_names(path):
    """Names of the mechanisms a mod file defines (its SUFFIX or POINT_PROCESS)."""
    text = re.sub(r"(?s)\bCOMMENT\b.*?\bENDCOMMENT\b", "", Path(path).read_text(errors="replace"))
    text = re.sub(r":.*", "", text)
    return _NAME_PATTERN.findall(text)


def compile_error(output):
    """The line of nrnivmodl's output that says what is wrong."""
    lines = [" ".join(line.split()) for line in output.splitlines()]
    for pattern in (r"\bError: ", r"\berror: ", r"\berror\b", r"Illegal"):
        for line in lines:
            if re.search(pattern, line):
                return line
    return "see its output"


def config_folders(config):
    """The config's own mechanism folders ``{config key: absolute Path}`` (in order)."""
    return {
        f"mechanisms[{i}]": config.path(folder)
        for i, folder in enumerate(config.data.get("mechanisms", []))
    }


def check_folders(folders):
    """Raise InputError if a folder is not usable or defines a mechanism another folder
    (or the package) defines.

    Parameters
    ----------
    folders : dict
        {label: folder}, the package's ``mod/`` first.
    """
    seen = {}
    for label, folder in folders.items():
        try:
            files = mod_files((folder,))
        except InputError as exc:
            raise InputError(label, f"{exc.message}: {folder}") from None
        for path in files:
            for name in mechanism_names(path):
                if name in seen:
                    raise InputError(
                        label,
                        f"mechanism {name} of {path} is also defined in {seen[name]}; "
                        "a mechanism name may be defined once",
                    )
                seen[name] = path


def all_folders(config=None):
    """{label: folder} of the package's mechanisms and, if given, the config's own."""
    folders = {"hpckernels mod/": MOD_DIR}
    if config is not None:
        folders.update(config_folders(config))
    return folders


def compile_all(config=None, quiet=True):
    """Compile the package's mechanisms and the config's folders (one library each);
    return their build folders."""
    folders = all_folders(config)
    check_folders(folders)
    return [compile_mechanisms((folder,), quiet, label) for label, folder in folders.items()]


def load_all(config=None, allow_compile=True):
    """Load the package's mechanisms and the config's own folders into NEURON."""
    folders = all_folders(config)
    check_folders(folders)
    for label, folder in folders.items():
        load_mechanisms((folder,), allow_compile, label)
