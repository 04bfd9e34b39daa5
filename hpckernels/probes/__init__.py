"""Probes: linear maps from segment membrane currents to measured signals.

A probe is anything with ``get_transformation_matrix()`` returning M of shape
(n_channels, n_segments) such that signal = M @ I_membrane (LFPykit's
``LinearModel`` contract). Kernels are computed once per pathway as membrane current
responses; each probe is one matrix applied to them.

- :mod:`~hpckernels.probes.models`: the population probes' linear models
  (GaussCylinderPotential, GaussCylinderCSD, ...);
- :mod:`~hpckernels.probes.types`: one class per config ``type``
  (:data:`~hpckernels.probes.types.PROBES`);
- :mod:`~hpckernels.probes.axes`: units and channel labels of a probe's signal;
- :mod:`~hpckernels.probes.stack`: the probes of a run on one channel axis.
"""

from .axes import ChannelAxis
from .models import (
    GaussCylinderCSD,
    GaussCylinderPotential,
    HeadModelProjection,
    PopulationAveragedPotential,
    SymmetricCurrentDipoleMoment,
)
from .stack import ProbeStack
from .types import (
    POPULATION,
    PROBES,
    ProbeType,
    check,
    linspace_or_array,
    probe_type,
    resolve,
    small_geometry,
    transformation_matrix,
)

__all__ = [
    "ChannelAxis",
    "GaussCylinderCSD",
    "GaussCylinderPotential",
    "HeadModelProjection",
    "POPULATION",
    "PROBES",
    "PopulationAveragedPotential",
    "ProbeStack",
    "ProbeType",
    "SymmetricCurrentDipoleMoment",
    "check",
    "linspace_or_array",
    "probe_type",
    "resolve",
    "small_geometry",
    "transformation_matrix",
]
