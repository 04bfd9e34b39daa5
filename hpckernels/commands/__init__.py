"""Subcommands of the ``hpckernels`` CLI that live in their own modules.

Each module defines ``add_parser(subparsers)``, which adds its subcommand and sets
``func`` to a function ``(args) -> exit code``.
"""

from pathlib import Path

from ..errors import InputError


def output_path(text, option="-o/--output"):
    """The output file of a command: its folder must exist and it must not be a folder."""
    path = Path(text)
    if not path.parent.is_dir():
        raise InputError(option, f"folder {path.parent} does not exist")
    if path.is_dir():
        raise InputError(option, f"{path} is a folder; give a file name")
    return path
