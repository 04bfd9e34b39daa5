"""LFP across depth: an image (``lfp_image.png``) and traces (``lfp_traces.png``) of
the LFP probe, each with the channels' run-mean profile beside it. The image is drawn by
:func:`plot_depth_image`, which the CSD image (:mod:`.csd`) shares."""

from __future__ import annotations

import numpy as np

from .common import (
    _nice,
    contact_depths,
    display_scale,
    finish,
    probe_window,
    pyplot,
)


def _lfp(signals_file, probe, window, subtract_mean, kind="lfp"):
    """The probe drawn as ``kind`` (a depth profile: 'lfp' or 'csd'), its contact depths
    z (um), the drawn values (see :func:`~hpckernels.plotting.common.probe_window`), their
    times (ms), the channels' run means and the provenance."""
    data, time, values, mean, info = probe_window(signals_file, kind, probe, window, subtract_mean)
    depth = contact_depths(data["channels"])
    if depth is None:
        # channels without depths are stacked in file order, the first on top
        depth = -np.arange(len(data["channels"]), dtype=float)
    return data, depth, values, time, mean, info


def _depth_edges(depth):
    """Edges (um) of the cells around sorted contact depths (100 um for one contact)."""
    order = np.sort(depth)
    if order.size == 1:
        return np.array([order[0] - 50.0, order[0] + 50.0])
    mid = (order[1:] + order[:-1]) / 2
    return np.concatenate([[2 * order[0] - mid[0]], mid, [2 * order[-1] - mid[-1]]])


def _depth_axes(
    fig, profile_slot, ax, data, depth, mean, subtract_mean, title_extra, quantity="LFP"
):
    """Depth axis, labels and title of a depth panel (``quantity``: 'LFP', 'CSD'), and the
    run-mean profile beside it."""
    edges = _depth_edges(depth)
    ax.set_ylim(edges[0], edges[-1])
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("contact depth z (\u00b5m)")
    what = f"{quantity} \u2212 channel's run mean" if subtract_mean else quantity
    ax.set_title(f"{data['name']} ({data['type']}): {what}{title_extra}", fontsize=10)
    profile = fig.add_subplot(profile_slot, sharey=ax)
    _mean_profile(profile, mean, depth, data["units"])
    profile.tick_params(labelleft=False)


def _mean_profile(ax, mean, depth, units):
    """Each channel's mean over the whole run against its depth (a power of ten that
    keeps the narrow panel's tick labels short goes into the axis label)."""
    factor, shown, _ = display_scale(mean, units)
    values = mean * factor
    peak = float(np.abs(values).max()) if values.size else 0.0
    power = int(np.floor(np.log10(peak))) if peak > 0 else 0
    power = power if power < -1 or power > 2 else 0
    ax.plot(values / 10.0**power, depth, "o-", color="k", ms=3, lw=0.8)
    ax.axvline(0, color="0.6", lw=0.5)
    scaled = f"10$^{{{power}}}$ " if power else ""
    ax.set_xlabel(f"run mean ({scaled}{shown})")
    ax.set_title("time average", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.locator_params(axis="x", nbins=3)


def plot_lfp_image(signals_file, output, window=500.0, probe=None, subtract_mean=True):
    """LFP as an image over time (x, ms) and contact depth z (y, um), with a diverging
    colormap symmetric about zero; right: each channel's mean over the whole run.

    ``window``, ``probe`` (default: the first GaussCylinderPotential probe) and
    ``subtract_mean`` as described in :mod:`hpckernels.plotting`.
    """
    symbol = "\u03c6 \u2212 \u27e8\u03c6\u27e9" if subtract_mean else "\u03c6"
    return plot_depth_image(
        signals_file, output, "lfp", "LFP", symbol, window, probe, subtract_mean
    )


def plot_depth_image(
    signals_file, output, kind, quantity, symbol, window=500.0, probe=None, subtract_mean=True
):
    """A depth-resolved probe (figure ``kind``: 'lfp' or 'csd') as an image over time (x,
    ms) and contact depth z (y, um), on a diverging colour scale symmetric about zero;
    right: each channel's mean over the whole run.

    ``quantity`` names the signal in the title ('LFP', 'CSD') and ``symbol`` on the colour
    bar; the other parameters as described in :mod:`hpckernels.plotting`.
    """
    plt = pyplot()
    data, depth, values, time, mean, info = _lfp(signals_file, probe, window, subtract_mean, kind)
    # at most ~3000 columns: more than the figure has pixels, and pcolormesh is slow
    step = max(1, time.size // 3000)
    order = np.argsort(depth)
    factor, units, _ = display_scale(values, data["units"])
    image = values[order][:, ::step] * factor
    vmax = float(np.abs(image).max()) or 1.0
    fig = plt.figure(figsize=(10, 5.5))
    grid = fig.add_gridspec(1, 3, width_ratios=[6, 1.4, 0.18], wspace=0.1)
    ax = fig.add_subplot(grid[0])
    mesh = ax.pcolormesh(
        time[::step],
        depth[order],
        image,
        shading="nearest",
        cmap="RdBu_r",
        vmin=-vmax,
        vmax=vmax,
        rasterized=True,
    )
    _depth_axes(fig, grid[1], ax, data, depth, mean, subtract_mean, "", quantity)
    cbar = fig.colorbar(mesh, cax=fig.add_subplot(grid[2]))
    cbar.set_label(f"{symbol} ({units})")
    if kind == "csd":
        # the key: positive CSD is a current source, negative a sink
        for y, word, va in ((1.0, "source", "bottom"), (0.0, "sink", "top")):
            cbar.ax.text(
                0.5,
                y + (0.01 if y else -0.01),
                word,
                transform=cbar.ax.transAxes,
                ha="center",
                va=va,
                fontsize=8,
            )
    fig.subplots_adjust(left=0.08, right=0.91, bottom=0.11, top=0.9)
    return finish(fig, output, f"{data['name']} image", [signals_file], {"": info})


def plot_lfp_traces(signals_file, output, window=500.0, probe=None, subtract_mean=True):
    """LFP trace of every contact, drawn at its depth z (um) on one common scale (red
    scale bar); right: each channel's mean over the whole run.

    ``window``, ``probe`` (default: the first GaussCylinderPotential probe) and
    ``subtract_mean`` as described in :mod:`hpckernels.plotting`.
    """
    plt = pyplot()
    data, depth, values, time, mean, info = _lfp(signals_file, probe, window, subtract_mean)
    spacing = float(np.min(np.diff(np.sort(depth)))) if depth.size > 1 else 100.0
    peak = float(np.abs(values).max())
    # the largest excursion spans 0.45 contact spacings: neighbouring traces do not touch
    gain = 0.45 * spacing / peak if peak > 0 else 0.0
    fig = plt.figure(figsize=(9.5, 6))
    grid = fig.add_gridspec(1, 2, width_ratios=[6, 1.4], wspace=0.2)
    ax = fig.add_subplot(grid[0])
    for c, z in enumerate(depth):
        ax.plot(time, z + gain * values[c], lw=0.7, color="k")
    factor, units, _ = display_scale(values, data["units"])
    if peak > 0:
        bar = _nice(peak * factor)
        x_bar = time[-1] + 0.01 * (time[-1] - time[0])
        height = bar / factor * gain
        ax.plot(
            [x_bar, x_bar], [depth.max() - height, depth.max()], color="C3", lw=2.5, clip_on=False
        )
        ax.text(
            x_bar,
            depth.max() - height / 2,
            f" {bar:g}\n {units}",
            color="C3",
            fontsize=8,
            va="center",
            ha="left",
            clip_on=False,
        )
    ax.set_xlim(time[0], time[-1])
    ax.set_yticks(depth)
    ax.tick_params(axis="y", labelsize=8)
    _depth_axes(fig, grid[1], ax, data, depth, mean, subtract_mean, ", scale bar in red")
    fig.subplots_adjust(left=0.09, right=0.97, bottom=0.1, top=0.93)
    return finish(fig, output, f"{data['name']} traces", [signals_file], {"": info})
