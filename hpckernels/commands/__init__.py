"""Subcommands of the ``hpckernels`` CLI that live in their own modules.

Each module defines ``add_parser(subparsers)``, which adds its subcommand and sets
``func`` to a function ``(args) -> exit code``.
"""
