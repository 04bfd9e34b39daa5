"""Coherence (``coherence_<probe>.png``) of each prediction with the ground truth: median
across channels and the 10/90 % band, up to 500 Hz."""

from __future__ import annotations

import numpy as np

from .common import finish, legend_beside, pyplot, series_style


def plot_coherence(comparison, probe, output, sources=()):
    """One panel per reference."""
    plt = pyplot()
    metrics = comparison.metrics[probe]
    freqs, coh = metrics["frequency"], metrics["coherence"]
    active = metrics["active"]
    refs = comparison.references
    fig, axes = plt.subplots(1, len(refs), figsize=(6.8 * len(refs), 3.6), squeeze=False)
    for r, ref in enumerate(refs):
        ax = axes[0, r]
        for p, name in enumerate(comparison.names):
            values = coh[r, p][active]
            if values.size == 0 or np.all(np.isnan(values)):
                continue
            lo, med, hi = np.nanquantile(values, [0.1, 0.5, 0.9], axis=0)
            ax.plot(freqs, med, label=name, **{**series_style(p), "marker": None})
            ax.fill_between(freqs, lo, hi, color=f"C{p}", alpha=0.2, lw=0)
        ax.set_xlabel("frequency (Hz)")
        ax.set_ylabel("coherence")
        ax.set_ylim(0, 1.02)
        ax.set_title(f"vs {ref}", fontsize=9)
        if r == len(refs) - 1:
            legend_beside(ax)
    fig.suptitle(f"{probe}: coherence (median, 10-90 % across channels)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.8, 1))
    return finish(fig, output, f"{probe} coherence", sources, {})
