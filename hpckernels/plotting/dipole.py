"""Current dipole moment (``dipole.png``): one panel per non-zero component."""

from __future__ import annotations

import numpy as np

from ..io.h5 import text
from .common import (
    MINUS_MEAN,
    empty_note,
    finish,
    nonzero_rows,
    pretty_units,
    probe_window,
    pyplot,
)


def plot_dipole(signals_file, output, window=500.0, probe=None, subtract_mean=True):
    """Current dipole moment components P_x, P_y, P_z (nA um) against time (ms), one
    panel per component that is not zero; the run mean of each is given (and
    subtracted with ``subtract_mean``).

    ``window``, ``probe`` (default: the first CurrentDipoleMoment probe) and
    ``subtract_mean`` as described in :mod:`hpckernels.plotting`.
    """
    plt = pyplot()
    data, time, values, means, info = probe_window(
        signals_file, "dipole", probe, window, subtract_mean
    )
    labels = [text(c) for c in data["channels"]]
    shown = np.flatnonzero(nonzero_rows(data["total"]))
    skipped = [f"P_{labels[c]}" for c in range(len(labels)) if c not in shown]
    n_rows = max(1, len(shown))
    fig, axes = plt.subplots(
        n_rows, 1, figsize=(9, 1.2 + 2.1 * n_rows), sharex=True, squeeze=False
    )
    units = pretty_units(data["units"])
    for ax, c in zip(axes[:, 0], shown, strict=False):
        ax.plot(time, values[c], lw=0.8, color=f"C{c}")
        ax.set_ylabel(f"P_{labels[c]}{MINUS_MEAN if subtract_mean else ''}\n({units})")
        ax.text(
            0.99,
            0.97,
            f"run mean {means[c]:.4g} {units}",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=8,
            bbox={"fc": "white", "ec": "none", "alpha": 0.7},
        )
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4))
    if not len(shown):
        empty_note(axes[0, 0], "all dipole components are zero")
    axes[-1, 0].set_xlabel("time (ms)")
    note = f"; {', '.join(skipped)} \u2261 0 (not shown)" if skipped else ""
    fig.suptitle(f"{data['name']} ({data['type']}): current dipole moment{note}", fontsize=10)
    fig.tight_layout()
    return finish(fig, output, f"{data['name']} current dipole moment", [signals_file], {"": info})
