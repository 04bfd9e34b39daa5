"""Probes: linear maps from segment membrane currents to measured signals.

A probe is anything with ``get_transformation_matrix()`` returning M of shape
(n_channels, n_segments) such that signal = M @ I_membrane (LFPykit's
``LinearModel`` contract). Kernels are computed once per pathway as membrane
current responses; each probe is one matrix applied to them.

Each probe type of the config (``probes.<name>.type``) is one class registered in
:data:`PROBES`: it builds the LinearModel on a cell geometry and knows the units
of its signal, the labels of its channels and the figure that draws it.
"""

from __future__ import annotations

from typing import ClassVar

import lfpykit
import numpy as np
from lfpykit import eegmegcalc

from .errors import ConfigError
from .registry import Registry

#: Probe types of the config by name.
PROBES = Registry("probe type")

#: Gauss-Legendre points per panel; panels are at most half the smallest length scale wide.
_GL_POINTS = 8
#: Gaussian tails beyond this many standard deviations are neglected (exp(-72) relative).
_TAIL = 12.0


def linspace_or_array(value):
    """Turn ``{start, stop, num}`` into ``np.linspace`` and lists into float arrays."""
    if isinstance(value, dict) and set(value) == {"start", "stop", "num"}:
        return np.linspace(value["start"], value["stop"], int(value["num"]))
    if isinstance(value, list):
        return np.asarray(value, dtype=float)
    return value


# ------------------------------------------------------------------- linear models
class GaussCylinderPotential(lfpykit.LinearModel):
    """Potential of a population whose sources are disks of radius R, smeared
    along depth by a Gaussian of width sigma_z (Hagen et al. 2022, Eq. 10 ff.).

    A segment at depth z_i contributes, at a contact at depth z_e, the potential
    of a uniformly charged disk of radius R (on its axis) averaged over disk depths
    z_i + Z with Z ~ N(0, sigma_z^2)::

        M[e, i] = 1 / (pi R^2) * E_Z[ (sqrt(u^2 + R^2) - |u|) / (2 sigma) ],
        u = z_e - z_i - Z

    The expectation is computed with a composite Gauss-Legendre rule split at the
    kink of |u|, vectorised over all contact-segment pairs.

    Parameters
    ----------
    cell : lfpykit.CellGeometry or None
        Segment geometry (um).
    z : ndarray
        Contact depths (um).
    sigma : float
        Extracellular conductivity (S/m).
    R : float
        Disk (population) radius (um).
    sigma_z : float
        Standard deviation of the Gaussian along depth (um).
    """

    def __init__(self, cell, z, sigma=0.3, R=100.0, sigma_z=50.0):
        super().__init__(cell=cell)
        z = np.asarray(z, dtype=float)
        if z.ndim != 1:
            raise ValueError("z must be a 1-D array of contact depths")
        for name, value in (("sigma", sigma), ("R", R), ("sigma_z", sigma_z)):
            if not value > 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        self.z = z
        self.sigma = float(sigma)
        self.R = float(R)
        self.sigma_z = float(sigma_z)

    def get_transformation_matrix(self):
        """Response matrix (mV/nA), shape (n_contacts, n_segments).

        Raises
        ------
        AttributeError
            If ``cell`` is None.
        """
        if self.cell is None:
            raise AttributeError(f"{type(self).__name__}.cell is None")
        z_seg = self.cell.z.mean(axis=-1)
        mu = (self.z[:, None] - z_seg[None, :]).ravel()
        mean_disk = self._mean_disk_term(mu)
        return mean_disk.reshape(self.z.size, z_seg.size) / (2 * self.sigma * np.pi * self.R**2)

    def _mean_disk_term(self, mu):
        """E[sqrt(u^2 + R^2) - |u|] for u ~ N(mu, sigma_z^2), element-wise in mu."""
        s, R = self.sigma_z, self.R
        # The integrand (sqrt(u^2 + R^2) - |u|) N(Z; 0, s), written as
        # R^2 / (sqrt(u^2 + R^2) + |u|) to avoid cancellation far from the disk, is
        # integrated over Z in [-TAIL s, TAIL s] split at the kink Z = mu of |u|, so
        # that each piece is smooth; panels <= min(R, s) / 2 wide resolve both the
        # disk term (complex singularities at distance R) and the Gaussian.
        lo, hi = -_TAIL * s, _TAIL * s
        n_panels = int(np.ceil((hi - lo) / (0.5 * min(R, s))))
        nodes, weights = np.polynomial.legendre.leggauss(_GL_POINTS)
        kink = np.clip(mu, lo, hi)
        result = np.zeros_like(mu)
        # pieces [lo, kink] and [kink, hi], each with n_panels equal panels
        edges = np.linspace(0.0, 1.0, n_panels + 1)
        unit_nodes = (
            (edges[:-1, None] + edges[1:, None]) / 2
            + (edges[1:, None] - edges[:-1, None]) / 2 * nodes[None, :]
        ).ravel()
        unit_weights = ((edges[1:, None] - edges[:-1, None]) / 2 * weights[None, :]).ravel()
        # blocks bound the memory of the (pairs x nodes) arrays
        block = max(1, 2**22 // unit_nodes.size)
        for start, length in ((np.full_like(mu, lo), kink - lo), (kink, hi - kink)):
            for b in range(0, mu.size, block):
                sl = slice(b, b + block)
                Z = start[sl, None] + length[sl, None] * unit_nodes[None, :]
                u = mu[sl, None] - Z
                gauss = np.exp(-0.5 * (Z / s) ** 2) / (s * np.sqrt(2 * np.pi))
                integrand = R**2 / (np.sqrt(u**2 + R**2) + np.abs(u)) * gauss
                result[sl] += length[sl] * (integrand @ unit_weights)
        return result


class SymmetricCurrentDipoleMoment(lfpykit.CurrentDipoleMoment):
    """Current dipole moment (nA um) of a population that is rotationally
    symmetric about the depth axis: the x and y components average to zero, so
    only P_z remains (rows x, y are zero).

    Parameters
    ----------
    cell : lfpykit.CellGeometry or None
        Segment geometry (um).
    """

    def get_transformation_matrix(self):
        """Response matrix (um), shape (3, n_segments): rows x, y (zero), z."""
        M = np.zeros((3, self.cell.totnsegs))
        M[2] = self.cell.z.mean(axis=-1)
        return M


class HeadModelProjection:
    """EEG or MEG of a population: a head model applied to its current dipole moment.

    The dipole moment is itself a linear map of membrane currents, so the probe is
    the product of the head model's matrix (sensors x 3, at the dipole location)
    and the dipole probe's matrix (3 x segments): no extra NEURON run.

    Parameters
    ----------
    head_model : object
        An ``lfpykit.eegmegcalc`` model with ``get_transformation_matrix(location)``.
    dipole : object
        Current dipole moment probe on the cell (M of shape (3, n_segments)).
    dipole_location : array of 3 floats
        Where the population's dipole sits in the head model (um).
    """

    def __init__(self, head_model, dipole, dipole_location):
        self.model = head_model
        self.dipole = dipole
        self.dipole_location = np.asarray(dipole_location, dtype=float)
        if self.dipole_location.shape != (3,):
            raise ValueError("dipole_location must be [x, y, z] (um)")

    def head_matrix(self):
        """Head-model matrix: (n_sensors, 3) for EEG, (n_sensors * 3, 3) for MEG (rows
        sensor-major, components x, y, z)."""
        T = np.asarray(self.model.get_transformation_matrix(self.dipole_location))
        return T.reshape(-1, 3)

    def get_transformation_matrix(self):
        """Response matrix, shape (n_channels, n_segments)."""
        return self.head_matrix() @ self.dipole.get_transformation_matrix()


# --------------------------------------------------------------------- probe types
class ProbeType:
    """A probe of the config: its LinearModel on a cell geometry, and its metadata.

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
    units : str
        Units of the signal for membrane currents in nA.
    figure : str or None
        Which signal figure draws this probe ('lfp', 'csd', 'dipole', 'eeg', 'meg').
    channel_name : str
        What a channel is (long name of the channel axis in output files).
    """

    name: ClassVar[str]
    units: ClassVar[str]
    figure: ClassVar[str | None] = None
    channel_name: ClassVar[str] = "channel index"
    #: True for probes that are a fixed matrix applied to another probe's signal
    #: (``dipole_name``, ``head_matrix()``), e.g. EEG and MEG head models.
    derived: ClassVar[bool] = False

    def __init__(self, spec, all_probes=None):
        self.spec = spec
        self.all_probes = all_probes or {}
        self.kwargs = {k: linspace_or_array(v) for k, v in spec.items() if k != "type"}

    def model(self, geometry):
        """The LinearModel of this probe on a cell geometry."""
        raise NotImplementedError

    def matrix(self, geometry):
        """M (n_channels, n_segments) on a cell geometry."""
        return np.atleast_2d(np.asarray(self.model(geometry).get_transformation_matrix()))

    def channel_labels(self, n_channels):
        """Values (and their units) of the channel axis."""
        return np.arange(n_channels), ""

    def parameters(self):
        """The spec without ``type`` (for output attributes)."""
        return {k: v for k, v in self.spec.items() if k != "type"}


class LFPykitProbe(ProbeType):
    """A probe that is an ``lfpykit`` LinearModel of the same class name."""

    def model(self, geometry):
        return getattr(lfpykit, self.name)(geometry, **self.kwargs)


@PROBES.register
class GaussCylinderProbe(ProbeType):
    """Population LFP at contacts along the depth axis (:class:`GaussCylinderPotential`)."""

    name = "GaussCylinderPotential"
    units = "mV"
    figure = "lfp"
    channel_name = "contact depth"

    def model(self, geometry):
        return GaussCylinderPotential(geometry, **self.kwargs)

    def channel_labels(self, n_channels):
        return np.asarray(self.kwargs["z"], dtype=float), "um"


@PROBES.register
class DipoleProbe(ProbeType):
    """Current dipole moment (rows x, y, z); ``rotational_symmetry: true`` keeps P_z only."""

    name = "CurrentDipoleMoment"
    units = "nA um"
    figure = "dipole"
    channel_name = "dipole component"

    def model(self, geometry):
        kwargs = dict(self.kwargs)
        if kwargs.pop("rotational_symmetry", False):
            return SymmetricCurrentDipoleMoment(geometry, **kwargs)
        return lfpykit.CurrentDipoleMoment(geometry, **kwargs)

    def channel_labels(self, n_channels):
        return np.array(["x", "y", "z"]), ""


class HeadModelProbe(ProbeType):
    """EEG/MEG: an ``lfpykit.eegmegcalc`` head model applied to a dipole probe of the
    config (``dipole``: its name) at ``dipole_location`` (um)."""

    #: Head models are derived from a dipole probe (kernels need no matrix of their own).
    derived = True

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
        dipole = DipoleProbe(self.all_probes[self.dipole_name]).model(geometry)
        head_model = getattr(eegmegcalc, self.name)(**kwargs)
        return HeadModelProjection(head_model, dipole, location)

    def head_matrix(self):
        """The head model's matrix T (n_channels, 3): this probe's signal is T times the
        dipole probe's signal (x, y, z rows)."""
        return self.model(None).head_matrix()


@PROBES.register
class FourSphereVolumeConductor(HeadModelProbe):
    """EEG in the four-sphere head model (``radii`` um, ``sigmas`` S/m, ``r_electrodes`` um)."""

    name = "FourSphereVolumeConductor"
    units = "mV"
    figure = "eeg"
    channel_name = "electrode index"


class MEGProbe(HeadModelProbe):
    """MEG: magnetic field H (nA/um) at sensors, components x, y, z per sensor."""

    units = "nA/um"
    figure = "meg"
    channel_name = "sensor:field component"

    def channel_labels(self, n_channels):
        return np.array([f"{i}:{c}" for i in range(n_channels // 3) for c in "xyz"]), ""


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

    units = "mV"


@PROBES.register
class PointSourcePotential(CellPotentialProbe):
    """lfpykit.PointSourcePotential: segments as point sources."""

    name = "PointSourcePotential"


@PROBES.register
class LineSourcePotential(CellPotentialProbe):
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
    units = "nA/um3"
    figure = "csd"
    channel_name = "contact depth"

    def channel_labels(self, n_channels):
        return np.asarray(self.kwargs["z"], dtype=float).mean(axis=-1), "um"


def probe_type(spec, all_probes=None, where="probe"):
    """The :class:`ProbeType` of a config probe entry."""
    return PROBES.lookup(spec["type"], f"{where}.type")(spec, all_probes)


def transformation_matrix(spec, geometry, all_probes=None):
    """M (n_channels, n_segments) of a probe spec on a geometry."""
    return probe_type(spec, all_probes).matrix(geometry)


def check(spec, where, all_probes=None):
    """Raise ConfigError unless the probe can be built (tried on a small test geometry);
    return its number of channels."""
    probe = probe_type(spec, all_probes, where)
    geometry = lfpykit.CellGeometry(
        x=np.zeros((2, 2)),
        y=np.zeros((2, 2)),
        z=np.array([[0.0, 10.0], [10.0, 20.0]]),
        d=np.ones(2),
    )
    try:
        M = probe.matrix(geometry)
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
