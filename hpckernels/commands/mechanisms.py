"""``hpckernels mechanisms``: compile the package's NMODL mechanisms once."""

from .. import mechanisms


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "mechanisms",
        help="compile the NMODL mechanisms (once, into the user cache)",
        description="Compile the package's mechanisms with nrnivmodl into the per-user cache "
        "(HPCKERNELS_CACHE_DIR, else ~/.cache/hpckernels) and print the build "
        "folder. Run it before starting MPI ranks.",
    )
    parser.set_defaults(func=run)


def run(args):
    print(mechanisms.compile_mechanisms(quiet=False))
    return 0
