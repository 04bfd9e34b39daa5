"""Kernel engines: how the kernels of a pathway X -> Y are computed from the linearized
cell of the postsynaptic population Y.

Every engine is one class registered in :data:`~hpckernels.engines.base.ENGINES` behind
the seam of
:class:`~hpckernels.engines.base.Engine` (a basis, mean-field kernels, ensemble
moments, unit membrane currents); the commands and the workflow pick one by name and
never branch on it.

``linear`` (default)
    The linearized cell's fixed-step update read once from NEURON as a sparse linear
    system; responses by forward or adjoint solves without NEURON
    (:mod:`~hpckernels.engines.linear`).
``basis``
    Y's responses to a unit event on each segment, one NEURON run each
    (:mod:`~hpckernels.engines.basis`); every pathway, probe and realization follows
    from them without NEURON (:mod:`~hpckernels.engines.pathway`).
``neuron`` (reference)
    One NEURON run per pathway or realization (:mod:`~hpckernels.engines.neuron`).

What all engines share (synapse draws, kinetics, kernels from responses) is in
:mod:`~hpckernels.engines.common`; MPI ensembles in :mod:`~hpckernels.engines.ensemble`.
"""

from __future__ import annotations

from ..cell import ConnectionStatistics
from ..probes import ProbeStack, check
from ..resources import (
    LINEAR_SETUP_S,
    linear_solve_seconds,
    neuron_run_seconds,
    require_memory,
    require_work,
)
from . import basis, linear, neuron  # noqa: F401  (each registers its engine)
from .base import ENGINES, Engine
from .common import kinetics_groups

#: The engine of ``hpckernels kernel`` and the workflow unless another is named.
DEFAULT_ENGINE = "linear"

__all__ = ["DEFAULT_ENGINE", "ENGINES", "Engine", "get_engine", "require_resources"]


def get_engine(name=DEFAULT_ENGINE, where="--engine"):
    """The :class:`~hpckernels.engines.base.Engine` registered as ``name`` (InputError
    naming ``where`` otherwise)."""
    return ENGINES.lookup(name, where)()


def require_resources(
    engine, config, post, n_segments, pres=None, realizations=None, from_file=False
):
    """Refuse, before any work, what would not fit in memory or would exceed the work
    budget (:func:`hpckernels.resources.require_work`), naming the key that sets it.

    Parameters
    ----------
    engine : Engine
    config : NetworkConfig
    post : str
    n_segments : int
        Segments of ``post``'s cell.
    pres : list of str, optional
        The pathways' presynaptic populations (default all into ``post``).
    realizations : int, optional
        Ensemble realizations per pathway (None: mean-field).
    from_file : bool
        The basis is read from a file (it costs no runs).

    Notes
    -----
    An engine that writes the cell's linear system (``linear``) computes responses only
    for ensembles, in the kernel job; its mean-field kernels are forward solves of each
    pathway's expected input.
    """
    n_lags = config.n_steps_tau + 1
    run = neuron_run_seconds(n_segments, config.n_steps_tau)
    population = config.populations[post]
    stack = ProbeStack(config.probes)
    channels = sum(
        check(stack.spec(name, population), f"probes.{name}", config.probes)
        for name in stack.primary
    )
    n_kinetics = len(kinetics_groups(config, post, pres))
    connections = [c for c in config.connections_into(post) if pres is None or c["pre"] in pres]
    if engine.writes_system:
        responses_here = realizations is not None
    else:
        responses_here = engine.reads_basis and not from_file
    if responses_here:
        require_memory(
            4 * 8 * n_kinetics * n_segments * channels * n_lags,
            "simulation.dt",
            f"the basis of {post} ({n_kinetics} kinetics x {n_segments} segments x "
            f"{channels} channels x {n_lags} lags)",
        )
    if engine.writes_system:
        # the system read from NEURON (unless from a file), a forward solve per kinetics
        # (mean-field) or the unit responses of every segment (ensembles)
        rhs = n_kinetics * (n_segments if realizations is not None else 1)
        require_work(
            (0.0 if from_file else LINEAR_SETUP_S) + linear_solve_seconds(n_segments, n_lags, rhs),
            "simulation.dt",
            f"the linear system of {post} ({rhs} solves of {n_lags} steps)",
        )
    elif engine.reads_basis and not from_file:
        require_work(
            n_kinetics * n_segments * run,
            "simulation.dt",
            f"the basis of {post} ({n_kinetics * n_segments} runs of {n_lags} steps)",
        )
    if realizations is None:
        return
    for connection in connections:
        stats = ConnectionStatistics(config, connection)
        # synapses of one realization: connected cells x synapses per connection
        synapses = stats.total / config.populations[connection["pre"]]["size"]
        where = f"populations.{post}.size"
        require_memory(
            32 * 64 * max(synapses, 1.0),
            where,
            f"a block of realizations of {connection['pre']}->{post} ({synapses:.3g} "
            "synapses each)",
        )
        per_realization = (
            synapses * 1e-7 + channels * n_segments * n_lags * 2e-9 if engine.reads_basis else run
        )
        require_work(
            realizations * per_realization,
            "ensemble.realizations",
            f"{realizations} realizations of {connection['pre']}->{post}",
        )
