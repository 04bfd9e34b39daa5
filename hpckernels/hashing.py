"""Content hashes: what a result depends on, independent of file names and key order."""

from __future__ import annotations

import hashlib
import json


def file_sha256(path):
    """SHA-256 hex digest of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


#: Integers up to this magnitude are hashed as the float of the same value (beyond it a
#: float would not tell neighbouring integers apart).
_EXACT_FLOAT_INTEGERS = 2**53


def by_value(obj):
    """``obj`` with every number written as it compares (``50`` and ``50.0`` alike;
    booleans stay booleans; numpy scalars and arrays become Python numbers and lists)."""
    if isinstance(obj, dict):
        return {str(key): by_value(value) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return [by_value(value) for value in obj]
    if hasattr(obj, "tolist"):  # numpy arrays and scalars
        return by_value(obj.tolist())
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, int):
        return float(obj) if abs(obj) <= _EXACT_FLOAT_INTEGERS else obj
    if isinstance(obj, float):
        return obj
    return float(obj)


def content_hash(obj):
    """SHA-256 hex digest of a JSON-serialisable object: key order does not matter, and
    numbers count by value (a config's ``tau: 50`` and ``tau: 50.0`` hash alike)."""
    text = json.dumps(by_value(obj), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
