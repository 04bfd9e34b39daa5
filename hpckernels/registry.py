"""Registries of the config's types: one class per synapse model, biophysics, probe
and spike format, looked up by the name the config gives in its ``type`` (or
``format``) key.

Adding a type is one class, decorated with its registry's :meth:`Registry.register`,
plus the schema entry that names it (``hpckernels/schemas/config.schema.yaml``);
``tests/test_registries.py`` checks that the two agree.
"""

from __future__ import annotations

from .errors import ConfigError


class Registry(dict):
    """Classes of one kind by config name.

    Parameters
    ----------
    kind : str
        What the classes are, for error messages ("synapse type", "probe type", ...).
    """

    def __init__(self, kind):
        super().__init__()
        self.kind = kind

    def register(self, cls):
        """Class decorator: add ``cls`` under ``cls.name``."""
        if cls.name in self:
            raise ValueError(f"{self.kind} '{cls.name}' is registered twice")
        self[cls.name] = cls
        return cls

    def lookup(self, name, where):
        """The class registered as ``name``; ConfigError naming ``where`` otherwise."""
        try:
            return self[name]
        except KeyError:
            raise ConfigError(
                where, f"unknown {self.kind} '{name}'; allowed: {', '.join(sorted(self))}"
            ) from None
