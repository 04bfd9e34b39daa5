"""``hpckernels mechanisms [CONFIG]``: compile the NMODL mechanisms once."""

from .. import mechanisms
from . import load_config


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "mechanisms",
        help="compile the NMODL mechanisms (once, into the user cache)",
        description="Compile the package's mechanisms, and the mechanism folders a CONFIG "
        "lists (its 'mechanisms' key), with nrnivmodl into the per-user cache "
        "(HPCKERNELS_CACHE_DIR, else ~/.cache/hpckernels), one library per folder, and "
        "print the build folders. Run it before starting MPI ranks.",
    )
    parser.add_argument("config", nargs="?", help="network config (YAML) with its own mechanisms")
    parser.set_defaults(func=run)


def run(args):
    config = load_config(args.config, rates=False) if args.config else None
    for folder in mechanisms.compile_all(config, quiet=False):
        print(folder)
    return 0
