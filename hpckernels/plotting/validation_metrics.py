"""Metrics per channel (``metrics_<probe>.png``): R^2, r_STD and E_rel of every prediction,
raw and low-pass filtered, against the ground truth and the linearized reconstruction,
with the predicted E_rel where there is one (Hagen et al. 2022, Figs 5-7)."""

from __future__ import annotations

import numpy as np

from .common import (
    contact_depths,
    figure_kind,
    finish,
    legend_above,
    legend_beside,
    pyplot,
    series_style,
)

LABELS = {"r2": "R\u00b2", "r_std": "r_STD", "e_rel": "E_rel"}


def _channel_axis(comparison, probe):
    """Positions and axis label of the channels: contact depth z (µm) for depth probes,
    else the channel labels at 0, 1, ..."""
    data = comparison.gt.probes[probe]
    depths = contact_depths(data["channels"])
    if depths is not None and figure_kind(data["type"]) in ("lfp", "csd"):
        return depths, "contact depth z (\u00b5m)", None
    labels = [c.decode() if isinstance(c, bytes) else str(c) for c in data["channels"]]
    return np.arange(len(labels), dtype=float), "channel", labels


def plot_metrics(comparison, probe, output, sources=()):
    """One row per reference, one column per metric, against contact depth (or the
    channel); each prediction its colour, marker and dash pattern (solid markers raw,
    open markers 100 Hz low-pass), offset a little sideways so that overlapping values
    stay visible; the legend (with medians) beside the panels."""
    plt = pyplot()
    metrics = comparison.metrics[probe]
    x, xlabel, ticks = _channel_axis(comparison, probe)
    spacing = float(np.min(np.diff(np.sort(x)))) if x.size > 1 else 1.0
    refs = comparison.references
    names = comparison.names
    fig, axes = plt.subplots(len(refs), 3, figsize=(13.5, 3.3 * len(refs) + 0.6), squeeze=False)
    for r, ref in enumerate(refs):
        for m, key in enumerate(("r2", "r_std", "e_rel")):
            ax = axes[r, m]
            for p, name in enumerate(names):
                values = metrics[key][r, p]
                if np.all(np.isnan(values)):
                    continue
                style = series_style(p)
                shift = (p - (len(names) - 1) / 2) * 0.08 * spacing
                for f, filled in enumerate((True, False)):
                    median = np.nanmedian(values[f])
                    label = f"{name} (median {median:.2f}; open: low-pass)" if f == 0 else None
                    ax.plot(
                        x + shift,
                        values[f],
                        color=style["color"],
                        ls=style["ls"] if f == 0 else ":",
                        marker=style["marker"],
                        ms=5,
                        mfc=style["color"] if filled else "white",
                        lw=0.9,
                        label=label if r == 0 and m == 0 else None,
                    )
            if key == "e_rel" and r == len(refs) - 1 and comparison.err is not None:
                predicted = comparison.err_values(probe)
                if predicted is not None:
                    ax.plot(x, predicted, "k*", ms=9, label="predicted E_rel (theory)")
                    legend_beside(ax, fontsize=7)
            ax.set_title(f"{LABELS[key]} vs {ref}", fontsize=9)
            ax.set_xlabel(xlabel, fontsize=9)
            if ticks is not None:
                ax.set_xticks(x)
                ax.set_xticklabels(ticks, fontsize=8)
            if key == "r2":
                ax.set_ylim(0, 1.02)
    legend_above(fig, axes[0, 0], ncol=3)
    fig.suptitle(f"{probe}: per-channel metrics (filled raw, open 100 Hz low-pass)", fontsize=10)
    height = fig.get_size_inches()[1]
    fig.tight_layout(rect=(0, 0, 0.9, 1 - 1.1 / height))
    return finish(fig, output, f"{probe} metrics", sources, {})
