"""Probes: linear maps from segment membrane currents to measured signals.

A probe is anything with ``get_transformation_matrix()`` returning M of shape
(n_channels, n_segments) such that signal = M @ I_membrane (LFPykit's
``LinearModel`` contract). Kernels are computed once per pathway as membrane
current responses; each probe is one matrix applied to them.
"""

from __future__ import annotations

import lfpykit
import numpy as np

from .config import linspace_or_array
from .errors import ConfigError

#: Gauss-Legendre points per panel; panels are at most half the smallest length scale wide.
_GL_POINTS = 8
#: Gaussian tails beyond this many standard deviations are neglected (exp(-72) relative).
_TAIL = 12.0

#: Units of each probe's signal given membrane currents in nA.
UNITS = {
    "GaussCylinderPotential": "mV",
    "PointSourcePotential": "mV",
    "LineSourcePotential": "mV",
    "RecExtElectrode": "mV",
    "RecMEAElectrode": "mV",
    "OneSphereVolumeConductor": "mV",
    "CurrentDipoleMoment": "nA um",
    "LaminarCurrentSourceDensity": "nA/um3",
    "VolumetricCurrentSourceDensity": "nA/um3",
    "FourSphereVolumeConductor": "mV",
    "InfiniteVolumeConductor": "mV",
    "InfiniteHomogeneousVolCondMEG": "nA/um",
    "SphericallySymmetricVolCondMEG": "nA/um",
}

#: Head models (lfpykit.eegmegcalc) that map a current dipole moment to EEG or MEG sensors.
HEAD_MODELS = ("FourSphereVolumeConductor", "InfiniteHomogeneousVolCondMEG",
               "SphericallySymmetricVolCondMEG")


class GaussCylinderPotential(lfpykit.LinearModel):
    """Potential of a population whose sources are disks of radius R, smeared
    along depth by a Gaussian of width sigma_z (Hagen et al. 2022, Eq. 10 ff.).

    A segment at depth z_i contributes, at a contact at depth z_e, the potential
    of a uniformly charged disk of radius R (on its axis) averaged over disk depths
    z_i + Z with Z ~ N(0, sigma_z^2)::

        M[e, i] = 1 / (pi R^2) * E_Z[ (sqrt(u^2 + R^2) - |u|) / (2 sigma) ],
        u = z_e - z_i - Z

    The expectation is computed with a
    composite Gauss-Legendre rule split at the kink of |u|, vectorised over all
    contact-segment pairs.

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
        return mean_disk.reshape(self.z.size, z_seg.size) / (2 * self.sigma * np.pi * self.R ** 2)

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
        result = np.empty_like(mu)
        # pieces [lo, kink] and [kink, hi], each with n_panels equal panels
        edges = np.linspace(0.0, 1.0, n_panels + 1)
        unit_nodes = ((edges[:-1, None] + edges[1:, None]) / 2
                      + (edges[1:, None] - edges[:-1, None]) / 2 * nodes[None, :]).ravel()
        unit_weights = ((edges[1:, None] - edges[:-1, None]) / 2 * weights[None, :]).ravel()
        for start, length in ((np.full_like(mu, lo), kink - lo), (kink, hi - kink)):
            # process in blocks to bound memory (pairs x nodes)
            block = max(1, 2 ** 22 // unit_nodes.size)
            for b in range(0, mu.size, block):
                sl = slice(b, b + block)
                Z = start[sl, None] + length[sl, None] * unit_nodes[None, :]
                u = mu[sl, None] - Z
                gauss = np.exp(-0.5 * (Z / s) ** 2) / (s * np.sqrt(2 * np.pi))
                # sqrt(u^2+R^2) - |u| written without cancellation
                integrand = R ** 2 / (np.sqrt(u ** 2 + R ** 2) + np.abs(u)) * gauss
                part = length[sl] * (integrand @ unit_weights)
                if start is kink:
                    result[sl] += part
                else:
                    result[sl] = part
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


class HeadModelProbe:
    """EEG or MEG of a population: a head model applied to its current dipole moment.

    The dipole moment is itself a linear map of membrane currents, so the probe is
    the product of the head model's matrix (sensors x 3, at the dipole location)
    and the dipole probe's matrix (3 x segments): no extra NEURON run.

    Parameters
    ----------
    cell : lfpykit.CellGeometry
    head_model : str
        Class name in ``lfpykit.eegmegcalc`` (see ``HEAD_MODELS``).
    dipole : object
        Current dipole moment probe on the same cell (M of shape (3, n_segments)).
    dipole_location : array of 3 floats
        Where the population's dipole sits in the head model (um).
    **kwargs
        Head model arguments: ``r_electrodes``, ``radii`` (um), ``sigmas`` (S/m) for
        FourSphereVolumeConductor; ``sensor_locations`` or ``r`` (um) for the MEG models.
    """

    def __init__(self, cell, head_model, dipole, dipole_location, **kwargs):
        from lfpykit import eegmegcalc

        self.cell = cell
        self.dipole = dipole
        self.dipole_location = np.asarray(dipole_location, dtype=float)
        if self.dipole_location.shape != (3,):
            raise ValueError("dipole_location must be [x, y, z] (um)")
        self.model = getattr(eegmegcalc, head_model)(**kwargs)

    def head_matrix(self):
        """Head-model matrix: (n_sensors, 3) for EEG, (n_sensors * 3, 3) for MEG (rows
        sensor-major, components x, y, z)."""
        T = np.asarray(self.model.get_transformation_matrix(self.dipole_location))
        return T.reshape(-1, 3)

    def get_transformation_matrix(self):
        """Response matrix, shape (n_channels, n_segments)."""
        return self.head_matrix() @ self.dipole.get_transformation_matrix()


def _lfpykit_linear_model(name):
    cls = getattr(lfpykit, name, None)
    if isinstance(cls, type) and issubclass(cls, lfpykit.LinearModel):
        return cls
    return None


def probe_class(spec):
    """Class and keyword arguments of a probe spec ``{type: ..., **kwargs}``.

    Head models (EEG/MEG) are built by :func:`build`, which resolves their dipole probe.
    """
    spec = dict(spec)
    kind = spec.pop("type")
    kwargs = {k: linspace_or_array(v) for k, v in spec.items()}
    if kind in HEAD_MODELS:
        return HeadModelProbe, dict(kwargs, head_model=kind)
    if kind == "GaussCylinderPotential":
        return GaussCylinderPotential, kwargs
    if kind == "CurrentDipoleMoment":
        symmetric = kwargs.pop("rotational_symmetry", False)
        return (SymmetricCurrentDipoleMoment if symmetric else lfpykit.CurrentDipoleMoment), kwargs
    cls = _lfpykit_linear_model(kind)
    if cls is None:
        linear = sorted(n for n in dir(lfpykit) if _lfpykit_linear_model(n))
        raise KeyError(f"unknown probe type '{kind}'; allowed: GaussCylinderPotential, "
                       f"CurrentDipoleMoment or an lfpykit LinearModel ({', '.join(linear)})")
    return cls, kwargs


def build(spec, geometry, all_probes=None):
    """Instantiate a probe on a cell geometry.

    Parameters
    ----------
    spec : dict
        Probe spec.
    geometry : lfpykit.CellGeometry
    all_probes : dict, optional
        All probe specs of the config, to resolve a head model's ``dipole``.
    """
    cls, kwargs = probe_class(spec)
    if cls is HeadModelProbe:
        name = kwargs.get("dipole")
        dipole_spec = (all_probes or {}).get(name)
        if dipole_spec is None or dipole_spec["type"] != "CurrentDipoleMoment":
            raise KeyError(f"dipole '{name}' must name a CurrentDipoleMoment probe of the config")
        kwargs["dipole"] = build(dipole_spec, geometry)
    return cls(geometry, **kwargs)


def transformation_matrix(spec, geometry, all_probes=None):
    """M (n_channels, n_segments) of a probe spec on a geometry."""
    return np.atleast_2d(build(spec, geometry, all_probes).get_transformation_matrix())


def units(spec):
    """Units of the probe's signal (membrane currents in nA)."""
    return UNITS.get(spec["type"], "unknown")


def channel_labels(spec, n_channels):
    """Coordinate values for the channel axis: contact depth (um), dipole axis, sensor or index."""
    if spec["type"] == "GaussCylinderPotential":
        return linspace_or_array(spec["z"]).astype(float), "um", "contact depth"
    if spec["type"] == "CurrentDipoleMoment":
        return np.array([b"x", b"y", b"z"]), "", "dipole component"
    if spec["type"] in HEAD_MODELS and "MEG" in spec["type"]:
        labels = [f"{i}:{c}".encode() for i in range(n_channels // 3) for c in "xyz"]
        return np.array(labels), "", "sensor:field component"
    if spec["type"] in HEAD_MODELS:
        return np.arange(n_channels), "", "electrode index"
    return np.arange(n_channels), "", "channel index"


def check(spec, where, all_probes=None):
    """Raise ConfigError unless the probe can be built (tried on a small test geometry)."""
    geometry = lfpykit.CellGeometry(x=np.zeros((2, 2)), y=np.zeros((2, 2)),
                                    z=np.array([[0.0, 10.0], [10.0, 20.0]]), d=np.ones(2))
    try:
        M = transformation_matrix(spec, geometry, all_probes)
    except KeyError as exc:
        raise ConfigError(f"{where}.type", exc.args[0]) from None
    except (TypeError, ValueError, AssertionError, AttributeError) as exc:
        raise ConfigError(where, f"invalid {spec['type']} parameters: {exc}") from None
    if M.shape[-1] != 2:
        raise ConfigError(where, f"{spec['type']} does not map segment currents")
