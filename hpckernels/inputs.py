"""What each output depends on: the inputs, and their content hashes, that decide
whether an output belongs to a config and when the workflow reruns a job.

Every output records the hash of what it was computed from (and, for kernels and
bases, the inputs themselves as JSON, so that a reader can say which key differs); the
Snakemake workflow puts the same hashes into its rules' ``params`` so that an edit
reruns exactly the jobs whose inputs changed. Files a result depends on (morphologies,
templates, mechanism folders) enter by content, never by name.
"""

from __future__ import annotations

import copy

from .hashing import content_hash, file_sha256
from .probes import probe_type
from .synapses import synapse_model


# --------------------------------------------------------------------------- files
def cell_file_keys(cell):
    """(config key, relative path) of the files a ``cell`` entry names: its template
    file(s) and its morphology."""
    keys = []
    if "template" in cell:
        files = cell["template"]["file"]
        if isinstance(files, str):
            keys.append(("cell.template.file", files))
        else:
            keys += [(f"cell.template.file[{i}]", f) for i, f in enumerate(files)]
    return [*keys, ("cell.morphology", cell["morphology"])]


def config_files(config):
    """Every file a config is read with: the config itself, its cells' templates and
    morphologies and the ``.mod`` files of its mechanism folders (absolute paths)."""
    files = [config.path(config.source)] if config.source else []
    for population in config.populations.values():
        if "cell" in population:
            files += [config.path(rel) for _, rel in cell_file_keys(population["cell"])]
    for folder in config.data.get("mechanisms", []):
        files += sorted(config.path(folder).glob("*.mod"))
    return files


def population_by_content(config, name):
    """Population ``name`` of the config with its cell's files (template(s), morphology)
    replaced by their SHA-256."""
    population = copy.deepcopy(config.populations[name])
    cell = population.get("cell")
    if not cell:
        return population
    if "template" in cell:
        files = cell["template"]["file"]
        cell["template"]["file"] = (
            file_sha256(config.path(files))
            if isinstance(files, str)
            else [file_sha256(config.path(f)) for f in files]
        )
    cell["morphology"] = file_sha256(config.path(cell["morphology"]))
    return population


def mechanism_hashes(config):
    """{folder as in the config: {mod file name: SHA-256}} of the config's own
    mechanism folders."""
    return {
        folder: {
            path.name: file_sha256(path) for path in sorted(config.path(folder).glob("*.mod"))
        }
        for folder in config.data.get("mechanisms", [])
    }


def config_hash(config):
    """Content hash of the whole config, with referenced files by content (the
    ``config_hash`` every output carries)."""
    files = {}
    for population in config.populations.values():
        if "cell" in population:
            for _, rel in cell_file_keys(population["cell"]):
                files[rel] = file_sha256(config.path(rel))
    data = {"config": config.data, "files": files}
    if config.data.get("mechanisms"):
        data["mechanisms"] = mechanism_hashes(config)
    return content_hash(data)


# ----------------------------------------------------------------- cells and kernels
def _leak_connections(connections):
    """Connections as they enter a cell's g_eff leak (their delays do not)."""
    return sorted(
        ({k: v for k, v in c.items() if k != "delay"} for c in connections),
        key=lambda c: c["pre"],
    )


def _presynaptic(config, connections):
    """Sizes and rates of the presynaptic populations of ``connections``."""
    return {
        c["pre"]: {k: config.populations[c["pre"]][k] for k in ("size", "rate")}
        for c in connections
    }


def cell_inputs(config, post):
    """Everything that determines population ``post``'s linearized cell: the
    population (files by content), the simulation settings, the mechanisms and, with
    ``g_eff``, every connection into it (delays excepted) and the sizes and rates of
    their presynaptic populations."""
    into = config.connections_into(post) if config.simulation["g_eff"] else []
    population = population_by_content(config, post)
    # the cell's depth and the spread of placements; its own size, rate and disk
    # radius do not enter the cell
    return {
        "post": {
            "cell": population["cell"],
            "position": {k: population["position"][k] for k in ("loc", "scale")},
            "rotation": population.get("rotation", {}),
            "external": population.get("external"),
        },
        "simulation": config.simulation,
        "leak_connections": _leak_connections(into),
        "presynaptic": _presynaptic(config, into),
        "mechanisms": mechanism_hashes(config),
    }


def pathway_inputs(config, pre, post, mode="mean-field", ensemble=None):
    """Everything that determines the kernels of pathway pre -> post.

    The mean conductances of all inputs to ``post`` change its leak when ``g_eff`` is
    on, so then the other connections into ``post`` (all but their delays, which do
    not enter the leak) and the sizes and rates of their presynaptic populations are
    part of the pathway's inputs. Morphology and template files enter by content.
    ``ensemble`` ({realizations, seed}) replaces the config's ensemble settings
    (command-line overrides).
    """
    own = config.connection(pre, post)
    sim = config.simulation
    into = config.connections_into(post) if sim["g_eff"] else [own]
    inputs = {
        "pathway": [pre, post],
        "mode": mode,
        "simulation": sim,
        "post": population_by_content(config, post),
        "presynaptic": _presynaptic(config, into),
        "connection": own,
        "leak_connections": _leak_connections(c for c in into if c is not own),
    }
    if config.data.get("mechanisms"):
        inputs["mechanisms"] = mechanism_hashes(config)
    if mode == "ensemble":
        inputs["ensemble"] = dict(config.ensemble, **(ensemble or {}))
    return inputs


def pathway_hash(config, pre, post, mode="mean-field", probe=None, ensemble=None):
    """Content hash of a pathway's inputs (and of one probe, if named: its spec resolved
    for ``post``, a head model's with the spec of its dipole probe)."""
    inputs = pathway_inputs(config, pre, post, mode, ensemble)
    if probe is not None:
        inputs["probe"] = config.probe_spec(probe, post)
        head = probe_type(config.probes[probe], config.probes)
        if head.derived:
            inputs["dipole"] = config.probe_spec(head.dipole_name, post)
    return content_hash(inputs)


def basis_inputs(config, post, with_probes=True):
    """Everything that determines the impulse-response basis of population ``post``
    (:mod:`hpckernels.engines.basis`): its linearized cell (:func:`cell_inputs`), the
    kinetics and placement of every connection into it and, ``with_probes``, the
    probes that have a matrix on the cell (resolved for this population). Delays, and
    without ``g_eff`` weights and probabilities, population sizes, ensemble settings and
    EEG/MEG head models (derived from a dipole probe) do not enter.
    """
    inputs = {
        **cell_inputs(config, post),
        "name": post,
        "connections": [
            {
                "pre": c["pre"],
                "kinetics": synapse_model(c["synapse"]).kinetics(),
                "placement": c["placement"],
            }
            for c in config.connections_into(post)
        ],
    }
    if with_probes:
        inputs["probes"] = {
            name: config.probe_spec(name, post)
            for name, spec in config.probes.items()
            if not probe_type(spec, config.probes).derived
        }
    return inputs


def basis_hash(config, post, with_probes=True):
    """Content hash of :func:`basis_inputs`."""
    return content_hash(basis_inputs(config, post, with_probes))


def response_inputs(config, post):
    """Everything that determines the response file of population ``post`` (``hpckernels
    basis`` with the linear engine, :mod:`hpckernels.engines.linear`): its linearized
    cell (:func:`cell_inputs`) and the placement of every connection into it. Probes,
    synapse kinetics, weights without ``g_eff``, delays and ensemble settings do not
    enter: kernels are computed from the file for any of them."""
    return {
        **cell_inputs(config, post),
        "name": post,
        "placements": [
            {"pre": c["pre"], "placement": c["placement"]} for c in config.connections_into(post)
        ],
    }


def response_hash(config, post):
    """Content hash of :func:`response_inputs`."""
    return content_hash(response_inputs(config, post))


def basis_cache_key(config, post, label, columns):
    """Content hash of a per-segment membrane-current basis (probes excluded): what a
    response cache files it under."""
    return content_hash(
        {
            "basis": basis_hash(config, post, with_probes=False),
            "kinetics": label,
            "columns": [int(c) for c in columns],
        }
    )


def linearization_key(config, post, neuron_version, linearization_format):
    """Content hash of what population ``post``'s linearization depends on (its cell,
    the NEURON version and the stored format)."""
    return content_hash(
        {
            "cell": cell_inputs(config, post),
            "neuron": neuron_version,
            "format": linearization_format,
        }
    )


def tensor_inputs(config, mode="mean-field", probes=None):
    """What assembling the kernel tensor of ``probes`` (default all) reads from the config
    (besides the pathway kernel files): populations, pathways, the probes and the kernel
    settings."""
    sim = config.simulation
    return {
        "populations": list(config.populations),
        "pathways": [[p.pre, p.post] for p in config.pathways()],
        "probes": {name: config.probes[name] for name in probes or config.probes},
        "mode": mode,
        "simulation": {k: sim[k] for k in ("dt", "tau", "vrest", "g_eff", "fir")},
    }


# ------------------------------------------------------------------ signals, validation
def network_inputs(config):
    """The built-in network as the network command resolves it (sizes, in-degrees,
    weights, delays, ...)."""
    from dataclasses import asdict

    from .network import network_parameters

    return asdict(network_parameters(config, check_memory=False))


def network_hash(config):
    """Content hash of :func:`network_inputs` (recorded in the SONATA spikes of
    ``hpckernels network``, compared by their readers)."""
    return content_hash(network_inputs(config))


def signal_inputs(config):
    """Everything the signals step reads from the config (besides the tensor and spike
    files): the window, dt, the ``signals`` and ``spikes`` settings, the sizes that
    scale the counts and the network's scale."""
    network = config.data.get("network", {})
    return {
        "window": config.signal_window(),
        "dt": config.simulation["dt"],
        "signals": config.data.get("signals", {}),
        "spikes": config.data.get("spikes"),
        "sizes": {name: p["size"] for name, p in config.populations.items()},
        "network_scale": network.get("scale", 1.0) if network else None,
    }


def groundtruth_inputs(config):
    """Everything a ground-truth run (and predict-error, compare) reads from the config
    besides the spike files: the network's cells, connections, probes, window and the
    ``groundtruth`` and ``spikes`` sections; cell files by content."""
    return {
        "simulation": config.simulation,
        "populations": {name: population_by_content(config, name) for name in config.populations},
        "connections": config.connections,
        "probes": config.probes,
        "window": list(config.signal_window()),
        "groundtruth": config.data.get("groundtruth", {}),
        "spikes": config.data.get("spikes"),
    }


def groundtruth_hash(config):
    """Content hash of :func:`groundtruth_inputs` (stored in the outputs, checked by
    their readers)."""
    return content_hash(groundtruth_inputs(config))
