"""Exceptions that the command line turns into one line and exit code 2."""


class InputError(ValueError):
    """Bad user input: a config key, a file or a command-line argument.

    Parameters
    ----------
    where : str
        The config key (dotted path such as ``connections[1].probability``),
        file or argument at fault.
    message : str
        What is wrong and what is allowed.
    """

    def __init__(self, where, message):
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}")

    def __reduce__(self):
        # rebuilt from (where, message) when sent to the other MPI ranks
        return (InputError.__new__, (type(self),), self.__dict__)

    def __setstate__(self, state):
        self.__dict__.update(state)
        Exception.__init__(self, f"{self.where}: {self.message}")


class ConfigError(InputError):
    """A network config that violates the schema or the physics' constraints."""


class HpckernelsWarning(UserWarning):
    """Input that is allowed but probably not meant (shown as one line by the CLI)."""
