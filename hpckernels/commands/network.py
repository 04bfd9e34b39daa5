"""``hpckernels network CONFIG -o spikes.h5``: simulate the config's point-neuron network.

The network (section ``network`` of the config, see :mod:`hpckernels.network`) runs in
NEST, threaded in one process (never under mpiexec); its spikes are written as SONATA
(:func:`hpckernels.io.spikes.write_sonata`).
"""

import sys
import time

from . import output_path


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "network",
        help="simulate the config's point-neuron network (NEST), write SONATA spikes",
        description="Simulate the NEST iaf_psc_exp network of the 'network' section of CONFIG "
        "(threaded, one process; do not run under mpiexec) and write its spikes "
        "as a SONATA file.",
    )
    parser.add_argument("config", help="network config (YAML) with a 'network' section")
    parser.add_argument("-o", "--output", required=True, help="SONATA spikes file (HDF5)")
    parser.set_defaults(func=run)


def run(args):
    from .. import network
    from ..config import NetworkConfig
    from ..io.spikes import write_sonata

    started = time.monotonic()
    config = NetworkConfig.from_file(args.config)
    parameters = network.network_parameters(config)
    output = output_path(args.output, config=config)
    result = network.simulate(parameters)
    write_sonata(output, config, result)
    rates = ", ".join(f"{name} {rate:.2f}" for name, rate in result.mean_rates().items())
    sizes = ", ".join(f"{name} {n}" for name, n in parameters.simulated_sizes.items())
    print(
        f"[hpckernels] network: mean rates (spikes/s) {rates}; neurons {sizes}; "
        f"{parameters.duration:g} ms in {time.monotonic() - started:.1f} s (build "
        f"{result.build_time:.1f} s, simulate {result.simulate_time:.1f} s, "
        f"{parameters.threads} threads); wrote {output}",
        file=sys.stderr,
    )
    return 0
