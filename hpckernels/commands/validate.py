"""``hpckernels validate CONFIG``: check a config and list its pathways and probes."""

from ..config import NetworkConfig


def add_parser(subparsers):
    parser = subparsers.add_parser("validate", help="validate a config and list its pathways")
    parser.add_argument("config", help="network config (YAML)")
    parser.set_defaults(func=run)


def run(args):
    config = NetworkConfig.from_file(args.config)
    print(
        f"{args.config}: valid; pathways: {', '.join(map(str, config.pathways()))}; "
        f"probes: {', '.join(config.probes)}"
    )
    return 0
