"""Cross-correlation (``xcorr_<probe>.png``) of the z-scored dipole z component of each
prediction with the ground truth's, over +-20 ms."""

from __future__ import annotations

from .common import finish, legend_beside, pyplot, series_style


def plot_xcorr(comparison, probe, lags, output, sources=()):
    """One panel per reference; a peak at a lag > 0 means the prediction lags behind."""
    plt = pyplot()
    xc = comparison.metrics[probe]["xcorr_z"]
    refs = comparison.references
    fig, axes = plt.subplots(1, len(refs), figsize=(6.8 * len(refs), 3.4), squeeze=False)
    for r, ref in enumerate(refs):
        ax = axes[0, r]
        for p, name in enumerate(comparison.names):
            ax.plot(lags, xc[r, p], label=name, **{**series_style(p), "marker": None})
        ax.axvline(0, color="0.6", lw=0.6)
        ax.set_xlabel("lag (ms)")
        ax.set_ylabel("cross-correlation of z-scored P_z")
        ax.set_title(f"vs {ref}", fontsize=9)
        if r == len(refs) - 1:
            legend_beside(ax)
    fig.tight_layout(rect=(0, 0, 0.8, 1))
    return finish(fig, output, f"{probe} P_z cross-correlation", sources, {})
