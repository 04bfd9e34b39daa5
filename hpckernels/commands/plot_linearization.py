"""``hpckernels plot-linearization``: an active cell against its linearizations."""

from ..errors import InputError
from . import FIGURE_SUFFIXES, add_rate_spikes_option, load_config, output_path


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "plot-linearization",
        help="an active cell and its passive, frozen and quasi-active linearizations",
        description="Simulate population POST's active cell at its operating point and its "
        "passive, frozen and quasi-active linearizations, driven by synapses of pathway "
        "PRE -> POST (spread by the placement pdf, all at once), and draw the somatic "
        "voltage, the dipole moment and the R^2 of each linearization with the active model "
        "as the number of synapses grows (Hagen et al. 2022, Fig 2).",
    )
    parser.add_argument("config", help="network config (YAML)")
    parser.add_argument("--pre", required=True, help="presynaptic population X")
    parser.add_argument("--post", required=True, help="postsynaptic population Y (active)")
    parser.add_argument(
        "--synapses",
        type=float,
        nargs="+",
        help="numbers of synapses activated together (default 1 3 10 30 100 300 1000)",
    )
    parser.add_argument("-o", "--output", required=True, help="PNG file")
    add_rate_spikes_option(parser)
    parser.set_defaults(func=run)


def run(args):
    from ..cellcheck import check_cells
    from ..plotting.linearization import SYNAPSES

    config = load_config(args.config, spikes=args.spikes)
    config.connection(args.pre, args.post)
    synapses = args.synapses or SYNAPSES
    if any(not n > 0 for n in synapses):
        raise InputError("--synapses", "numbers of synapses must be > 0")
    output = output_path(args.output, config=config, suffixes=FIGURE_SUFFIXES)
    check_cells(config, [args.post])
    from ..plotting.linearization import responses_figure
    from ..runtime import start_neuron

    start_neuron(config)
    responses_figure(config, args.pre, args.post, output, synapses)
    return 0
