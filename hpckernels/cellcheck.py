"""Check that each population's cell loads, before NEURON runs in this process.

NEURON reports a broken template or morphology with many lines on stderr, and some
files (a soma-less SWC) crash the process outright. :func:`check_cells` therefore
builds every postsynaptic population's cell in a child process (``python -m
hpckernels.cellcheck``), turns a failure into one line naming the config key and the
file, and checks that the cell has a soma and that every connection's placement
reaches a segment. A passed check is remembered in the user cache, keyed by the
content of everything it read, so that later commands (and MPI ranks) only look up a
file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .errors import ConfigError
from .hashing import content_hash, file_sha256
from .mechanisms import cache_root
from .resources import require_memory

#: Stages the child reports on stdout, so that a crash names the file it was reading.
STAGES = {
    "template": "cell.template.file",
    "name": "cell.template.name",
    "morphology": "cell.morphology",
    "placement": None,
}


def _key(config, post):
    """Content hash of what loading ``post``'s cell and placing its synapses read."""
    population = config.populations[post]
    cell = population["cell"]
    from importlib.metadata import version

    return content_hash(
        {
            "template": file_sha256(config.path(cell["template"]["file"])),
            "morphology": file_sha256(config.path(cell["morphology"])),
            "cell": cell,
            "position": population["position"],
            "rotation": population.get("rotation", {}),
            "placements": [c["placement"] for c in config.connections_into(post)],
            "neuron": version("neuron"),
            "check": 1,
        }
    )


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
    files = {
        "cell.template.file": config.path(cell["template"]["file"]),
        "cell.template.name": cell["template"]["name"],
        "cell.morphology": config.path(cell["morphology"]),
    }
    if result.returncode == 0 and last[0] == "done":
        return json.loads(last[1])
    if last[0] == "error":
        key, message = json.loads(last[1])
        raise ConfigError(key, message)
    stage = last[1].split()[0]
    key = STAGES.get(stage) or "cell"
    crashed = result.returncode < 0 or result.returncode > 128
    what = "NEURON crashed" if crashed else f"NEURON failed (exit code {result.returncode})"
    detail = _neuron_message(result.stderr)
    raise ConfigError(
        f"{where}.{key}",
        f"{what} loading {files.get(key, 'the cell')}" + (f": {detail}" if detail else ""),
    )


def _child(payload):
    """Build the cell in this (child) process; report stages and a summary on stdout."""
    from . import cell as cellmod
    from .config import NetworkConfig

    args = json.loads(payload)
    config = NetworkConfig(args["data"], base_dir=args["base_dir"], source=args["source"])
    post = args["post"]
    where = f"populations.{post}"
    spec = config.populations[post]["cell"]

    def report(kind, value):
        print(kind, json.dumps(value), flush=True)

    print("stage template", flush=True)
    from neuron import h

    if not h.load_file(str(config.path(spec["template"]["file"]))):
        report(
            "error",
            [
                f"{where}.cell.template.file",
                f"NEURON cannot load {config.path(spec['template']['file'])}",
            ],
        )
        return
    print("stage name", flush=True)
    if not hasattr(h, spec["template"]["name"]):
        report(
            "error",
            [
                f"{where}.cell.template.name",
                f"no template '{spec['template']['name']}' in "
                f"{config.path(spec['template']['file'])}",
            ],
        )
        return
    print("stage morphology", flush=True)
    try:
        cell = cellmod.build_cell(config, post, tstop=config.simulation["dt"])
    except Exception as exc:  # LFPy raises bare Exceptions for unreadable morphologies
        message = " ".join(str(exc).split())
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
    report("done", {"segments": int(cell.totnsegs), "sections": sections})


if __name__ == "__main__":
    _child(sys.argv[1])
