"""The config's point-neuron network, simulated with NEST (no file I/O here).

The ``network`` section of a config describes the leaky integrate-and-fire network of
Hagen et al. (2022), Fig 14 (NEST ``iaf_psc_exp``): one NEST population per config
population, fixed in-degree recurrent connections with jittered weights and delays,
and independent Poisson background input per neuron. :func:`simulate` builds it in a
fresh NEST kernel (threaded, one process, never under MPI), runs it and returns the
spikes per population; ``hpckernels network`` writes them as SONATA.

Model choices
-------------
As the LIF network of the LFPykernels repository (github.com/LFPy/LFPykernels,
``examples/Hagen_et_al_2022_PLOS_Comput_Biol/LIF_net.py``):

* Sizes: :func:`simulated_size`, ``round(size * network.scale)`` neurons, at least 1.
* Connections: for every ``network.J[pre][post]``, NEST ``fixed_indegree`` with
  ``network.indegree[pre][post]`` inputs per postsynaptic neuron (default: the
  probability of the config connection pre->post times the full size of ``pre``),
  rounded to a whole number. In-degrees are *not* scaled with ``network.scale``, so
  each neuron receives the input of the full network; a down-scaled presynaptic
  population then supplies several synapses per pair (multapses are allowed). Autapses
  are allowed too, as in the reference ``pairwise_bernoulli`` network (NEST's default).
  ``network.connection_rule: fixed_total_number`` instead draws round(in-degree x
  simulated postsynaptic neurons) synapses between random pairs (the microcircuit of
  Potjans & Diesmann 2014, NEST's ``examples/Potjans_2014``): in-degrees are then
  binomial with that mean, which may be fractional.
* Weights (pA): normal(J, ``weight_rel_sd`` ``|J|``) (default 0.1), redrawn
  (``nest.math.redraw``) until the sign is that of J. Delays (ms): normal(d,
  ``delay_rel_sd`` d) (default 0.5), redrawn below max(``delay_min``, dt) (default
  0.3 ms); NEST puts them on the dt grid. (The microcircuit of Potjans & Diesmann 2014
  redraws below dt: ``delay_min: 0.1`` with dt = 0.1 ms.)
* Background: per population one ``poisson_generator`` of rate
  ``external.rate * count`` (count from ``network.external.count[X]``, else
  ``populations.X.external.count``), connected ``all_to_all`` with weight
  ``external.J`` and delay dt; a poisson_generator sends an independent train to each
  target.
* Neurons: ``iaf_psc_exp`` with NEST's defaults overridden by ``network.neuron[X]``
  (NEST names and units); ``network.initial_potential[X]`` ({mean, sd}, mV) draws each
  neuron's initial V_m from a normal distribution (default: the model's V_m).
  Resolution ``simulation.dt``, ``rng_seed = network.seed``, ``local_num_threads =
  network.threads``; results are reproducible for a given seed and thread count.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field

import numpy as np

from .errors import ConfigError
from .resources import require_memory

NEURON_MODEL = "iaf_psc_exp"
#: Defaults: lower bound of the synaptic delays (ms), as in the reference network, and
#: the relative standard deviations of weights and delays.
MIN_DELAY = 0.3
WEIGHT_REL_SD = 0.1
DELAY_REL_SD = 0.5
#: Memory NEST needs per static synapse and per iaf_psc_exp neuron (bytes); the
#: full-scale default network holds 42 M connections in about 2.2 GB.
BYTES_PER_CONNECTION = 56
BYTES_PER_NEURON = 2048
#: NEST's rng_seed must fit a signed 32-bit integer.
MAX_SEED = 2**31 - 1


@dataclass(frozen=True)
class Projection:
    """Recurrent connection pre -> post of the point-neuron network."""

    pre: str
    post: str
    indegree: int | float  # whole for fixed_indegree, the mean for fixed_total_number
    J: float
    delay: float


@dataclass(frozen=True)
class NetworkParameters:
    """The ``network`` section of a config with every default resolved.

    Attributes
    ----------
    populations : tuple of str
        Population names in config order.
    population_sizes, simulated_sizes : dict of str to int
        Config sizes and simulated sizes (``round(size * scale)``, at least 1).
    neuron : dict of str to dict
        ``iaf_psc_exp`` parameters per population (NEST names; may be empty).
    projections : tuple of Projection
        Recurrent connections in ``network.J`` order.
    external_rate : dict of str to float
        Rate (spikes/s) of each population's Poisson generator (rate x count).
    external_J : float
        Weight (pA) of the background input.
    duration, dt : float
        Simulated time and resolution (ms).
    scale : float
    threads, seed : int
    delay_min : float
        Delays are redrawn below max(delay_min, dt) (ms).
    delay_rel_sd, weight_rel_sd : float
        Standard deviations of delays and weights relative to their means.
    initial_potential : dict of str to dict
        {population: {"mean": mV, "sd": mV}} of the initial membrane potentials (may be
        empty: NEST's V_m).
    connection_rule : str
        ``fixed_indegree`` or ``fixed_total_number``.
    """

    populations: tuple
    population_sizes: dict
    simulated_sizes: dict
    neuron: dict
    projections: tuple
    external_rate: dict
    external_J: float
    duration: float
    dt: float
    scale: float
    threads: int
    seed: int
    delay_min: float = MIN_DELAY
    delay_rel_sd: float = DELAY_REL_SD
    weight_rel_sd: float = WEIGHT_REL_SD
    initial_potential: dict = field(default_factory=dict)
    connection_rule: str = "fixed_indegree"

    def synapses(self, projection):
        """Number of synapses of a projection in the simulated network."""
        n_post = self.simulated_sizes[projection.post]
        if self.connection_rule == "fixed_total_number":
            return _round_half_up(projection.indegree * n_post)
        return projection.indegree * n_post


@dataclass
class PopulationSpikes:
    """Spikes of one population: node ids from 0 and times (ms), in time order."""

    node_ids: np.ndarray
    times: np.ndarray
    simulated_size: int
    population_size: int

    def mean_rate(self, duration):
        """Mean firing rate (spikes/s) per simulated neuron over ``duration`` ms."""
        return self.times.size / (self.simulated_size * duration / 1000.0)


@dataclass
class NetworkResult:
    """Output of :func:`simulate`."""

    spikes: dict
    parameters: NetworkParameters
    nest_version: str
    build_time: float = 0.0
    simulate_time: float = 0.0
    num_connections: int = 0
    extra: dict = field(default_factory=dict)

    def mean_rates(self):
        """Mean firing rate (spikes/s) per population."""
        return {name: s.mean_rate(self.parameters.duration) for name, s in self.spikes.items()}


# --------------------------------------------------------------------------- parameters
def _round_half_up(value):
    return int(math.floor(value + 0.5))


def simulated_size(size, scale):
    """Neurons simulated of a population of ``size`` at ``network.scale``: at least 1."""
    return max(1, _round_half_up(size * scale))


def _check_names(where, names, populations):
    for name in names:
        if name not in populations:
            raise ConfigError(
                f"{where}.{name}",
                f"unknown population '{name}'; populations are {', '.join(populations)}",
            )


def network_parameters(config, check_memory=True):
    """Resolve the ``network`` section of a :class:`~hpckernels.config.NetworkConfig`.

    ``check_memory`` refuses a network whose connections would not fit in this machine's
    available memory (the ``network`` command); the workflow resolves the network on the
    submit host without it (a full-scale network runs on a cluster node).

    Raises
    ------
    ConfigError
        No ``network`` section, unknown population names, a pathway of ``network.J``
        without delay or in-degree, a population without background count, a duration
        that is not a whole number of dt steps, or a seed NEST cannot take.
    """
    net = config.data.get("network")
    if net is None:
        raise ConfigError(
            "network",
            f"{config.source} has no 'network' section: nothing to "
            "simulate (see config/config.yaml for one)",
        )
    populations = tuple(config.populations)
    dt = float(config.simulation["dt"])
    scale = float(net.get("scale", 1.0))
    duration = float(net["duration"])
    steps = duration / dt
    if abs(steps - round(steps)) > 1e-9 * max(1.0, steps):
        raise ConfigError(
            "network.duration",
            f"{duration} ms is not a whole number of simulation.dt = {dt} ms steps",
        )
    seed = int(net.get("seed", 12345))
    if seed > MAX_SEED:
        raise ConfigError("network.seed", f"{seed} is too large; NEST takes 1..{MAX_SEED}")

    neuron = net.get("neuron", {})
    _check_names("network.neuron", neuron, populations)
    initial = net.get("initial_potential", {})
    _check_names("network.initial_potential", initial, populations)
    indegree = net.get("indegree", {})
    for key in ("J", "delay", "indegree"):
        section = net.get(key, {})
        _check_names(f"network.{key}", section, populations)
        for pre, row in section.items():
            _check_names(f"network.{key}.{pre}", row, populations)
    external = net["external"]
    counts = external.get("count", {})
    _check_names("network.external.count", counts, populations)

    sizes = {name: int(config.populations[name]["size"]) for name in populations}
    rule = net.get("connection_rule", "fixed_indegree")
    projections = []
    for pre, row in net["J"].items():
        for post, weight in row.items():
            delay = net["delay"].get(pre, {}).get(post)
            if delay is None:
                raise ConfigError(
                    f"network.delay.{pre}.{post}",
                    f"required: network.J has the pathway {pre}->{post}",
                )
            k = indegree.get(pre, {}).get(post)
            if k is None:
                connection = next(
                    (c for c in config.connections if c["pre"] == pre and c["post"] == post), None
                )
                if connection is None:
                    raise ConfigError(
                        f"network.indegree.{pre}.{post}",
                        f"required: no connection {pre}->{post} in connections "
                        "to take the probability from",
                    )
                k = connection["probability"] * sizes[pre]
            k = float(k) if rule == "fixed_total_number" else _round_half_up(k)
            projections.append(Projection(pre, post, k, float(weight), float(delay)))

    rates = {}
    for name in populations:
        count = counts.get(name)
        if count is None:
            count = config.populations[name].get("external", {}).get("count")
        if count is None:
            raise ConfigError(
                f"network.external.count.{name}",
                f"required: populations.{name} has no external.count",
            )
        rates[name] = float(external["rate"]) * float(count)

    simulated = {n: simulated_size(sizes[n], scale) for n in populations}
    connections = round(sum(simulated[p.post] * p.indegree for p in projections))
    if check_memory:
        require_memory(
            BYTES_PER_CONNECTION * connections + BYTES_PER_NEURON * sum(simulated.values()),
            "network.scale",
            f"the network's {connections:,} connections (neurons x network.indegree)",
        )
    return NetworkParameters(
        populations=populations,
        population_sizes=sizes,
        simulated_sizes=simulated,
        neuron={n: dict(neuron.get(n, {})) for n in populations},
        projections=tuple(projections),
        external_rate=rates,
        external_J=float(external["J"]),
        duration=duration,
        dt=dt,
        scale=scale,
        threads=int(net.get("threads", 2)),
        seed=seed,
        delay_min=float(net.get("delay_min", MIN_DELAY)),
        delay_rel_sd=float(net.get("delay_rel_sd", DELAY_REL_SD)),
        weight_rel_sd=float(net.get("weight_rel_sd", WEIGHT_REL_SD)),
        initial_potential={n: dict(initial[n]) for n in populations if n in initial},
        connection_rule=rule,
    )


# --------------------------------------------------------------------------------- NEST
def import_nest():
    """Import NEST quietly (no banner; warnings and errors only)."""
    os.environ.setdefault("PYNEST_QUIET", "1")
    import nest

    nest.verbosity = nest.VerbosityLevel.WARNING
    return nest


def nest_version():
    """Version of the installed NEST simulator, or 'not installed' (NEST not imported)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nest-simulator")
    except PackageNotFoundError:
        return "not installed"


def _tics_per_ms(dt):
    """NEST tics per ms such that dt is a whole number (1000) of tics."""
    tics = _round_half_up(1000.0 / dt)
    if abs(tics * dt - 1000.0) > 1e-6:
        raise ConfigError(
            "simulation.dt",
            f"{dt} ms: NEST needs 1000 / dt to be a whole number for the network simulation",
        )
    return tics


def _jittered(nest, mean, sd, low=-np.inf, high=np.inf):
    """NEST parameter normal(mean, sd) redrawn outside [low, high]; ``mean`` clipped to
    [low, high] when sd is 0 (NEST's normal needs sd > 0)."""
    if sd <= 0:
        return float(min(max(mean, low), high))
    return nest.math.redraw(nest.random.normal(mean=mean, std=sd), min=low, max=high)


@dataclass
class BuiltNetwork:
    """Handles of a network built in the current NEST kernel."""

    nest: object
    parameters: NetworkParameters
    neurons: dict
    recorders: dict
    generators: dict


def build(parameters):
    """Reset the NEST kernel and build the network; return the node handles.

    Every neuron is recorded by one ``spike_recorder`` per population (memory
    backend). More devices may be connected to ``neurons`` before
    ``nest.Simulate(parameters.duration)``.
    """
    p = parameters
    nest = import_nest()
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.WARNING
    nest.SetKernelStatus(
        {
            "local_num_threads": p.threads,
            "tics_per_ms": _tics_per_ms(p.dt),
            "resolution": p.dt,
            "rng_seed": p.seed,
        }
    )
    defaults = nest.GetDefaults(NEURON_MODEL)
    neurons = {}
    for name in p.populations:
        params = p.neuron[name]
        for key in params:
            if key not in defaults:
                raise ConfigError(
                    f"network.neuron.{name}.{key}", f"not a parameter of NEST's {NEURON_MODEL}"
                )
        try:
            neurons[name] = nest.Create(NEURON_MODEL, p.simulated_sizes[name], params)
        except nest.NESTError as exc:
            raise ConfigError(f"network.neuron.{name}", " ".join(str(exc).split())) from None
        if name in p.initial_potential:
            v0 = p.initial_potential[name]
            neurons[name].set(V_m=_jittered(nest, v0["mean"], v0["sd"]))

    low = max(p.delay_min, p.dt)
    for proj in p.projections:
        n_synapses = p.synapses(proj)
        if n_synapses < 1:
            continue
        excitatory = proj.J >= 0
        weight = _jittered(
            nest,
            proj.J,
            p.weight_rel_sd * abs(proj.J),
            0.0 if excitatory else -np.inf,
            np.inf if excitatory else 0.0,
        )
        delay = _jittered(nest, proj.delay, p.delay_rel_sd * proj.delay, low, np.inf)
        nest.Connect(
            neurons[proj.pre],
            neurons[proj.post],
            {"rule": "fixed_total_number", "N": n_synapses}
            if p.connection_rule == "fixed_total_number"
            else {
                "rule": "fixed_indegree",
                "indegree": proj.indegree,
                "allow_autapses": True,
                "allow_multapses": True,
            },
            {"synapse_model": "static_synapse", "weight": weight, "delay": delay},
        )

    generators, recorders = {}, {}
    for name in p.populations:
        if p.external_rate[name] > 0:
            generators[name] = nest.Create("poisson_generator", 1, {"rate": p.external_rate[name]})
            nest.Connect(
                generators[name],
                neurons[name],
                "all_to_all",
                {"weight": p.external_J, "delay": p.dt},
            )
        recorders[name] = nest.Create("spike_recorder", 1, {"record_to": "memory"})
        nest.Connect(neurons[name], recorders[name])
    return BuiltNetwork(nest, p, neurons, recorders, generators)


def collect(built):
    """Spikes of a simulated network per population (node ids from 0, time order)."""
    p = built.parameters
    spikes = {}
    for name in p.populations:
        events = built.recorders[name].get("events")
        first = built.neurons[name][0].global_id
        node_ids = np.asarray(events["senders"], dtype=np.int64) - first
        times = np.asarray(events["times"], dtype=np.float64)
        order = np.lexsort((node_ids, times))
        spikes[name] = PopulationSpikes(
            node_ids[order].astype(np.uint64),
            times[order],
            p.simulated_sizes[name],
            p.population_sizes[name],
        )
    return spikes


def simulate(parameters):
    """Build and simulate the network in a fresh NEST kernel.

    Parameters
    ----------
    parameters : NetworkParameters or NetworkConfig
        A config is resolved with :func:`network_parameters` first.

    Returns
    -------
    NetworkResult
        Spikes per population (config order) with build and simulation wall times (s).
    """
    if not isinstance(parameters, NetworkParameters):
        parameters = network_parameters(parameters)
    started = time.monotonic()
    built = build(parameters)
    nest = built.nest
    built_at = time.monotonic()
    nest.Simulate(parameters.duration)
    done = time.monotonic()
    return NetworkResult(
        spikes=collect(built),
        parameters=parameters,
        nest_version=nest_version(),
        build_time=built_at - started,
        simulate_time=done - built_at,
        num_connections=int(nest.GetKernelStatus("num_connections")),
    )
