"""MEG (``meg.png``): one panel per sensor with its non-zero field components."""

from __future__ import annotations

from ..io.h5 import text
from .common import (
    display_scale,
    empty_note,
    finish,
    nonzero_rows,
    position_text,
    probe_window,
    pyplot,
    sensor_positions,
)


def plot_meg(signals_file, output, window=500.0, probe=None, subtract_mean=True):
    """Magnetic signal of every MEG sensor against time (ms), one panel per sensor
    with its non-zero field components overlaid; all-zero components and sensors are
    left out (listed in the title). A field strength H in nA/um is drawn as the flux
    density B = mu0 H (1 nA/um = 1.2566 nT), with an SI prefix (fT, pT, ...).

    Channels are labelled ``<sensor>:<component>`` (x, y or z); sensor positions come
    from the probe's ``sensor_locations`` (drawn in mm).

    ``window``, ``probe`` (default: the first MEG probe) and ``subtract_mean`` as
    described in :mod:`hpckernels.plotting`.
    """
    plt = pyplot()
    data, time, values, _, info = probe_window(signals_file, "meg", probe, window, subtract_mean)
    labels = [text(c) for c in data["channels"]]
    sensors = {}
    for c, label in enumerate(labels):
        sensor, _, component = label.partition(":")
        sensors.setdefault(sensor, []).append((c, component or label))
    nonzero = nonzero_rows(data["total"])
    shown = {s: [(c, comp) for c, comp in items if nonzero[c]] for s, items in sensors.items()}
    skipped = [labels[c] for c in range(len(labels)) if not nonzero[c]]
    shown = {s: items for s, items in shown.items() if items}
    # the SI prefix is chosen from the drawn components only
    factor, units, quantity = display_scale(
        values[nonzero] if nonzero.any() else values, data["units"]
    )
    symbol = "B" if quantity == "B" else "H"
    points = sensor_positions(data["parameters"], "sensor_locations", len(sensors))
    n_rows = max(1, len(shown))
    fig, axes = plt.subplots(
        n_rows, 1, figsize=(9, 1.3 + 1.9 * n_rows), sharex=True, squeeze=False
    )
    for ax, (sensor, items) in zip(axes[:, 0], shown.items(), strict=False):
        for c, component in items:
            # x, y, z keep their colours C0, C1, C2 whichever are shown
            ax.plot(
                time,
                values[c] * factor,
                lw=0.8,
                color=f"C{'xyz'.find(component) % 10}",
                label=f"{symbol}_{component}",
            )
        index = list(sensors).index(sensor)
        ax.set_title(f"sensor {sensor}{position_text(points, index)}", fontsize=9)
        ax.set_ylabel(f"{symbol} ({units})")
        ax.legend(fontsize=7, loc="upper right", framealpha=0.8)
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4))
    if not shown:
        empty_note(axes[0, 0], "all MEG components are zero")
    axes[-1, 0].set_xlim(time[0], time[-1])
    axes[-1, 0].set_xlabel("time (ms)")
    conversion = " = \u00b50\u00b7H" if quantity == "B" else ""
    mean_text = ", run mean subtracted" if subtract_mean else ""
    note = f"\nzero, not shown: {', '.join(skipped)}" if skipped else ""
    fig.suptitle(
        f"{data['name']} ({data['type']}): {symbol}{conversion}{mean_text}{note}", fontsize=10
    )
    fig.tight_layout()
    return finish(fig, output, f"{data['name']} MEG", [signals_file], {"": info})
