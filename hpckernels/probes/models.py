"""Linear models of population probes: maps from segment membrane currents to signals.

Each class has LFPykit's ``LinearModel`` contract: a ``cell`` (segment geometry) and
``get_transformation_matrix()`` returning M of shape (n_channels, n_segments) such that
signal = M @ I_membrane (membrane currents in nA; units of M in each docstring). They do
not derive from LFPykit's classes: a process that computes only these probes does not
import LFPykit (and its head models' scipy.special).
"""

from __future__ import annotations

import numpy as np

#: Gauss-Legendre points per panel; panels are at most half the smallest length scale wide.
_GL_POINTS = 8
#: Gaussian tails beyond this many standard deviations are neglected (exp(-72) relative).
_TAIL = 12.0


def _cell_of(model):
    """The cell geometry of a LinearModel; AttributeError if it has none."""
    if model.cell is None:
        raise AttributeError(f"{type(model).__name__}.cell is None")
    return model.cell


def cell_geometry(geometry):
    """``geometry`` as an ``lfpykit.CellGeometry`` (for LFPykit's own models; None stays
    None)."""
    import lfpykit

    if geometry is None or isinstance(geometry, lfpykit.CellGeometry):
        return geometry
    return lfpykit.CellGeometry(x=geometry.x, y=geometry.y, z=geometry.z, d=geometry.d)


class LinearModel:
    """LFPykit's ``LinearModel`` contract: a cell geometry (or None) and
    :meth:`get_transformation_matrix`.

    Parameters
    ----------
    cell : lfpykit.CellGeometry, SegmentGeometry or None
        Segment geometry (um).
    """

    def __init__(self, cell):
        self.cell = cell

    def get_transformation_matrix(self):
        """M (n_channels, n_segments)."""
        raise NotImplementedError


class GaussCylinderPotential(LinearModel):
    """Potential of a population whose sources are disks of radius R, smeared
    along depth by a Gaussian of width sigma_z (Hagen et al. 2022, Eq. 10 ff.).

    A segment at depth z_i contributes, at a contact at depth z_e, the potential
    of a uniformly charged disk of radius R (on its axis) averaged over disk depths
    z_i + Z with Z ~ N(0, sigma_z^2)::

        M[e, i] = 1 / (pi R^2) * E_Z[ (sqrt(u^2 + R^2) - |u|) / (2 sigma) ],
        u = z_e - z_i - Z

    The expectation is computed with a composite Gauss-Legendre rule split at the
    kink of ``|u|``, vectorised over all contact-segment pairs.

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

    Examples
    --------
    The potential (mV per nA) at two contacts of one segment 0..20 um deep:

    >>> import lfpykit, numpy as np
    >>> cell = lfpykit.CellGeometry(x=np.zeros((1, 2)), y=np.zeros((1, 2)),
    ...                             z=np.array([[0.0, 20.0]]), d=np.ones(1))
    >>> M = GaussCylinderPotential(cell, z=[0.0, -500.0], sigma=0.3, R=150.0,
    ...                            sigma_z=75.0).get_transformation_matrix()
    >>> M.shape, bool(M[0, 0] > M[1, 0] > 0)
    ((2, 1), True)
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
        z_seg = _cell_of(self).z.mean(axis=-1)
        mu = (self.z[:, None] - z_seg[None, :]).ravel()
        # the term is a function of the distance alone, which repeats on regular grids
        # of contacts and segments: each distinct one is integrated once
        distinct, where = np.unique(mu, return_inverse=True)
        mean_disk = self._mean_disk_term(distinct)[where]
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
                # einsum, not BLAS: bit-identical whatever the thread count
                result[sl] += length[sl] * np.einsum(
                    "pn,n->p", integrand, unit_weights, optimize=False
                )
        return result


class SymmetricCurrentDipoleMoment(LinearModel):
    """Current dipole moment (nA um) of a population that is rotationally
    symmetric about the depth axis: the x and y components average to zero, so
    only P_z remains (rows x, y are zero; lfpykit.CurrentDipoleMoment's z row).

    Parameters
    ----------
    cell : lfpykit.CellGeometry or None
        Segment geometry (um).
    """

    def get_transformation_matrix(self):
        """Response matrix (um), shape (3, n_segments): rows x, y (zero), z."""
        cell = _cell_of(self)
        M = np.zeros((3, cell.totnsegs))
        M[2] = cell.z.mean(axis=-1)
        return M


class GaussCylinderCSD(LinearModel):
    """Current source density of a population in cylinders along the depth axis: the
    CSD counterpart of :class:`~hpckernels.probes.models.GaussCylinderPotential`.

    The population's sources are disks of radius R (its lateral extent) whose depths are
    spread by Z ~ N(0, sigma_z^2). Contact k measures the mean current density in the
    cylinder of radius R between z_k - h/2 and z_k + h/2. A segment i from depth a_i to
    b_i (a_i < b_i) contributes the expected fraction of its length inside that slab::

        M[k, i] = E_Z[ |[a_i + Z, b_i + Z] & [lo_k, hi_k]| ] / ((b_i - a_i) pi R^2 h)

    In closed form, with F(d) = d Phi(d / sigma_z) + sigma_z phi(d / sigma_z) (the
    integral of the normal cdf; F(d) = max(d, 0) for sigma_z = 0)::

        E_Z[...] = F(hi_k - a_i) - F(hi_k - b_i) - F(lo_k - a_i) + F(lo_k - b_i)

    (for segments shorter than sigma_z / 10, where the four terms would cancel, the same
    mean of P(lo_k <= u + Z < hi_k) over u in [a_i, b_i] by 4-point Gauss-Legendre
    quadrature, exact to far below round-off there). With sigma_z = 0 and all segments
    within R of the axis this is ``lfpykit.LaminarCurrentSourceDensity`` with cylinders
    [lo_k, hi_k] of radius R.

    Parameters
    ----------
    cell : lfpykit.CellGeometry or None
        Segment geometry (um).
    z : ndarray
        Contact (slab centre) depths (um).
    h : float
        Slab thickness (um), usually the contact spacing.
    R : float
        Cylinder and population radius (um).
    sigma_z : float
        Standard deviation of the population's soma depths (um); 0 for none.
    """

    def __init__(self, cell, z, h, R, sigma_z):
        super().__init__(cell=cell)
        z = np.asarray(z, dtype=float)
        if z.ndim != 1:
            raise ValueError("z must be a 1-D array of contact depths")
        for name, value in (("h", h), ("R", R)):
            if not value > 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        if not sigma_z >= 0:
            raise ValueError(f"sigma_z must be >= 0, got {sigma_z}")
        self.z = z
        self.h = float(h)
        self.R = float(R)
        self.sigma_z = float(sigma_z)

    def _integrated_cdf(self, d):
        """F(d) = integral over u < d of P(Z < u) (um), element-wise."""
        from scipy.special import ndtr

        s = self.sigma_z
        if s == 0:
            return np.maximum(d, 0.0)
        x = d / s
        return d * ndtr(x) + s * np.exp(-0.5 * x**2) / np.sqrt(2 * np.pi)

    def _cdf(self, d):
        """P(Z < d), element-wise (a step for sigma_z = 0)."""
        from scipy.special import ndtr

        if self.sigma_z == 0:
            return (d > 0).astype(float)
        return ndtr(d / self.sigma_z)

    def get_transformation_matrix(self):
        """Response matrix (1/um3), shape (n_contacts, n_segments): CSD in nA/um3 per nA
        (AttributeError without a cell)."""
        z = _cell_of(self).z
        a = z.min(axis=-1)[None, :]
        b = z.max(axis=-1)[None, :]
        lo = (self.z - self.h / 2)[:, None]
        hi = (self.z + self.h / 2)[:, None]
        F = self._integrated_cdf
        length = b - a
        short = length < 0.1 * self.sigma_z if self.sigma_z > 0 else length == 0
        with np.errstate(invalid="ignore", divide="ignore"):
            fraction = (F(hi - a) - F(hi - b) - F(lo - a) + F(lo - b)) / length
        if np.any(short):
            nodes, weights = np.polynomial.legendre.leggauss(4)
            u = (a + b)[..., None] / 2 + length[..., None] / 2 * nodes  # (1, n_seg, 4)
            inside = self._cdf(hi[..., None] - u) - self._cdf(lo[..., None] - u)
            fraction = np.where(short, inside @ weights / 2, fraction)
        # far from a slab the four terms cancel to round-off, which may be negative
        return np.maximum(fraction, 0.0) / (np.pi * self.R**2 * self.h)


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


class PopulationAveragedPotential(LinearModel):
    """A point- or line-source probe averaged over the soma positions of a population:
    uniform on a disk of radius R around the depth axis, depths Gaussian with standard
    deviation sigma_z around the cell's -- by a deterministic product quadrature instead of
    lfpykernels' 2000 random positions::

        M = sum_q w_q M_probe(contacts - d_q),  d_q = (r cos phi, r sin phi, zeta)

    - radius: Gauss-Legendre in u = r^2 on [0, R^2] (a uniform disk is uniform in u),
      ``n_r`` nodes;
    - azimuth: ``n_phi`` equally spaced angles (exact for trigonometric polynomials of
      degree below ``n_phi``);
    - depth: Gauss-Hermite for the normal distribution, ``n_z`` nodes (one if sigma_z is 0).

    Moving the cell by d is moving the contacts by -d; both distributions are symmetric.

    Parameters
    ----------
    cell : lfpykit.CellGeometry or None
        Segment geometry (um).
    model : type
        ``lfpykit.PointSourcePotential`` or ``lfpykit.LineSourcePotential``.
    x, y, z : ndarray
        Contact positions (um).
    R : float
        Population radius (um).
    sigma_z : float
        Standard deviation of soma depths (um).
    n_r, n_phi, n_z : int
        Quadrature nodes in radius, azimuth and depth.
    **kwargs
        Further arguments of ``model`` (``sigma``, S/m, ...).
    """

    def __init__(self, cell, model, x, y, z, R, sigma_z, n_r=8, n_phi=16, n_z=16, **kwargs):
        super().__init__(cell=cell)
        self.model = model
        self.contacts = np.array(
            np.broadcast_arrays(*(np.atleast_1d(np.asarray(c, dtype=float)) for c in (x, y, z)))
        )
        if not R > 0 or not sigma_z >= 0:
            raise ValueError(f"R must be > 0 and sigma_z >= 0, got {R}, {sigma_z}")
        self.kwargs = kwargs
        self.offsets, self.weights = self.quadrature(R, sigma_z, n_r, n_phi, n_z)

    @staticmethod
    def quadrature(R, sigma_z, n_r, n_phi, n_z):
        """Offsets (3, n_nodes) in um and weights (n_nodes, summing to 1)."""
        nodes, weights = np.polynomial.legendre.leggauss(int(n_r))
        r = R * np.sqrt((nodes + 1) / 2)  # u = r^2 uniform on [0, R^2]
        w_r = weights / 2
        phi = 2 * np.pi * (np.arange(int(n_phi)) + 0.5) / int(n_phi)
        if sigma_z > 0:
            zeta, w_z = np.polynomial.hermite_e.hermegauss(int(n_z))
            zeta, w_z = sigma_z * zeta, w_z / np.sqrt(2 * np.pi)
        else:
            zeta, w_z = np.zeros(1), np.ones(1)
        rr, pp, zz = np.meshgrid(r, phi, zeta, indexing="ij")
        weights = (w_r[:, None, None] / int(n_phi)) * w_z[None, None, :] * np.ones_like(rr)
        offsets = np.array([rr * np.cos(pp), rr * np.sin(pp), zz]).reshape(3, -1)
        return offsets, weights.ravel()

    def get_transformation_matrix(self):
        """Response matrix (mV/nA), shape (n_contacts, n_segments)."""
        if self.cell is None:
            raise AttributeError(f"{type(self).__name__}.cell is None")
        n_contacts, n_nodes = self.contacts.shape[1], self.weights.size
        M = np.zeros((n_contacts, self.cell.totnsegs))
        # blocks of nodes bound the memory of the (contacts x nodes x segments) matrix
        block = max(1, 2**21 // max(1, n_contacts * self.cell.totnsegs))
        for start in range(0, n_nodes, block):
            d = self.offsets[:, start : start + block]
            shifted = self.contacts[:, :, None] - d[:, None, :]  # (3, contacts, nodes)
            probe = self.model(
                cell_geometry(self.cell), *(shifted[i].ravel() for i in range(3)), **self.kwargs
            )
            part = np.asarray(probe.get_transformation_matrix())
            part = part.reshape(n_contacts, -1, self.cell.totnsegs)
            M += np.einsum("cqs,q->cs", part, self.weights[start : start + block])
        return M
