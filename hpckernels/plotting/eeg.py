"""EEG (``eeg.png``): the potential of every electrode, overlaid."""

from __future__ import annotations

from ..io.h5 import text
from .common import (
    MINUS_MEAN,
    display_scale,
    finish,
    position_text,
    probe_window,
    pyplot,
    sensor_positions,
)

# a legend of more electrodes would cover the traces
_MAX_LEGEND = 12


def plot_eeg(signals_file, output, window=500.0, probe=None, subtract_mean=True):
    """EEG potential at every electrode against time (ms), overlaid (colour =
    electrode; positions from the probe's ``r_electrodes`` in mm); units with an SI
    prefix (µV, nV, ...).

    ``window``, ``probe`` (default: the first FourSphereVolumeConductor probe) and
    ``subtract_mean`` as described in :mod:`hpckernels.plotting`.
    """
    plt = pyplot()
    data, time, values, _, info = probe_window(signals_file, "eeg", probe, window, subtract_mean)
    factor, units, _ = display_scale(values, data["units"])
    n = values.shape[0]
    points = sensor_positions(data["parameters"], "r_electrodes", n)
    cmap = plt.get_cmap("viridis")
    fig, ax = plt.subplots(figsize=(9, 4.8))
    for c in range(n):
        ax.plot(
            time,
            values[c] * factor,
            lw=0.8,
            color=cmap(c / max(1, n - 1) * 0.9),
            label=f"electrode {text(data['channels'][c])}{position_text(points, c)}",
        )
    ax.set_xlim(time[0], time[-1])
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(f"EEG potential{MINUS_MEAN if subtract_mean else ''} ({units})")
    ax.set_title(f"{data['name']} ({data['type']}): EEG per electrode", fontsize=10)
    if n <= _MAX_LEGEND:
        # beside the axes, off the data
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.axhline(0, color="0.7", lw=0.5)
    fig.tight_layout()
    return finish(fig, output, f"{data['name']} EEG", [signals_file], {"": info})
