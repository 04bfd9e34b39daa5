"""Trace overlays (``traces_<probe>.png``): ground truth and predictions, per channel."""

from __future__ import annotations

import numpy as np

from ..io.h5 import text
from .common import display_scale, finish, pyplot

#: Longest stretch drawn (ms) and most channels drawn.
WINDOW = 300.0
MAX_CHANNELS = 6


def plot_traces(comparison, probe, output, window=WINDOW, sources=()):
    """Ground truth (black), linearized reconstruction and predictions of one probe over
    ``window`` ms from the middle of the run, on up to ``MAX_CHANNELS`` active channels
    (each minus its run mean)."""
    plt = pyplot()
    gt = comparison.gt.probes[probe]
    active = np.flatnonzero(comparison.metrics[probe]["active"])
    shown = active[np.linspace(0, active.size - 1, min(MAX_CHANNELS, active.size)).astype(int)]
    time = gt["time"]
    start = time[time.size // 2]
    mask = (time >= start) & (time < start + window)
    factor, units, _ = display_scale(gt["total"][shown][:, mask], gt["units"])
    fig, axes = plt.subplots(
        max(1, shown.size),
        1,
        figsize=(9, 1.0 + 1.5 * max(1, shown.size)),
        sharex=True,
        squeeze=False,
    )
    for ax, c in zip(axes[:, 0], shown, strict=False):
        series = [("ground truth", comparison.gt, "k", 1.4)] + [
            (name, f, f"C{i}", 0.9) for i, (name, f) in enumerate(comparison.files.items())
        ]
        for label, source, color, width in series:
            if probe not in source.probes:
                continue
            y = source.probes[probe]["total"][c]
            ax.plot(time[mask], factor * (y[mask] - y.mean()), color=color, lw=width, label=label)
        ax.set_ylabel(f"{text(gt['channels'][c])}\n({units})", fontsize=8)
    axes[0, 0].legend(fontsize=7, ncol=3, loc="upper right")
    axes[-1, 0].set_xlabel("time (ms)")
    fig.suptitle(f"{probe} ({gt['type']}): ground truth and predictions", fontsize=10)
    fig.tight_layout()
    return finish(fig, output, f"{probe} trace overlays", sources, {})
