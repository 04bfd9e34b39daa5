"""Trace overlays (``traces_<probe>.png``): ground truth and predictions, per channel."""

from __future__ import annotations

import numpy as np

from .common import (
    _nice,
    channel_names,
    display_scale,
    finish,
    legend_above,
    pyplot,
    scale_bar,
    series_style,
)

#: Longest stretch drawn (ms) and most channels drawn.
WINDOW = 300.0
MAX_CHANNELS = 6


def plot_traces(comparison, probe, output, window=WINDOW, sources=()):
    """Ground truth (black, thick) and each prediction (its colour and dash pattern, drawn
    on top, thinner) of one probe over ``window`` ms from the middle of the run, on up to
    ``MAX_CHANNELS`` active channels (each minus its run mean), labelled by depth (or
    component); one amplitude scale for all panels, given by the scale bar; the legend
    above the panels."""
    plt = pyplot()
    gt = comparison.gt.probes[probe]
    active = np.flatnonzero(comparison.metrics[probe]["active"])
    shown = active[np.linspace(0, active.size - 1, min(MAX_CHANNELS, active.size)).astype(int)]
    names = channel_names(gt)
    time = gt["time"]
    start = time[time.size // 2]
    mask = (time >= start) & (time < start + window)
    factor, units, _ = display_scale(gt["total"][shown][:, mask], gt["units"])
    fig, axes = plt.subplots(
        max(1, shown.size),
        1,
        figsize=(9.5, 1.4 + 1.35 * max(1, shown.size)),
        sharex=True,
        sharey=True,
        squeeze=False,
    )
    series = [("ground truth", comparison.gt, {"color": "k", "lw": 2.2, "zorder": 1})] + [
        (name, f, {**series_style(i), "marker": None, "lw": 1.0, "zorder": 2 + i})
        for i, (name, f) in enumerate(comparison.files.items())
    ]
    peak = 0.0
    for ax, c in zip(axes[:, 0], shown, strict=False):
        for label, source, style in series:
            if probe not in source.probes:
                continue
            y = source.probes[probe]["total"][c]
            values = factor * (y[mask] - y.mean())
            peak = max(peak, float(np.abs(values).max()))
            ax.plot(time[mask], values, label=label, **style)
        ax.set_ylabel(names[c], fontsize=9, rotation=0, ha="right", va="center")
        ax.tick_params(axis="y", left=False, labelleft=False)
        for side in ("left", "right", "top"):
            ax.spines[side].set_visible(False)
    bar = _nice(peak)
    for ax in axes[:, 0]:
        scale_bar(ax, bar, f"{bar:g} {units}")
    axes[-1, 0].set_xlabel("time (ms)")
    legend_above(fig, axes[0, 0], ncol=4)
    fig.suptitle(f"{probe} ({gt['type']}): ground truth and predictions", fontsize=10)
    height = fig.get_size_inches()[1]
    fig.subplots_adjust(left=0.16, right=0.86, top=1 - 1.0 / height, bottom=0.55 / height)
    return finish(fig, output, f"{probe} trace overlays", sources, {})
