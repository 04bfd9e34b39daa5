"""Metrics per channel (``metrics_<probe>.png``): R^2, r_STD and E_rel of every prediction,
raw and low-pass filtered, against the ground truth and the linearized reconstruction,
with the predicted E_rel where there is one (Hagen et al. 2022, Figs 5-7)."""

from __future__ import annotations

import numpy as np

from .common import finish, pyplot

LABELS = {"r2": "R\u00b2", "r_std": "r_STD", "e_rel": "E_rel"}


def plot_metrics(comparison, probe, output, sources=()):
    """One row per reference, one column per metric; lines per prediction (solid raw,
    dashed low-pass); median and 10/90 % quantiles in the legend."""
    plt = pyplot()
    metrics = comparison.metrics[probe]
    channels = np.arange(metrics["active"].size)
    refs = comparison.references
    fig, axes = plt.subplots(len(refs), 3, figsize=(12, 3.2 * len(refs)), squeeze=False)
    for r, ref in enumerate(refs):
        for m, key in enumerate(("r2", "r_std", "e_rel")):
            ax = axes[r, m]
            for p, name in enumerate(comparison.names):
                values = metrics[key][r, p]
                if np.all(np.isnan(values)):
                    continue
                for f, style in enumerate(("-", "--")):
                    median = np.nanmedian(values[f])
                    label = f"{name} (median {median:.2f})" if f == 0 else None
                    ax.plot(channels, values[f], style, color=f"C{p}", marker=".", label=label)
            if key == "e_rel" and r == len(refs) - 1 and comparison.err is not None:
                predicted = comparison.err_values(probe)
                if predicted is not None:
                    ax.plot(channels, predicted, "k*", ms=9, label="predicted (theory)")
            ax.set_title(f"{LABELS[key]} vs {ref}", fontsize=9)
            ax.set_xlabel("channel")
            if key == "r2":
                ax.set_ylim(0, 1.02)
            ax.legend(fontsize=6)
    fig.suptitle(f"{probe}: per-channel metrics (solid raw, dashed 100 Hz low-pass)", fontsize=10)
    fig.tight_layout()
    return finish(fig, output, f"{probe} metrics", sources, {})
