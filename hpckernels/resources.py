"""Resource guards: refuse work that cannot fit in this machine's memory, up front."""

from __future__ import annotations

import os

from .errors import InputError


def available_memory():
    """Bytes of memory available to a new allocation (MemAvailable), or None if unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def format_bytes(n):
    """Bytes in binary units (KiB, MiB, GiB, TiB)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024


def require_memory(needed, where, what):
    """Raise InputError naming ``where`` if ``needed`` bytes exceed the available memory."""
    available = available_memory()
    if available is not None and needed > available:
        raise InputError(
            where,
            f"{what} would need {format_bytes(needed)} of memory; this "
            f"machine has {format_bytes(available)} available",
        )
