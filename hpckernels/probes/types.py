"""Probe types of the config: one class per ``probes.<name>.type``, registered in
:data:`~hpckernels.probes.types.PROBES`.

A probe type does one job: it builds its linear model (:mod:`hpckernels.probes.models`
or LFPykit's) on a cell geometry, whose ``get_transformation_matrix()`` maps segment
membrane currents to the signal. What its channels are (units, labels) is its
:class:`~hpckernels.probes.axes.ChannelAxis`; what measures it on a detailed population
lives with the ground truth (:mod:`hpckernels.validation.groundtruth`), how it is drawn
with the figures (:mod:`hpckernels.plotting.common`).

Examples
--------
>>> import lfpykit, numpy as np
>>> from hpckernels.probes import probe_type
>>> lfp = probe_type({"type": "GaussCylinderPotential", "z": [0.0, -100.0],
...                   "sigma": 0.3, "R": 150.0, "sigma_z": 75.0})
>>> cell = lfpykit.CellGeometry(x=np.zeros((1, 2)), y=np.zeros((1, 2)),
...                             z=np.array([[0.0, 20.0]]), d=np.ones(1))
>>> lfp.matrix(cell).shape, lfp.axis.units
((2, 1), 'mV')
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..datatypes import SegmentGeometry
from ..errors import ConfigError
from ..registry import Registry
from ..usercache import stored
from .axes import ChannelAxis, DepthAxis, DipoleAxis, LaminarAxis, SensorFieldAxis
from .models import (
    GaussCylinderCSD,
    GaussCylinderPotential,
    HeadModelProjection,
    PopulationAveragedPotential,
    SymmetricCurrentDipoleMoment,
    cell_geometry,
)


def _lfpykit():
    """LFPykit, imported when a probe built on its models is (not at import: ~0.2 s)."""
    import lfpykit
    import lfpykit.eegmegcalc  # noqa: F401

    return lfpykit


#: Probe types of the config by name.
PROBES = Registry("probe type")

#: A probe parameter given as this word takes the value of the postsynaptic population
#: (see :attr:`ProbeType.population_parameters`).
POPULATION = "population"
#: A population ``rotation.z`` given as this word: each cell is rotated about the vertical
#: axis by a uniform random angle (as LFPy's ``NetworkPopulation`` does).
UNIFORM = "uniform"
#: Key that :func:`resolve` adds to the spec of a probe on a population rotated uniformly
#: about the vertical axis: the number of equally spaced angles its matrix is averaged
#: over (:meth:`ProbeType.matrix`).
Z_ROTATIONS = "z_rotations"
#: Angles of that average: exact for every trigonometric polynomial of degree below it.
ROTATION_NODES = 16


def linspace_or_array(value):
    """Turn ``{start, stop, num}`` into ``np.linspace`` and lists into float arrays."""
    if isinstance(value, dict) and set(value) == {"start", "stop", "num"}:
        return np.linspace(value["start"], value["stop"], int(value["num"]))
    if isinstance(value, list):
        return np.asarray(value, dtype=float)
    return value


class ProbeType:
    """A probe of the config: its linear model on a cell geometry.

    Parameters
    ----------
    spec : dict
        ``{type: name, **keyword arguments}``; ``{start, stop, num}`` values become
        ``np.linspace`` and lists arrays.
    all_probes : dict, optional
        Every probe spec of the config (head models look up their dipole probe).

    Attributes
    ----------
    name : str
        The config's ``type``.
    axis : ChannelAxis
        The signal's units and what its channels are.
    population_parameters : dict of str to str
        Parameters that may be given as ``population`` in the config: they then take
        the postsynaptic population's ``position[key]`` (see :func:`resolve`).
    """

    name: ClassVar[str]
    axis: ClassVar[ChannelAxis]
    population_parameters: ClassVar[dict] = {}
    #: True for probes that are a fixed matrix applied to another probe's signal
    #: (``dipole_name``, ``head_matrix()``), e.g. EEG and MEG head models.
    derived: ClassVar[bool] = False
    #: True for probes whose matrix does not change when the cell turns about the
    #: vertical axis (population probes along the depth axis).
    axisymmetric: ClassVar[bool] = False

    def __init__(self, spec, all_probes=None):
        self.spec = spec
        self.all_probes = all_probes or {}
        #: Angles about the vertical axis the matrix is averaged over (1: none).
        self.rotations = int(spec.get(Z_ROTATIONS, 1))
        self.kwargs = {
            k: linspace_or_array(v) for k, v in spec.items() if k not in ("type", Z_ROTATIONS)
        }

    def model(self, geometry):
        """The LinearModel of this probe on a cell geometry."""
        raise NotImplementedError

    def matrix(self, geometry):
        """M (n_channels, n_segments) on a cell geometry (units: the axis's per nA)."""
        unresolved = [k for k, v in self.kwargs.items() if isinstance(v, str) and v == POPULATION]
        if unresolved:
            raise ValueError(
                f"{', '.join(unresolved)}: '{POPULATION}' needs the postsynaptic population "
                "(resolve the spec first)"
            )
        if self.rotations > 1 and not self.axisymmetric:
            return rotation_average(lambda g: self._matrix(g), geometry, self.rotations)
        return self._matrix(geometry)

    def _matrix(self, geometry):
        return np.atleast_2d(np.asarray(self.model(geometry).get_transformation_matrix()))

    def channel_labels(self, n_channels):
        """Values (and their units) of the channel axis."""
        return self.axis.labels(self.kwargs, n_channels)

    def parameters(self):
        """The spec without ``type`` (for output attributes)."""
        return {k: v for k, v in self.spec.items() if k != "type"}


def rotation_average(matrix, geometry, n):
    """Mean of ``matrix(geometry turned about the vertical axis by 2 pi k / n)`` over k.

    The population's cells are turned by a uniform random angle about the vertical axis
    through their soma (at x = y = 0 on the kernel cell); the mean over ``n`` equally
    spaced angles is exact for matrices that are trigonometric polynomials of degree
    below ``n`` in the angle (a dipole's: degree 1).
    """
    import lfpykit

    total = 0.0
    for k in range(n):
        angle = 2 * np.pi * k / n
        c, s = np.cos(angle), np.sin(angle)
        turned = lfpykit.CellGeometry(
            x=c * geometry.x - s * geometry.y,
            y=s * geometry.x + c * geometry.y,
            z=geometry.z.copy(),
            d=geometry.d.copy(),
        )
        total = total + matrix(turned)
    return total / n


class LFPykitProbe(ProbeType):
    """A probe that is an ``lfpykit`` LinearModel of the same class name."""

    def model(self, geometry):
        return getattr(_lfpykit(), self.name)(cell_geometry(geometry), **self.kwargs)


class PopulationDepthProbe(ProbeType):
    """A population probe at contacts along the depth axis (``z``, um) whose disk radius
    ``R`` and depth spread ``sigma_z`` may be the postsynaptic population's
    (``population``); ``linear_model`` is its LinearModel class."""

    population_parameters = {"R": "radius", "sigma_z": "scale"}
    linear_model: ClassVar[type]
    axisymmetric = True

    def model(self, geometry):
        return self.linear_model(geometry, **self.kwargs)


@PROBES.register
class GaussCylinderProbe(PopulationDepthProbe):
    """Population LFP at contacts along the depth axis
    (:class:`~hpckernels.probes.models.GaussCylinderPotential`)."""

    name = "GaussCylinderPotential"
    axis = DepthAxis("mV")
    linear_model = GaussCylinderPotential


@PROBES.register
class GaussCylinderCSDProbe(PopulationDepthProbe):
    """Population CSD in slabs of thickness ``h`` around contact depths ``z`` (um), in
    cylinders of radius ``R`` (um), soma depths spread by ``sigma_z`` (um)
    (:class:`~hpckernels.probes.models.GaussCylinderCSD`)."""

    name = "GaussCylinderCSD"
    axis = DepthAxis("nA/um3")
    linear_model = GaussCylinderCSD


@PROBES.register
class DipoleProbe(ProbeType):
    """Current dipole moment (rows x, y, z); ``rotational_symmetry: true`` keeps P_z only."""

    name = "CurrentDipoleMoment"
    axis = DipoleAxis()

    def model(self, geometry):
        kwargs = dict(self.kwargs)
        # turned uniformly about the vertical axis, P_x and P_y average to zero exactly
        if kwargs.pop("rotational_symmetry", False) or self.rotations > 1:
            return SymmetricCurrentDipoleMoment(geometry, **kwargs)
        return _lfpykit().CurrentDipoleMoment(cell_geometry(geometry), **kwargs)

    @property
    def axisymmetric(self):
        """With rotational symmetry (or turned uniformly about the vertical axis) the
        dipole is its P_z (:meth:`model`)."""
        return bool(self.kwargs.get("rotational_symmetry")) or self.rotations > 1


class HeadModelProbe(ProbeType):
    """EEG/MEG: an ``lfpykit.eegmegcalc`` head model applied to a dipole probe of the
    config (``dipole``: its name) at ``dipole_location`` (um)."""

    #: Head models are derived from a dipole probe (kernels need no matrix of their own).
    derived = True

    @property
    def axisymmetric(self):
        """Turned uniformly about the vertical axis, the dipole averages itself
        (:meth:`model`)."""
        return self.rotations > 1

    @property
    def dipole_name(self):
        """Name of the config's CurrentDipoleMoment probe this head model maps."""
        name = self.kwargs.get("dipole")
        spec = self.all_probes.get(name)
        if spec is None or spec.get("type") != DipoleProbe.name:
            raise KeyError(f"dipole '{name}' must name a CurrentDipoleMoment probe of the config")
        return name

    def model(self, geometry):
        kwargs = dict(self.kwargs)
        kwargs.pop("dipole", None)
        location = kwargs.pop("dipole_location", None)
        spec = self.all_probes[self.dipole_name]
        if self.rotations > 1:
            spec = dict(spec, **{Z_ROTATIONS: self.rotations})
        dipole = DipoleProbe(spec).model(geometry)
        head_model = getattr(_lfpykit().eegmegcalc, self.name)(**kwargs)
        return HeadModelProjection(head_model, dipole, location)

    def head_matrix(self):
        """The head model's matrix T (n_channels, 3): this probe's signal is T times the
        dipole probe's signal (x, y, z rows)."""
        return self.model(None).head_matrix()


@PROBES.register
class FourSphereVolumeConductor(HeadModelProbe):
    """EEG in the four-sphere head model (``radii`` um, ``sigmas`` S/m, ``r_electrodes`` um)."""

    name = "FourSphereVolumeConductor"
    axis = ChannelAxis("mV", "electrode index")


class MEGProbe(HeadModelProbe):
    """MEG: magnetic field H (nA/um) at sensors, components x, y, z per sensor."""

    axis = SensorFieldAxis("nA/um")


@PROBES.register
class InfiniteHomogeneousVolCondMEG(MEGProbe):
    """MEG in an infinite homogeneous conductor (``sensor_locations``, um)."""

    name = "InfiniteHomogeneousVolCondMEG"


@PROBES.register
class SphericallySymmetricVolCondMEG(MEGProbe):
    """MEG of a spherically symmetric head (sensor positions ``r``, um)."""

    name = "SphericallySymmetricVolCondMEG"


class CellPotentialProbe(LFPykitProbe):
    """Extracellular potential (mV) at contacts ``x``, ``y``, ``z`` (um) of one cell at the
    population's mean depth, conductivity ``sigma`` (S/m)."""

    axis = ChannelAxis("mV")


class AveragedPotentialProbe(CellPotentialProbe):
    """A cell potential probe that may be averaged over a population's soma positions:
    ``population_average: {R, sigma_z, n_r, n_phi, n_z}`` (um; quadrature nodes) makes it a
    :class:`~hpckernels.probes.models.PopulationAveragedPotential`."""

    def model(self, geometry):
        kwargs = dict(self.kwargs)
        average = kwargs.pop("population_average", None)
        if average is None:
            return getattr(_lfpykit(), self.name)(cell_geometry(geometry), **kwargs)
        return PopulationAveragedPotential(
            geometry, getattr(_lfpykit(), self.name), **kwargs, **average
        )


@PROBES.register
class PointSourcePotential(AveragedPotentialProbe):
    """lfpykit.PointSourcePotential: segments as point sources."""

    name = "PointSourcePotential"


@PROBES.register
class LineSourcePotential(AveragedPotentialProbe):
    """lfpykit.LineSourcePotential: segments as line sources."""

    name = "LineSourcePotential"


@PROBES.register
class RecExtElectrode(CellPotentialProbe):
    """lfpykit.RecExtElectrode: LFPy's electrode (contact size and averaging options)."""

    name = "RecExtElectrode"


@PROBES.register
class LaminarCurrentSourceDensity(LFPykitProbe):
    """CSD of one cell in cylinders (``z``: [[bottom, top]] per contact, ``r`` um)."""

    name = "LaminarCurrentSourceDensity"
    axis = LaminarAxis("nA/um3")


def probe_type(spec, all_probes=None, where="probe"):
    """The :class:`ProbeType` of a config probe entry."""
    return PROBES.lookup(spec["type"], f"{where}.type")(spec, all_probes)


def resolve(spec, population, where="probe"):
    """A probe spec on a postsynaptic population: the parameters given as ``population``
    replaced by the values of the population's ``position`` (e.g. ``sigma_z:
    population`` -> its ``scale``), and, when the population's cells are turned about the
    vertical axis by a uniform angle (``rotation.z: uniform``), the angles the probe's
    matrix is averaged over (``z_rotations``; probes along the depth axis need none).

    Parameters
    ----------
    spec : dict
        Config probe entry.
    population : dict
        ``populations.<Y>`` of the postsynaptic population (its ``position``: radius,
        loc, scale; its ``rotation``).
    where : str
        Config key of the probe, for errors.

    Returns
    -------
    dict
        A new spec (``spec`` itself when nothing is population-dependent).
    """
    keys = [k for k, v in spec.items() if isinstance(v, str) and v == POPULATION]
    turned = population.get("rotation", {}).get("z") == UNIFORM
    if not keys and not (turned and not probe_type(spec, where=where).axisymmetric):
        return spec
    position = population["position"]
    allowed = probe_type(spec, where=where).population_parameters
    resolved = dict(spec)
    if turned:
        resolved[Z_ROTATIONS] = ROTATION_NODES
    for key in keys:
        if key not in allowed:
            raise ConfigError(
                f"{where}.{key}",
                f"'{POPULATION}' is allowed for {', '.join(allowed) or 'no parameter'} "
                f"of {spec['type']}",
            )
        resolved[key] = float(position[allowed[key]])
    return resolved


def transformation_matrix(spec, geometry, all_probes=None):
    """M (n_channels, n_segments) of a probe spec on a geometry."""
    return probe_type(spec, all_probes).matrix(geometry)


def small_geometry():
    """A cell geometry of two segments (um), to build a probe's matrix without a cell."""
    return SegmentGeometry(
        x=np.zeros((2, 2)),
        y=np.zeros((2, 2)),
        z=np.array([[0.0, 10.0], [10.0, 20.0]]),
        d=np.ones(2),
    )


def check(spec, where, all_probes=None):
    """Raise ConfigError unless the probe can be built (tried on a small test geometry);
    return its number of channels. Kept in the user cache by content
    (:func:`~hpckernels.usercache.stored`: a kept check imports no LFPykit)."""
    head = probe_type(spec, all_probes, where)
    dipole = all_probes.get(head.kwargs.get("dipole")) if head.derived and all_probes else None
    return _check(spec, where, {head.kwargs["dipole"]: dipole} if dipole else None)


@stored("probes", ("lfpykit", "numpy"))
def _check(spec, where, all_probes=None):
    probe = probe_type(spec, all_probes, where)
    for key in ("sigma", "sigmas"):
        values = np.ravel(np.asarray(spec.get(key, 1.0), dtype=object))
        if any(isinstance(v, str) for v in values):
            continue
        if not np.all(np.asarray(values, dtype=float) > 0):
            raise ConfigError(
                f"{where}.{key}",
                f"{spec[key]}: conductivities (S/m) must be > 0 (every entry)",
            )
    try:
        M = probe.matrix(small_geometry())
    except KeyError as exc:
        raise ConfigError(f"{where}.dipole", exc.args[0]) from None
    except (TypeError, ValueError, AssertionError, AttributeError, RuntimeError) as exc:
        message = " ".join(str(exc).split())
        raise ConfigError(where, f"invalid {spec['type']} parameters: {message}") from None
    if M.shape[-1] != 2:
        raise ConfigError(where, f"{spec['type']} does not map segment currents")
    if not np.all(np.isfinite(M)):
        raise ConfigError(where, f"{spec['type']} gives non-finite values for these parameters")
    return M.shape[0]
