"""What a probe's signal is: its units and what its channels are.

The channel axis of every output file (kernels, tensors, signals, ground truths) is
written from a probe's :class:`ChannelAxis`: the signal's units for membrane currents
in nA, the long name of the channel axis, and the channel labels with their units.
"""

from __future__ import annotations

import numpy as np


class ChannelAxis:
    """Channels numbered 0..n-1.

    Parameters
    ----------
    units : str
        Units of the signal for membrane currents in nA.
    name : str
        What a channel is (long name of the channel axis in output files).
    """

    def __init__(self, units, name="channel index"):
        self.units = units
        self.name = name

    def labels(self, kwargs, n_channels):
        """Values (and their units) of the channel axis of a probe with keyword arguments
        ``kwargs``."""
        return np.arange(n_channels), ""


class DepthAxis(ChannelAxis):
    """Contacts along the depth axis, labelled by their depth ``z`` (um)."""

    def __init__(self, units):
        super().__init__(units, "contact depth")

    def labels(self, kwargs, n_channels):
        return np.asarray(kwargs["z"], dtype=float), "um"


class LaminarAxis(DepthAxis):
    """Cylinders ``z`` = [[bottom, top], ...] (um), labelled by their mid depth."""

    def labels(self, kwargs, n_channels):
        return np.asarray(kwargs["z"], dtype=float).mean(axis=-1), "um"


class DipoleAxis(ChannelAxis):
    """The components x, y, z of a current dipole moment."""

    def __init__(self):
        super().__init__("nA um", "dipole component")

    def labels(self, kwargs, n_channels):
        return np.array(["x", "y", "z"]), ""


class SensorFieldAxis(ChannelAxis):
    """Field components x, y, z of each sensor, sensor-major (``"0:x"``, ``"0:y"``, ...)."""

    def __init__(self, units):
        super().__init__(units, "sensor:field component")

    def labels(self, kwargs, n_channels):
        return np.array([f"{i}:{c}" for i in range(n_channels // 3) for c in "xyz"]), ""
