"""Coherence (``coherence_<probe>.png``) of each prediction with the ground truth: median
across channels and the 10/90 % band, up to 500 Hz."""

from __future__ import annotations

import numpy as np

from .common import finish, pyplot


def plot_coherence(comparison, probe, output, sources=()):
    """One panel per reference."""
    plt = pyplot()
    metrics = comparison.metrics[probe]
    freqs, coh = metrics["frequency"], metrics["coherence"]
    active = metrics["active"]
    refs = comparison.references
    fig, axes = plt.subplots(1, len(refs), figsize=(5.5 * len(refs), 3.6), squeeze=False)
    for r, ref in enumerate(refs):
        ax = axes[0, r]
        for p, name in enumerate(comparison.names):
            values = coh[r, p][active]
            if values.size == 0 or np.all(np.isnan(values)):
                continue
            lo, med, hi = np.nanquantile(values, [0.1, 0.5, 0.9], axis=0)
            ax.plot(freqs, med, color=f"C{p}", label=name)
            ax.fill_between(freqs, lo, hi, color=f"C{p}", alpha=0.2, lw=0)
        ax.set_xlabel("frequency (Hz)")
        ax.set_ylabel("coherence")
        ax.set_ylim(0, 1.02)
        ax.set_title(f"vs {ref}", fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle(f"{probe}: coherence (median, 10-90 % across channels)", fontsize=10)
    fig.tight_layout()
    return finish(fig, output, f"{probe} coherence", sources, {})
