"""Check that each population's cell loads, before NEURON runs in this process.

NEURON reports a broken template or morphology with many lines on stderr, and some
files (a soma-less SWC) crash the process outright. :func:`check_cells` therefore
builds every postsynaptic population's cell in a child process (``python -m
hpckernels.cellcheck``), turns a failure into one line naming the config key and the
file, and checks that the cell has a soma and that every connection's placement
reaches a segment. The child first loads the config's mechanisms (compiling them unless
the parent is one of several MPI ranks) and, for active cells, also linearizes the cell
(operating point, modes, stability; the linearization is kept in the user cache for the
kernel engines). A passed check is remembered in the user cache, keyed by the content of
everything it read, so that later commands (and MPI ranks) only look up a file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .errors import ConfigError
from .hashing import content_hash
from .inputs import cell_file_keys, cell_inputs
from .mechanisms import cache_root
from .resources import require_memory

#: Stages the child reports on stdout, so that a crash names the file it was reading.
STAGES = {
    "mechanisms": "mechanisms",
    "template": "cell.template.file",
    "name": "cell.template.name",
    "morphology": "cell.morphology",
    "placement": None,
    "linearization": "cell.biophysics",
}

#: Environment variables giving the size of the MPI job a process belongs to.
_JOB_SIZE = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_NTASKS")


def _key(config, post):
    """Content hash of what loading ``post``'s cell, placing its synapses and linearizing
    it read."""
    population = config.populations[post]
    from importlib.metadata import version

    return content_hash(
        {
            "cell": cell_inputs(config, post),
            "position": population["position"],
            "rotation": population.get("rotation", {}),
            "placements": [c["placement"] for c in config.connections_into(post)],
            "neuron": version("neuron"),
            "check": 3,
        }
    )


def _parallel():
    """Whether this process is one of several MPI ranks (then nothing is compiled)."""
    return any(os.environ.get(key, "1").strip() not in ("", "1") for key in _JOB_SIZE)


def _neuron_message(stderr):
    """The first line of NEURON's own error report, if any."""
    for line in stderr.splitlines():
        line = line.strip()
        if line.startswith("NEURON:") or "error" in line.lower():
            return " ".join(line.split())
    return ""


def check_cells(config, posts=None):
    """Load the cell of every postsynaptic population (or of ``posts``) in a child process.

    Returns
    -------
    dict of str to int
        Segments of each population's cell.

    Raises
    ------
    ConfigError
        Naming ``populations.<Y>.cell.template.file``, ``...template.name``,
        ``...morphology`` or ``connections[i].placement`` and what is wrong.
    """
    posts = posts or sorted({c["post"] for c in config.connections})
    folder = cache_root() / "cellcheck"
    segments = {}
    for post in posts:
        marker = folder / _key(config, post)
        if marker.is_file():
            summary = json.loads(marker.read_text())
        else:
            summary = _check_in_child(config, post)
            folder.mkdir(parents=True, exist_ok=True)
            tmp = marker.with_name(f".{marker.name}.tmp-{os.getpid()}")
            tmp.write_text(json.dumps(summary))
            os.replace(tmp, marker)
        # NEURON records every segment's membrane current at every step
        steps = config.n_steps_tau + 1
        require_memory(
            16 * summary["segments"] * steps,
            "simulation.dt",
            f"recording {summary['segments']} segments of {post}'s cell for {steps} steps",
        )
        segments[post] = summary["segments"]
    return segments


def _check_in_child(config, post):
    where = f"populations.{post}"
    payload = json.dumps(
        {
            "data": config.data,
            "base_dir": str(config.base_dir),
            "source": str(config.source),
            "post": post,
            "allow_compile": not _parallel(),
        }
    )
    env = dict(os.environ, NEURON_MODULE_OPTIONS="-nogui")
    for key in list(env):
        # the child is one plain process, even when this one is an MPI rank
        if key.startswith(("OMPI_", "PMI", "PMIX_")):
            env.pop(key)
    result = subprocess.run(
        [sys.executable, "-m", "hpckernels.cellcheck", payload],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    lines = result.stdout.splitlines()
    stages = [
        line.split(" ", 1) for line in lines if line.startswith(("stage ", "error ", "done "))
    ]
    last = stages[-1] if stages else ["stage", "template"]
    cell = config.populations[post]["cell"]
    files = {key: config.path(rel) for key, rel in cell_file_keys(cell)}
    if "template" in cell:
        files["cell.template.name"] = cell["template"]["name"]
    if result.returncode == 0 and last[0] == "done":
        return json.loads(last[1])
    if last[0] == "error":
        key, message = json.loads(last[1])
        raise ConfigError(key, message)
    stage = last[1].split()[0]
    key = STAGES.get(stage) or "cell"
    if stage == "template" and len(last[1].split()) > 1:
        key = last[1].split()[1]
    crashed = result.returncode < 0 or result.returncode > 128
    what = "NEURON crashed" if crashed else f"NEURON failed (exit code {result.returncode})"
    detail = _neuron_message(result.stderr)
    if "is not a MECHANISM" in detail:
        detail += " (is its folder listed under 'mechanisms' in the config?)"
    raise ConfigError(
        key if key == "mechanisms" else f"{where}.{key}",
        f"{what} loading {files.get(key, 'the cell')}" + (f": {detail}" if detail else ""),
    )


def _child(payload):
    """Build the cell in this (child) process; report stages and a summary on stdout."""
    from . import cell as cellmod
    from . import mechanisms
    from .config import NetworkConfig
    from .errors import InputError

    args = json.loads(payload)
    config = NetworkConfig(args["data"], base_dir=args["base_dir"], source=args["source"])
    post = args["post"]
    where = f"populations.{post}"
    spec = config.populations[post]["cell"]

    def report(kind, value):
        print(kind, json.dumps(value), flush=True)

    print("stage mechanisms", flush=True)
    from neuron import h

    try:
        mechanisms.load_all(config, allow_compile=args["allow_compile"])
    except InputError as exc:
        report("error", [exc.where, exc.message])
        return
    # what LFPy loads before a template (templates may use the morphology importers)
    h.load_file("stdlib.hoc")
    h.load_file("import3d.hoc")
    for key, path in cell_file_keys(spec)[:-1]:
        print(f"stage template {key}", flush=True)
        if not h.load_file(str(config.path(path))):
            report("error", [f"{where}.{key}", f"NEURON cannot load {config.path(path)}"])
            return
    if "template" in spec:
        print("stage name", flush=True)
        if not hasattr(h, spec["template"]["name"]):
            files = ", ".join(str(config.path(path)) for _, path in cell_file_keys(spec)[:-1])
            report(
                "error",
                [
                    f"{where}.cell.template.name",
                    f"no template '{spec['template']['name']}' in {files}",
                ],
            )
            return
    print("stage morphology", flush=True)
    try:
        cell = cellmod.build_cell(config, post, tstop=config.simulation["dt"])
    except ConfigError as exc:
        report("error", [exc.where, exc.message])
        return
    except Exception as exc:  # LFPy raises bare Exceptions for unreadable morphologies
        message = " ".join(str(exc).split()).replace("hocobj_call error: hoc_execerror: ", "")
        if "neuroml" in message:  # LFPy's hint when NEURON's Import3d fails
            message = "not a readable morphology (Import3d failed)"
        report(
            "error",
            [
                f"{where}.cell.morphology",
                f"cannot load {config.path(spec['morphology'])}: {message}",
            ],
        )
        return
    sections = sorted({sec.name().split(".")[-1].split("[")[0] for sec in cell.allseclist})
    if not any("soma" in name for name in sections):
        report(
            "error",
            [
                f"{where}.cell.morphology",
                f"{config.path(spec['morphology'])} has no soma section (sections: "
                f"{', '.join(sections)})",
            ],
        )
        return
    print("stage placement", flush=True)
    spread = config.populations[post]["position"]["scale"]
    for connection in config.connections_into(post):
        if not cellmod.placement_pmf(cell, connection["placement"], spread).sum() > 0:
            index = config.connections.index(connection)
            report(
                "error",
                [
                    f"connections[{index}].placement",
                    f"no segment of {post}'s cell is in sections "
                    f"{connection['placement']['sections']} with non-zero density "
                    f"(the cell's sections: {', '.join(sections)})",
                ],
            )
            return
    segments = int(cell.totnsegs)
    if cellmod.population_biophysics(config, post).linearizes:
        print("stage linearization", flush=True)
        try:
            cellmod.build_linearized_cell(config, post, config.simulation["dt"]).close()
        except ConfigError as exc:
            report("error", [exc.where, exc.message])
            return
    report("done", {"segments": segments, "sections": sections})


if __name__ == "__main__":
    _child(sys.argv[1])
