"""Subcommands of the ``hpckernels`` command line, one module each.

Each module defines ``add_parser(subparsers)``, which adds its subcommand and sets
``func`` to ``run(args) -> exit code``. Commands only handle arguments; the work is
done by the library.
"""

import argparse
import sys
from pathlib import Path

from ..errors import InputError

#: Subcommand modules in the order ``hpckernels --help`` lists them.
COMMANDS = (
    "validate",
    "mechanisms",
    "basis",
    "kernel",
    "assemble",
    "network",
    "signals",
    "groundtruth",
    "predict_error",
    "compare",
    "plot_kernels",
    "plot_signals",
    "plot_linearization",
)


def warn(message):
    """One warning line on stderr."""
    print(f"hpckernels: warning: {message}", file=sys.stderr)


def load_config(path, g_eff=None, spikes=None, rates=True, variant=None):
    """The validated config of ``path``; its warnings go to stderr. ``variant``: the
    config with the changes of that prediction variant (``validation.variants``);
    ``g_eff`` ("on", "off" or None) overrides ``simulation.g_eff`` (see
    :func:`add_g_eff_option`); with
    ``rates``, ``rate: measured`` becomes the rate of the network's spikes (``spikes``:
    the ``--spikes`` files, else the config's spikes section; see
    :func:`hpckernels.steps.rates.with_measured_rates`)."""
    from ..config import NetworkConfig

    config = NetworkConfig.from_file(path)
    if variant is not None:
        config = config.variant(variant)
    if g_eff is not None:
        config = config.with_simulation(g_eff=g_eff == "on")
    if rates and config.measured_rates:
        from ..steps.rates import with_measured_rates

        measured = config.measured_rates
        config = with_measured_rates(config, spikes)
        values = ", ".join(f"{name} {config.rate(name):.4g}/s" for name in measured)
        print(f"[hpckernels] measured rates: {values}", file=sys.stderr)
    for message in config.warnings:
        warn(message)
    return config


def add_variant_option(parser):
    """``--variant NAME``: the config with the changes of a prediction variant of its
    ``validation.variants`` (other operating points, linearizations); the outputs record
    it, so kernel, assemble and signals need the same."""
    parser.add_argument(
        "--variant",
        metavar="NAME",
        help="the config with the changes of validation.variants.NAME (give the same to "
        "kernel, assemble and signals)",
    )


def add_rate_spikes_option(parser):
    """``--spikes FILE...``: the network's spikes that ``rate: measured`` is taken from."""
    parser.add_argument(
        "--spikes",
        nargs="+",
        metavar="FILE",
        help="spike files that 'rate: measured' is taken from (override spikes.files; the "
        "SONATA file of 'hpckernels network')",
    )


def add_g_eff_option(parser):
    """``--g-eff on|off``: the config with ``simulation.g_eff`` replaced, e.g. kernels
    without the mean synaptic conductance in the leak for a comparison; the outputs
    record it (their pathway hashes differ), so assemble and signals need it too."""
    parser.add_argument(
        "--g-eff",
        choices=["on", "off"],
        help="override simulation.g_eff (give the same to kernel, assemble and signals)",
    )


def output_path(text, option="-o/--output", inputs=()):
    """The output file of a command: its folder must exist, it must not be a folder and
    not one of the command's ``inputs``."""
    path = Path(text)
    if not path.parent.is_dir():
        raise InputError(option, f"folder {path.parent} does not exist")
    if path.is_dir():
        raise InputError(option, f"{path} is a folder; give a file name")
    for other in inputs:
        if Path(other).resolve() == path.resolve():
            raise InputError(option, f"{path} is also an input file")
    return path


def int_at_least(minimum):
    """argparse type: an integer >= minimum."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got '{text}'")
        return value

    return parse


def add_detailed_population_options(parser):
    """The network's spikes and the layout of a detailed population (groundtruth,
    predict-error): ``--spikes``, ``--cells-per-population``, ``--seed``."""
    parser.add_argument(
        "--spikes",
        nargs="+",
        metavar="FILE",
        help="spike files with node ids (override spikes.files; required without a spikes "
        "section: the SONATA file of 'hpckernels network')",
    )
    parser.add_argument(
        "--cells-per-population",
        type=int_at_least(1),
        metavar="M",
        help="M cells of every population, signals scaled by N_Y / M (default "
        "groundtruth.cells_per_population, else all)",
    )
    parser.add_argument(
        "--seed", type=int_at_least(0), help="seed of the layout (default groundtruth.seed)"
    )
