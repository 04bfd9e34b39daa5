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

#: Fraction of the dipole's power along the radius above which it counts as radial.
RADIAL = 0.99


def radial_note(signals_file, data):
    """What the title says about a radial dipole: the fraction of the dipole probe's
    power (its deviation from the run mean) along ``dipole_location`` (from the head's
    centre), and what the head model makes of it; '' without a dipole probe group."""
    import numpy as np

    from ..io.h5 import open_h5
    from ..io.signals import read_probe

    parameters = data["parameters"]
    name, location = parameters.get("dipole"), parameters.get("dipole_location")
    if name is None or location is None or not np.any(location):
        return ""
    with open_h5(signals_file, "signals") as fh:
        if name not in fh or "total" not in fh[name]:
            return ""
        moment = read_probe(fh, name)["total"]
    moment = moment - moment.mean(axis=1, keepdims=True)
    radius = np.asarray(location, dtype=float) / np.linalg.norm(location)
    total = float(np.sum(moment**2))
    if total == 0:
        return ""
    fraction = float(np.sum((radius @ moment) ** 2)) / total
    spherical = data["type"] == "SphericallySymmetricVolCondMEG"
    if fraction >= RADIAL:
        return (
            "\nthe dipole is radial: a spherically symmetric head cancels its field outside"
            if spherical
            else "\nthe dipole is radial: this infinite homogeneous conductor sees it, a "
            "spherically symmetric head would not"
        )
    if fraction > 1 - RADIAL:
        return (
            f"\n{fraction:.0%} of the dipole's power is radial, which a spherically symmetric "
            "head does not see"
        )
    return ""


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
        # beside the axes, off the data
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4))
    if not shown:
        empty_note(axes[0, 0], "all MEG components are zero")
    axes[-1, 0].set_xlim(time[0], time[-1])
    axes[-1, 0].set_xlabel("time (ms)")
    conversion = " = \u00b50\u00b7H" if quantity == "B" else ""
    mean_text = ", run mean subtracted" if subtract_mean else ""
    note = f"\nzero, not shown: {', '.join(skipped)}" if skipped else ""
    note += radial_note(signals_file, data)
    fig.suptitle(
        f"{data['name']} ({data['type']}): {symbol}{conversion}{mean_text}{note}", fontsize=10
    )
    fig.tight_layout()
    return finish(fig, output, f"{data['name']} MEG", [signals_file], {"": info})
