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
    "plot_kernels",
    "plot_signals",
)


def warn(message):
    """One warning line on stderr."""
    print(f"hpckernels: warning: {message}", file=sys.stderr)


def load_config(path):
    """The validated config of ``path``; its warnings go to stderr."""
    from ..config import NetworkConfig

    config = NetworkConfig.from_file(path)
    for message in config.warnings:
        warn(message)
    return config


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
