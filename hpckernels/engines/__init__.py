"""Kernel engines: how the kernels of a pathway X -> Y are computed from the linearized
cell of the postsynaptic population Y.

Every engine is one class registered in :data:`~hpckernels.engines.base.ENGINES` behind
the seam of
:class:`~hpckernels.engines.base.Engine` (a basis, mean-field kernels, ensemble
moments, unit membrane currents); the commands and the workflow pick one by name and
never branch on it.

``basis`` (default)
    Y's responses to a unit event on each segment, one NEURON run each
    (:mod:`~hpckernels.engines.basis`); every pathway, probe and realization follows
    from them without NEURON (:mod:`~hpckernels.engines.pathway`).
``neuron`` (reference)
    One NEURON run per pathway or realization (:mod:`~hpckernels.engines.neuron`).

What all engines share (synapse draws, kinetics, kernels from responses) is in
:mod:`~hpckernels.engines.common`; MPI ensembles in :mod:`~hpckernels.engines.ensemble`.
"""

from __future__ import annotations

from ..probes import ProbeStack, check
from ..resources import require_memory
from . import basis, neuron  # noqa: F401  (each registers its engine)
from .base import ENGINES, Engine
from .common import kinetics_groups

#: The engine of ``hpckernels kernel`` and the workflow unless another is named.
DEFAULT_ENGINE = "basis"

__all__ = ["DEFAULT_ENGINE", "ENGINES", "Engine", "get_engine", "require_basis_memory"]


def get_engine(name=DEFAULT_ENGINE, where="--engine"):
    """The :class:`~hpckernels.engines.base.Engine` registered as ``name`` (InputError
    naming ``where`` otherwise)."""
    return ENGINES.lookup(name, where)()


def require_basis_memory(config, post, n_segments, pres=None):
    """Raise InputError (``simulation.dt``) unless the basis of ``post`` fits in memory: the
    responses of every kinetics (and their gathered copies and transforms, about 4 times)."""
    population = config.populations[post]
    stack = ProbeStack(config.probes)
    channels = sum(
        check(stack.spec(name, population), f"probes.{name}", config.probes)
        for name in stack.primary
    )
    n_kinetics = len(kinetics_groups(config, post, pres))
    require_memory(
        4 * 8 * n_kinetics * n_segments * channels * (config.n_steps_tau + 1),
        "simulation.dt",
        f"the basis of {post} ({n_kinetics} kinetics x {n_segments} segments x {channels} "
        f"channels x {config.n_steps_tau + 1} lags)",
    )
