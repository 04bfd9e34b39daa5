"""Results of pure functions kept in the user cache by the content of their arguments.

Some results a command needs are cheap to keep and expensive to get only because of what
computing them imports: a delay distribution's pmf needs ``scipy.stats`` (about half a
second to import here), the check of an EEG probe's parameters LFPykit's head models.
:func:`stored` keeps them in ``<user cache>/<folder>/<hash>.json`` (the folder of
:func:`hpckernels.mechanisms.cache_root`), so that a short-lived process (a kernel job)
that finds them there never imports those packages.
"""

from __future__ import annotations

import functools
import inspect
import json
import os

import numpy as np

from .errors import ConfigError
from .hashing import content_hash

#: Version of what :func:`stored` keeps (raise it when a stored function changes).
STORE_FORMAT = 1


@functools.cache
def package_version(name):
    """The installed version of a distribution (read once per process)."""
    from importlib.metadata import version

    return version(name)


def stored(folder, packages=()):
    """Decorator: keep the results of a function of JSON arguments (arrays, tuples,
    numbers, None, or the ConfigError it raises) in ``<user cache>/<folder>/``, by the
    content of its arguments (defaults applied), the versions of ``packages`` and
    :data:`STORE_FORMAT`; and in this process.

    Numbers are stored as JSON (shortest round-trip representation), so a stored result
    equals a computed one to the bit. A cache entry that cannot be read is computed again;
    one that cannot be written is not kept.

    Parameters
    ----------
    folder : str
        Sub-folder of the user cache.
    packages : tuple of str
        Distributions whose versions the results depend on.
    """

    def decorate(func):
        memory = {}
        signature = inspect.signature(func)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            from .mechanisms import cache_root

            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            key = content_hash(
                {
                    "function": f"{func.__module__}.{func.__qualname__}",
                    "arguments": bound.arguments,
                    "format": STORE_FORMAT,
                    "versions": {name: package_version(name) for name in packages},
                }
            )
            if key not in memory:
                path = cache_root() / folder / f"{key}.json"
                try:
                    memory[key] = json.loads(path.read_text())
                except (OSError, ValueError):
                    try:
                        memory[key] = {"value": _encode(func(*args, **kwargs))}
                    except ConfigError as error:
                        memory[key] = {"error": [error.where, error.message]}
                    _write(path, memory[key])
            entry = memory[key]
            if "error" in entry:
                raise ConfigError(*entry["error"])
            return _decode(entry["value"])

        return wrapper

    return decorate


def _encode(value):
    if isinstance(value, tuple):
        return {"tuple": [_encode(v) for v in value]}
    if isinstance(value, np.ndarray):
        return {"array": value.tolist(), "dtype": value.dtype.str}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decode(value):
    if isinstance(value, dict) and "tuple" in value:
        return tuple(_decode(v) for v in value["tuple"])
    if isinstance(value, dict) and "array" in value:
        return np.array(value["array"], dtype=value["dtype"])
    return value


def _write(path, entry):
    """Write a cache entry atomically (other processes may write the same one)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        temporary.write_text(json.dumps(entry))
        os.replace(temporary, path)
    except OSError:
        pass
