"""Current source density across depth (``csd_image.png``): the CSD probe as an image,
drawn like the LFP image (:func:`~hpckernels.plotting.lfp.plot_depth_image`)."""

from __future__ import annotations

from .lfp import plot_depth_image


def plot_csd_image(signals_file, output, window=500.0, probe=None, subtract_mean=True):
    """CSD as an image over time (x, ms) and contact depth z (y, µm), sources positive
    (red) and sinks negative (blue), in µA/mm³ (the colour bar says which end is the
    source); right: each channel's mean over the whole run.

    ``window``, ``probe`` (default: the first GaussCylinderCSD or
    LaminarCurrentSourceDensity probe) and ``subtract_mean`` as described in
    :mod:`hpckernels.plotting`.
    """
    symbol = "C \u2212 \u27e8C\u27e9" if subtract_mean else "C"
    return plot_depth_image(
        signals_file, output, "csd", "CSD", symbol, window, probe, subtract_mean
    )
