"""Network configuration: load a YAML file, validate it, answer questions about it.

The JSON schema in ``hpckernels/schemas/config.schema.yaml`` is the single
schema of the project: the Snakemake workflow validates against the same file
(``workflow/schemas/config.schema.yaml`` is a link to it). This module adds the
checks a schema cannot express (references between keys, files on disk, dt
dividing tau, parameters that scipy must accept) and fills defaults.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import jsonschema
import yaml

from . import distributions, probes
from .biophysics import BIOPHYSICS
from .errors import ConfigError
from .inputs import cell_file_keys, config_hash
from .resources import require_memory
from .synapses import synapse_model

SCHEMA_PATH = Path(__file__).with_name("schemas") / "config.schema.yaml"
#: A population ``rate`` taken from the network's spikes (:meth:`NetworkConfig.with_rates`).
MEASURED = "measured"
#: The built-in predictions of ``validation.predictions`` (variants take other names).
PREDICTIONS = ("mean-field", "mean-field-no-geff", "ensemble")

#: Groups of the output files that a probe group may not be named like.
RESERVED_PROBE_NAMES = ("rates", "cells", "synapses", "background", "spikes")

DEFAULTS = {
    "simulation": {"g_eff": True, "fir": False},
    "ensemble": {"realizations": 256, "seed": 1234},
}


#: libyaml's parser when PyYAML has it (the same documents as SafeLoader, ~10x faster).
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


#: Most nodes a config may expand to once its YAML aliases are resolved: a real config
#: has a few thousand; an alias bomb (nested aliases of aliases) billions.
MAX_YAML_NODES = 100_000


class _StrictLoader(YAML_LOADER):
    """YAML's safe loader (libyaml's parser when PyYAML has it) that refuses a key given
    twice in one mapping (YAML would keep the last value without a word)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.MarkedYAMLError(
                    problem=f"key '{key}' appears twice in one mapping (lines "
                    f"{seen[key] + 1} and {key_node.start_mark.line + 1}); give it once",
                    problem_mark=key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def _expanded_size(node, memo):
    """Nodes of a YAML node graph with every alias expanded (shared nodes counted once
    per reference, each node's size computed once); ValueError for a node that contains
    itself (a recursive alias)."""
    if id(node) in memo:
        if memo[id(node)] is None:
            raise ValueError(f"line {node.start_mark.line + 1}: an alias refers to itself")
        return memo[id(node)]
    memo[id(node)] = None  # in progress
    if isinstance(node, yaml.MappingNode):
        size = 1 + sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_size(item, memo) for item in node.value)
    else:
        size = 1
    memo[id(node)] = size
    return size


def load_yaml(text, source):
    """The YAML document of a config: duplicated keys and documents that expand to more
    than :data:`MAX_YAML_NODES` nodes (alias bombs) are refused before they are built.

    Raises
    ------
    ConfigError
        Naming ``source`` (and the line).
    """
    try:
        node = yaml.compose(text, Loader=_StrictLoader)
        if node is not None:
            try:
                size = _expanded_size(node, {})
            except ValueError as err:
                raise ConfigError(source, f"not valid as a config: {err}") from None
            if size > MAX_YAML_NODES:
                raise ConfigError(
                    source,
                    f"the YAML document expands to more than {MAX_YAML_NODES} nodes (its "
                    "aliases nest too deep): write the config out",
                )
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}, line {mark.line + 1}" if mark is not None else source
        what = " ".join(str(exc.problem or exc.context or "").split())
        raise ConfigError(where, f"not valid YAML: {what}") from None
    except yaml.YAMLError as exc:
        message = " ".join(f"not valid YAML ({exc})".split())
        raise ConfigError(source, message) from None
    except RecursionError:
        raise ConfigError(source, "the YAML document nests too deep") from None


def load_schema():
    """Return the config JSON schema as a dict."""
    with open(SCHEMA_PATH) as fh:
        return yaml.load(fh, Loader=YAML_LOADER)


def dotted(path):
    """Format a jsonschema path (deque of keys and indices) as ``a.b[2].c``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<config>"


def schema_error(data):
    """Return the most relevant schema violation of ``data`` as a ConfigError, or None."""
    # NaN and infinity first: they would meet a bound of the schema with a less clear
    # message ("inf is greater than the maximum")
    found = non_finite_error(data)
    if found is not None:
        return found
    validator = jsonschema.Draft202012Validator(load_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is None:
        return None
    return ConfigError(dotted(error.absolute_path), error.message)


def non_finite_error(data, path=()):
    """A ConfigError for the first NaN or infinite number in ``data``, or None.

    Infinity is allowed only as the bound ``a`` or ``b`` of a distribution (e.g. a
    truncnorm open to one side); YAML's ``.nan`` and ``.inf`` pass ``type: number``.
    """
    if isinstance(data, dict):
        for key, value in data.items():
            if (
                isinstance(value, float)
                and math.isinf(value)
                and key in ("a", "b")
                and "distribution" in data
            ):
                continue
            error = non_finite_error(value, (*path, key))
            if error is not None:
                return error
    elif isinstance(data, list):
        for index, value in enumerate(data):
            error = non_finite_error(value, (*path, index))
            if error is not None:
                return error
    elif isinstance(data, float) and not math.isfinite(data):
        allowed = " (infinity only as a distribution's bound a or b)" if math.isinf(data) else ""
        return ConfigError(dotted(path), f"{data} is not a finite number{allowed}")
    return None


def _fill_defaults(data):
    for section, defaults in DEFAULTS.items():
        data.setdefault(section, {})
        for key, value in defaults.items():
            data[section].setdefault(key, value)
    for connection in data["connections"]:
        connection["synapse"].setdefault("current_based", False)
    for population in data["populations"].values():
        if "external" in population:
            population["external"]["synapse"].setdefault("current_based", False)
        population.setdefault("rotation", {})
    return data


@dataclass(frozen=True)
class Pathway:
    """One connection from presynaptic population ``pre`` (X) to ``post`` (Y)."""

    pre: str
    post: str

    def __str__(self):
        return f"{self.pre}->{self.post}"


class NetworkConfig:
    """A validated network config.

    Parameters
    ----------
    data : dict
        The parsed YAML document.
    base_dir : str or Path
        Folder against which relative file paths are resolved (the config's folder).
    source : str
        Name of the config for messages (usually its path).

    Raises
    ------
    ConfigError
        On the first violation found, naming the key and what is allowed.
    """

    def __init__(self, data, base_dir=".", source="<config>"):
        if not isinstance(data, dict):
            raise ConfigError(source, "the config must be a YAML mapping")
        error = schema_error(data)
        if error is not None:
            raise error
        self.data = _fill_defaults(copy.deepcopy(data))
        self.base_dir = Path(base_dir).resolve()
        self.source = source
        #: Things that are allowed but probably not meant (printed by the commands).
        self.warnings = []
        self._check()

    @classmethod
    def from_file(cls, path):
        """Load and validate a YAML config file."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(str(path), "config file not found")
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError(
                str(path), "not a UTF-8 text file (a YAML config is expected)"
            ) from None
        if "\x00" in text:
            raise ConfigError(str(path), "binary file (a YAML config is expected)")
        return cls(load_yaml(text, str(path)), base_dir=path.parent, source=str(path))

    def rate(self, name):
        """Mean firing rate (spikes/s) of population ``name``.

        Raises
        ------
        ConfigError
            For a ``measured`` rate that was not measured (:meth:`with_rates`).
        """
        rate = self.populations[name]["rate"]
        if rate == MEASURED:
            raise ConfigError(
                f"populations.{name}.rate",
                "measured from the network's spikes: give them (--spikes FILE, or the "
                "config's spikes section)",
            )
        return float(rate)

    @property
    def measured_rates(self):
        """Populations whose ``rate`` is ``measured`` (from the network's spikes)."""
        return [name for name, p in self.populations.items() if p["rate"] == MEASURED]

    def with_rates(self, rates):
        """This config with the ``measured`` rates replaced by ``rates`` ({name: spikes/s}),
        validated again: what every command that uses a rate works with."""
        data = copy.deepcopy(self.data)
        for name, rate in rates.items():
            data["populations"][name]["rate"] = float(rate)
        changed = ", ".join(f"{name} {rate:.4g}/s" for name, rate in rates.items())
        return NetworkConfig(data, self.base_dir, f"{self.source} (measured rates {changed})")

    @property
    def variants(self):
        """Names of the prediction variants (``validation.variants``)."""
        return list(self.data.get("validation", {}).get("variants", {}))

    def variant(self, name, where="--variant"):
        """This config with the changes of prediction variant ``name``
        (``validation.variants``), validated again: ``g_eff`` replaces
        ``simulation.g_eff``; ``operating_point``, ``linearization`` (active cells) and
        ``vrest`` (one number or one per population) replace the biophysics entries of
        every postsynaptic population's cell."""
        variants = self.data.get("validation", {}).get("variants", {})
        if name not in variants:
            raise ConfigError(
                where,
                f"no variant '{name}' in validation.variants "
                f"({', '.join(variants) or 'none defined'})",
            )
        changes = variants[name]
        data = copy.deepcopy(self.data)
        # a variant is one config (its own variants are not checked again)
        del data["validation"]["variants"]
        if "g_eff" in changes:
            data["simulation"]["g_eff"] = changes["g_eff"]
        for post in self.postsynaptic_populations():
            biophysics = data["populations"][post]["cell"]["biophysics"]
            for key in ("operating_point", "linearization", "vrest"):
                value = changes.get(key)
                if key == "vrest" and isinstance(value, dict):
                    value = value.get(post)
                if value is None or (key == "linearization" and biophysics["type"] != "active"):
                    continue
                biophysics[key] = copy.deepcopy(value)
            if changes.get("operating_point") == "steady-state" and "vrest" not in changes:
                biophysics.pop("vrest", None)  # that of the uniform operating point
        return NetworkConfig(data, self.base_dir, f"{self.source} (variant {name})")

    def with_simulation(self, **settings):
        """This config with ``simulation`` settings replaced, validated again."""
        data = copy.deepcopy(self.data)
        data["simulation"].update(settings)
        changed = ", ".join(f"simulation.{k}={v}" for k, v in settings.items())
        return NetworkConfig(data, self.base_dir, f"{self.source} ({changed})")

    # ----------------------------------------------------------------- access
    @property
    def simulation(self):
        return self.data["simulation"]

    @property
    def populations(self):
        return self.data["populations"]

    @property
    def connections(self):
        return self.data["connections"]

    @property
    def probes(self):
        return self.data["probes"]

    @property
    def ensemble(self):
        return self.data["ensemble"]

    @property
    def n_lags(self):
        """Number of kernel samples over lags [-tau, tau]."""
        return 2 * self.n_steps_tau + 1

    @property
    def n_steps_tau(self):
        """Number of time steps dt in tau."""
        return int(round(self.simulation["tau"] / self.simulation["dt"]))

    def path(self, relative):
        """Absolute path of a file named in the config."""
        return (self.base_dir / relative).resolve()

    def pathways(self):
        """All pathways (X, Y) in config order."""
        return [Pathway(c["pre"], c["post"]) for c in self.connections]

    def connection(self, pre, post):
        """The connection dict of pathway pre -> post."""
        for connection in self.connections:
            if connection["pre"] == pre and connection["post"] == post:
                return connection
        known = ", ".join(str(p) for p in self.pathways())
        raise ConfigError(
            "--pre/--post", f"no connection {pre}->{post} in the config; pathways are {known}"
        )

    def signal_window(self):
        """(t_start, t_stop) in ms of the predicted signals (``signals`` section; t_stop
        defaults to the built-in network's duration)."""
        settings = self.data.get("signals", {})
        network = self.data.get("network")
        t_start = float(settings.get("t_start", 0.0))
        if "t_stop" in settings:
            t_stop, key = float(settings["t_stop"]), "signals.t_stop"
        elif network is not None:
            t_stop, key = float(network["duration"]), "network.duration"
        else:
            raise ConfigError(
                "signals.t_stop",
                "required when the config has no network "
                "section (end of the spike recording to use, "
                "ms)",
            )
        if network is not None and t_stop > network["duration"] * (1 + 1e-12):
            raise ConfigError(
                key,
                f"{t_stop} ms is after the end of the network simulation "
                f"(network.duration = {network['duration']} ms)",
            )
        dt = float(self.simulation["dt"])
        steps = (t_stop - t_start) / dt
        if not t_stop > t_start or abs(steps - round(steps)) > 1e-6 * max(1.0, steps):
            raise ConfigError(
                key if t_stop > t_start else "signals.t_start",
                f"[{t_start}, {t_stop}) ms: t_stop - t_start must be a positive "
                f"multiple of simulation.dt = {dt} ms",
            )
        return t_start, t_stop

    def probe_spec(self, name, post=None):
        """Probe ``name``'s spec; with ``post``, its ``population`` parameters replaced by
        that postsynaptic population's values (see :func:`hpckernels.probes.types.resolve`)."""
        spec = self.probes[name]
        if post is None:
            return spec
        return probes.resolve(spec, self.populations[post], f"probes.{name}")

    def probe_names(self, names=None):
        """The named probes (default all), checked against the config."""
        for name in names or ():
            if name not in self.probes:
                raise ConfigError(
                    "--probe", f"unknown probe '{name}'; probes are {', '.join(self.probes)}"
                )
        return list(names or self.probes)

    def postsynaptic_populations(self):
        """Populations that receive a connection (they have a cell), in config order."""
        posts = {c["post"] for c in self.connections}
        return [name for name in self.populations if name in posts]

    def connections_into(self, post):
        """All connections whose postsynaptic population is ``post``."""
        return [c for c in self.connections if c["post"] == post]

    @cached_property
    def hash(self):
        """Content hash of the whole config, with referenced files by content
        (:func:`hpckernels.inputs.config_hash`)."""
        return config_hash(self)

    # ---------------------------------------------------------------- checks
    def _check(self):
        sim = self.simulation
        for i, folder in enumerate(self.data.get("mechanisms", [])):
            path = self.path(folder)
            if not path.is_dir():
                raise ConfigError(f"mechanisms[{i}]", f"mechanism folder not found: {path}")
            if not any(path.glob("*.mod")):
                raise ConfigError(f"mechanisms[{i}]", f"no .mod files in {path}")
        steps = sim["tau"] / sim["dt"]
        if abs(steps - round(steps)) > 1e-9 * max(1.0, steps):
            raise ConfigError(
                "simulation.dt",
                f"{sim['dt']} ms does not divide simulation.tau = "
                f"{sim['tau']} ms into whole steps",
            )
        names = sorted(self.populations)
        seen = set()
        for i, connection in enumerate(self.connections):
            where = f"connections[{i}]"
            for role in ("pre", "post"):
                if connection[role] not in self.populations:
                    raise ConfigError(
                        f"{where}.{role}",
                        f"unknown population '{connection[role]}'; "
                        f"populations are {', '.join(names)}",
                    )
            key = (connection["pre"], connection["post"])
            if key in seen:
                raise ConfigError(
                    where, f"second connection {key[0]}->{key[1]}; each pathway may appear once"
                )
            seen.add(key)
            if connection["probability"] == 0:
                self.warnings.append(
                    f"{where}.probability is 0: pathway {key[0]}->{key[1]} "
                    "has no synapses, its kernels are zero"
                )
            for part in ("multapse", "delay"):
                distributions.check(connection[part], f"{where}.{part}")
            distributions.multapse_pmf(connection["multapse"], f"{where}.multapse")
            distributions.check_delay(connection["delay"], sim["tau"], f"{where}.delay")
            placement = connection["placement"]
            if placement.get("z_min", -math.inf) >= placement.get("z_max", math.inf):
                raise ConfigError(
                    f"{where}.placement.z_min",
                    f"{placement['z_min']} um is not below placement.z_max = "
                    f"{placement['z_max']} um: no segment could get a synapse",
                )
            for j, density in enumerate(connection["placement"]["densities"]):
                distributions.check(density, f"{where}.placement.densities[{j}]", ["weight"])
            synapse_model(connection["synapse"], f"{where}.synapse").check(
                f"{where}.synapse", sim["g_eff"]
            )

        for name in sorted({c["post"] for c in self.connections}):
            population = self.populations[name]
            where = f"populations.{name}"
            for key in ("cell", "position"):
                if key not in population:
                    raise ConfigError(
                        f"{where}.{key}", f"required: {name} is postsynaptic in a connection"
                    )
            cell = population["cell"]
            for key, rel in cell_file_keys(cell):
                if not self.path(rel).is_file():
                    raise ConfigError(f"{where}.{key}", f"file not found: {self.path(rel)}")
            nseg = cell.get("nseg", {})
            if nseg.get("method") == "fixed_length" and "max_length" not in nseg:
                raise ConfigError(
                    f"{where}.cell.nseg.max_length",
                    "required with method fixed_length (longest segment, um)",
                )
            if cell["morphology"].rsplit(".", 1)[-1].lower() not in ("hoc", "asc", "swc", "xml"):
                raise ConfigError(
                    f"{where}.cell.morphology",
                    "allowed morphology formats are .hoc, .asc, .swc, .xml",
                )
            if "external" in population:
                synapse_model(
                    population["external"]["synapse"], f"{where}.external.synapse"
                ).check(f"{where}.external.synapse", sim["g_eff"])
            BIOPHYSICS.lookup(cell["biophysics"]["type"], f"{where}.cell.biophysics.type")(
                cell["biophysics"], sim["vrest"], f"{where}.cell.biophysics"
            ).check(cell)

        for name in self.probes:
            if name in RESERVED_PROBE_NAMES:
                raise ConfigError(
                    f"probes.{name}",
                    f"'{name}' names a group of the output files; choose another probe name "
                    f"(reserved: {', '.join(RESERVED_PROBE_NAMES)})",
                )
        # population-dependent probe parameters are checked with every postsynaptic
        # population's values
        posts = sorted({c["post"] for c in self.connections})
        checked = {}  # a probe that does not depend on the population is checked once

        def channels_of(name, post):
            spec = self.probe_spec(name, post)
            key = (name, json.dumps(spec, sort_keys=True, default=str))
            if key not in checked:
                checked[key] = probes.check(spec, f"probes.{name}", self.probes)
            return checked[key]

        channels = sum(max(channels_of(name, post) for post in posts) for name in self.probes)
        # kernels of one pathway (mean, std and FFT work arrays) and the tensor, float64
        n_pop = len(self.populations)
        require_memory(
            8 * self.n_lags * channels * (6 + n_pop**2),
            "simulation.dt",
            f"kernels of {self.n_lags} lags (tau / dt) for {channels} channels",
        )
        chunk = self.data.get("signals", {}).get("chunk_size")
        if chunk is not None and chunk < self.n_lags - 1:
            raise ConfigError(
                "signals.chunk_size",
                f"{chunk} bins is shorter than the kernels "
                f"({self.n_lags} lags): the convolution would redo the overlap "
                f"in every block; give at least {self.n_lags - 1} or leave it "
                "out for the default",
            )
        for name in self.variants:
            where = f"validation.variants.{name}"
            if name in PREDICTIONS:
                raise ConfigError(where, f"'{name}' names a built-in prediction; choose another")
            try:
                self.variant(name)
            except ConfigError as error:
                raise ConfigError(where, f"{error.where}: {error.message}") from None
