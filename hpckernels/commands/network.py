"""``hpckernels network CONFIG -o spikes.h5``: simulate the config's point-neuron network.

The network (section ``network`` of the config, see :mod:`hpckernels.network`) runs in
NEST, threaded in one process (never under mpiexec). Its spikes are written as SONATA:

``/spikes/<population>/timestamps``
    float64 spike times (attribute ``units = 'ms'``), sorted by time.
``/spikes/<population>/node_ids``
    uint64 node ids within the population, from 0.

``/spikes/<population>`` carries ``sorting = 'by_time'``, ``simulated_size`` (neurons
simulated) and ``population_size`` (the config's size; counts scale by their ratio);
the root carries provenance (config hash, versions) and the run's settings.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from . import output_path


def add_parser(subparsers):
    """Add the ``network`` subcommand."""
    parser = subparsers.add_parser(
        "network", help="simulate the config's point-neuron network (NEST), write SONATA spikes",
        description="Simulate the NEST iaf_psc_exp network of the 'network' section of CONFIG "
                    "(threaded, one process; do not run under mpiexec) and write its spikes "
                    "as a SONATA file.")
    parser.add_argument("config", help="network config (YAML) with a 'network' section")
    parser.add_argument("-o", "--output", required=True, help="SONATA spikes file (HDF5)")
    parser.set_defaults(func=run)
    return parser


def write_sonata(path, config, result):
    """Write a :class:`~hpckernels.network.NetworkResult` as SONATA spikes, atomically."""
    from .. import io

    p = result.parameters
    with io.atomic_h5(path) as fh:
        attrs = {
            "config_file": str(config.source),
            "config_hash": config.hash,
            **io.versions(),
            "nest_version": result.nest_version,
            "neuron_model": "iaf_psc_exp",
            "duration": p.duration, "dt": p.dt, "scale": p.scale, "seed": p.seed,
            "threads": p.threads, "time_units": "ms",
        }
        for key, value in attrs.items():
            fh.attrs[key] = value
        spikes = fh.create_group("spikes")
        for name, pop in result.spikes.items():
            group = spikes.create_group(name)
            group.attrs["sorting"] = "by_time"
            group.attrs["simulated_size"] = int(pop.simulated_size)
            group.attrs["population_size"] = int(pop.population_size)
            times = group.create_dataset("timestamps",
                                         data=np.asarray(pop.times, dtype=np.float64))
            times.attrs["units"] = "ms"
            group.create_dataset("node_ids", data=np.asarray(pop.node_ids, dtype=np.uint64))


def run(args):
    """Validate, simulate, write; one summary line on stderr."""
    from .. import network
    from ..config import NetworkConfig

    started = time.monotonic()
    config = NetworkConfig.from_file(args.config)
    parameters = network.network_parameters(config)
    output = output_path(args.output)
    result = network.simulate(parameters)
    write_sonata(output, config, result)
    rates = ", ".join(f"{name} {rate:.2f}" for name, rate in result.mean_rates().items())
    sizes = ", ".join(f"{name} {n}" for name, n in parameters.simulated_sizes.items())
    print(f"[hpckernels] network: mean rates (spikes/s) {rates}; neurons {sizes}; "
          f"{parameters.duration:g} ms in {time.monotonic() - started:.1f} s (build "
          f"{result.build_time:.1f} s, simulate {result.simulate_time:.1f} s, "
          f"{parameters.threads} threads); wrote {output}", file=sys.stderr)
    return 0
