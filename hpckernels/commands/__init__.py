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
    "export_nwb",
    "plot_kernels",
    "plot_signals",
    "plot_linearization",
    "paper_figure",
)


def warn(message):
    """One warning line on stderr."""
    print(f"hpckernels: warning: {message}", file=sys.stderr)


#: Environment variables with the process's MPI rank, set by mpiexec or srun.
RANK_VARIABLES = ("OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID")


def note(message):
    """One note line on stderr, printed by the first MPI rank only (before MPI starts)."""
    import os

    if all(os.environ.get(key, "0") in ("0", "") for key in RANK_VARIABLES):
        print(f"hpckernels: note: {message}", file=sys.stderr)


def load_config(path, g_eff=None, window=None, spikes=None, rates=True, variant=None):
    """The validated config of ``path``; its warnings go to stderr. ``variant``: the
    config with the changes of that prediction variant (``validation.variants``);
    ``g_eff`` ("on", "off" or None) overrides ``simulation.g_eff`` (see
    :func:`add_g_eff_option`), ``window`` (an argparse namespace with ``t_start`` and
    ``t_stop``, see :func:`add_window_options`) the signal window; with ``rates``,
    ``rate: measured`` becomes the rate of the network's spikes (``spikes``: the
    ``--spikes`` files, else the config's spikes section; see
    :func:`hpckernels.steps.rates.with_measured_rates`)."""
    import copy

    from ..config import NetworkConfig

    config = NetworkConfig.from_file(path)
    if variant is not None:
        config = config.variant(variant)
    if g_eff is not None:
        config = config.with_simulation(g_eff=g_eff == "on")
    given = {
        key: float(getattr(window, key))
        for key in ("t_start", "t_stop")
        if window is not None and getattr(window, key, None) is not None
    }
    if given:
        data = copy.deepcopy(config.data)
        data.setdefault("signals", {}).update(given)
        changed = ", ".join(f"signals.{k}={v:g}" for k, v in given.items())
        config = NetworkConfig(data, config.base_dir, f"{config.source} ({changed})")
    if rates and config.measured_rates:
        from ..steps.rates import with_measured_rates

        measured = config.measured_rates
        config = with_measured_rates(config, spikes)
        values = ", ".join(f"{name} {config.rate(name):.4g}/s" for name in measured)
        print(f"[hpckernels] measured rates: {values}", file=sys.stderr)
    for message in config.warnings:
        warn(message)
    return config


def add_window_options(parser):
    """``--t-start`` and ``--t-stop`` (ms): the signal window instead of the config's
    ``signals.t_start`` and ``t_stop`` (a config without a network section has no
    default ``t_stop``). The outputs record the window in their config hash, so a
    command that reads them needs the same options."""
    parser.add_argument(
        "--t-start",
        type=float,
        metavar="MS",
        help="start of the signal window in ms (default signals.t_start, else 0)",
    )
    parser.add_argument(
        "--t-stop",
        type=float,
        metavar="MS",
        help="end of the signal window in ms (default signals.t_stop, else network.duration; "
        "required for spike files without either)",
    )


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


#: File name suffixes of figures (matplotlib writes the format the suffix names).
FIGURE_SUFFIXES = (".png", ".pdf", ".svg")


def output_path(text, option="-o/--output", inputs=(), config=None, suffixes=None):
    """The output file of a command, checked before any work.

    It must be a new path or a regular file (never a folder, a device or a link to one),
    in an existing folder this process may write to, and none of the command's
    ``inputs`` nor of the files ``config`` is read with (the config, its cells'
    files, its mechanisms: :func:`hpckernels.inputs.config_files`). ``suffixes``: the
    allowed file name suffixes (e.g. figures).
    """
    import os

    path = Path(text)
    parent = path.parent
    if not parent.is_dir():
        raise InputError(option, f"folder {parent} does not exist")
    if path.is_dir():
        raise InputError(option, f"{path} is a folder; give a file name")
    if path.exists() and not path.is_file():
        raise InputError(option, f"{path} is not a regular file (a device or a socket)")
    if path.is_symlink():
        raise InputError(option, f"{path} is a link; give the file itself")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(option, f"folder {parent} is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        raise InputError(option, f"{path} is not writable")
    if suffixes and path.suffix.lower() not in suffixes:
        raise InputError(option, f"{path.name}: the file name must end in {', '.join(suffixes)}")
    others = list(inputs)
    if config is not None:
        from ..inputs import config_files

        others += config_files(config)
    for other in others:
        other = Path(other)
        same = (
            os.path.samefile(other, path)
            if other.exists() and path.exists()
            else other.resolve() == path.resolve()
        )
        if same:
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
