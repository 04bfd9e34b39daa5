"""Cross-correlation (``xcorr_<probe>.png``) of the z-scored dipole z component of each
prediction with the ground truth's, over +-20 ms."""

from __future__ import annotations

from .common import finish, pyplot


def plot_xcorr(comparison, probe, lags, output, sources=()):
    """One panel per reference; a peak at a lag > 0 means the prediction lags behind."""
    plt = pyplot()
    xc = comparison.metrics[probe]["xcorr_z"]
    refs = comparison.references
    fig, axes = plt.subplots(1, len(refs), figsize=(5.5 * len(refs), 3.4), squeeze=False)
    for r, ref in enumerate(refs):
        ax = axes[0, r]
        for p, name in enumerate(comparison.names):
            ax.plot(lags, xc[r, p], color=f"C{p}", label=name)
        ax.axvline(0, color="0.6", lw=0.6)
        ax.set_xlabel("lag (ms)")
        ax.set_ylabel("cross-correlation of z-scored P_z")
        ax.set_title(f"vs {ref}", fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return finish(fig, output, f"{probe} P_z cross-correlation", sources, {})
