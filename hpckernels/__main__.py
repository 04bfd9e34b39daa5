"""``python -m hpckernels``: the command line (see :mod:`hpckernels.cli`)."""

from .cli import main

main()
