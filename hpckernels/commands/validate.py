"""``hpckernels validate CONFIG``: check a config and list its pathways and probes."""

from . import add_rate_spikes_option, load_config


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "validate",
        help="validate a config (and load its cells) and list its pathways",
        description="Check CONFIG against the schema and the physics' constraints, load the "
        "cell of every postsynaptic population (in a child process: a broken "
        "template or morphology is reported in one line) and check that every "
        "placement reaches a segment. Everything 'kernel' would refuse is "
        "refused here.",
    )
    parser.add_argument("config", help="network config (YAML)")
    add_rate_spikes_option(parser)
    parser.set_defaults(func=run)


def run(args):
    from ..cellcheck import check_cells

    config = load_config(args.config, spikes=args.spikes)
    check_cells(config)
    print(
        f"{args.config}: valid; pathways: {', '.join(map(str, config.pathways()))}; "
        f"probes: {', '.join(config.probes)}"
    )
    return 0
