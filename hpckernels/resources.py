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


def require_memory(needed, where, what, share=1.0):
    """Raise InputError naming ``where`` if ``needed`` bytes exceed ``share`` of the
    available memory."""
    available = available_memory()
    if available is not None and needed > share * available:
        raise InputError(
            where,
            f"{what} would need {format_bytes(needed)} of memory; this "
            f"machine has {format_bytes(available)} available",
        )


#: Environment variable with the largest work (core-hours, estimated) a command takes on
#: before it starts; beyond it the command refuses, naming the key that sets the work.
WORK_VARIABLE = "HPCKERNELS_MAX_CORE_HOURS"
#: Its default.
DEFAULT_MAX_CORE_HOURS = 24.0
#: Cost (s) of one fixed NEURON step of a cell: per step, and per segment and step
#: (measured here: a 446-segment cell, 400 steps, 446 runs in 2.8 s).
NEURON_STEP_S = 2e-6
NEURON_SEGMENT_STEP_S = 5e-8


def neuron_run_seconds(n_segments, n_steps):
    """Estimated seconds of one NEURON run of a cell of ``n_segments`` for ``n_steps``."""
    return n_steps * (NEURON_STEP_S + NEURON_SEGMENT_STEP_S * n_segments)


#: Cost (s) of the linear engine's fixed steps, per right-hand side and step and per
#: right-hand side, step and segment (measured: 0.08 s for the 53 unit responses of a
#: 27-segment cell over 800 steps), and of reading a cell's linear system from NEURON.
LINEAR_STEP_S = 2e-6
LINEAR_SEGMENT_STEP_S = 5e-8
LINEAR_SETUP_S = 0.5


def linear_solve_seconds(n_segments, n_steps, n_rhs=1):
    """Estimated seconds of ``n_steps`` fixed steps of the linear system of a cell of
    ``n_segments`` with ``n_rhs`` right-hand sides."""
    return n_rhs * n_steps * (LINEAR_STEP_S + LINEAR_SEGMENT_STEP_S * n_segments)


#: Cost (s) per step of a detailed ground-truth cell with its synapses and recordings
#: (measured: 0.5 s per simulated second of a 27-segment ball-and-sticks cell with ~1,500
#: synapses at dt = 1/16 ms), per step and per segment and step.
DETAILED_STEP_S = 2e-5
DETAILED_SEGMENT_STEP_S = 4e-7


def detailed_run_seconds(n_segments, n_steps):
    """Estimated seconds of one ground-truth cell of ``n_segments`` for ``n_steps``."""
    return n_steps * (DETAILED_STEP_S + DETAILED_SEGMENT_STEP_S * n_segments)


def max_core_hours(environ=os.environ):
    """The work budget (core-hours): ``HPCKERNELS_MAX_CORE_HOURS`` or the default."""
    text = environ.get(WORK_VARIABLE, str(DEFAULT_MAX_CORE_HOURS)).strip()
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise InputError(WORK_VARIABLE, f"expected a positive number of core-hours, got '{text}'")
    return value


def require_work(core_seconds, where, what):
    """Raise InputError naming ``where`` if the estimated work exceeds the budget
    (:func:`max_core_hours`)."""
    budget = max_core_hours()
    if core_seconds > budget * 3600:
        raise InputError(
            where,
            f"{what} would take about {core_seconds / 3600:.3g} core-hours, more than the "
            f"budget of {budget:g} ({WORK_VARIABLE} raises it)",
        )
