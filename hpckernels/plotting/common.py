"""What every figure of :mod:`hpckernels.plotting` shares: matplotlib, PNG writing and
provenance, reading signals files, display units and small axes helpers.

Signals file (``hpckernels signals``)
    Root attributes ``config_hash``, ``dt``, ``t_start``, ``t_stop`` and versions;
    group ``rates`` (``counts`` (n_populations, n_times): spikes per bin scaled to the
    full population, scales ``population``, ``time`` (ms)); one group per probe with
    attribute ``probe_type``, dataset ``total`` (n_channels, n_times, attribute
    ``units``), optionally ``pathways`` (n_post, n_pre, n_channels, n_times) and scales
    ``channel``, ``post``, ``pre``, ``time`` (ms).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.h5 import atomic_path, open_h5, read, text
from ..io.signals import probe_groups, read_probe
from ..probes import PROBES

#: A channel whose largest magnitude is at most this fraction of the probe's largest
#: magnitude is treated as zero (not drawn).
ZERO_RTOL = 1e-9

# vacuum permeability (T m / A): B = mu0 * H; 1 nA/um = 1e-3 A/m
_MU0 = 4e-7 * math.pi
_PREFIXES = {3: "k", 0: "", -3: "m", -6: "\u00b5", -9: "n", -12: "p", -15: "f", -18: "a"}
#: Axis-label suffix of a signal drawn as its deviation from the run mean.
MINUS_MEAN = " \u2212 run mean"
# Times (ms) closer than this count as equal: time axes are sums of float steps.
_TIME_TOL = 1e-9
# How error messages name a kind of figure when the kind itself is not the usual word.
_KIND_TEXT = {"lfp": "LFP", "csd": "CSD"}


# ---------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend (no display needed).

    Imported on demand: matplotlib is slow to import and only the figures need it.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig, path, metadata):
    """Write a figure as PNG atomically (hidden temporary file, then rename).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str or Path
        The PNG file; a killed writer never leaves a partial file here.
    metadata : dict of str
        PNG text chunks (see :func:`png_metadata`).
    """
    # the temporary file keeps the .png suffix, so savefig picks the PNG writer
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, metadata=metadata)


def provenance(attrs):
    """Config hash and versions from a file's root attributes.

    Parameters
    ----------
    attrs : h5py.AttributeManager or dict
        Root attributes; versions either flat (``hpckernels_version``, ...) or as one
        JSON object ``versions``.

    Returns
    -------
    dict of str
    """
    info = {}
    raw = attrs.get("versions")
    if raw is not None:
        try:
            info.update({k: text(v) for k, v in json.loads(text(raw)).items()})
        except (ValueError, TypeError, AttributeError):
            info["versions"] = text(raw)
    for key in (
        "config_hash",
        "kernels_config_hash",
        "hpckernels_version",
        "neuron_version",
        "lfpy_version",
        "lfpykit_version",
    ):
        if key in attrs:
            info[key] = text(attrs[key])
    return info


def png_metadata(title, sources, infos):
    """PNG text metadata of a figure: its title, source files and their provenance.

    Parameters
    ----------
    title : str
    sources : sequence of str or Path
        Input files of the figure.
    infos : dict of str to dict
        {tag: :func:`provenance` of one source}; an empty tag is left out of the text.

    Returns
    -------
    dict of str
        ``Title``, ``Source``, ``Software`` and ``Description`` (``key=value; ...``
        per source, sources separated by ``" | "``).
    """
    parts = []
    for tag, info in infos.items():
        joined = "; ".join(f"{k}={v}" for k, v in info.items())
        parts.append(f"{tag}: {joined}" if tag else joined)
    return {
        "Title": title,
        "Source": "; ".join(str(s) for s in sources),
        "Software": "hpckernels",
        "Description": " | ".join(parts),
    }


# ---------------------------------------------------------------------------------------
# Probe types and figures
# ---------------------------------------------------------------------------------------


#: The figure that draws each probe type of :data:`hpckernels.probes.types.PROBES` (types not
#: listed are not drawn in the signal figures).
FIGURE_KINDS = {
    "GaussCylinderPotential": "lfp",
    "GaussCylinderCSD": "csd",
    "LaminarCurrentSourceDensity": "csd",
    "CurrentDipoleMoment": "dipole",
    "FourSphereVolumeConductor": "eeg",
    "InfiniteHomogeneousVolCondMEG": "meg",
    "SphericallySymmetricVolCondMEG": "meg",
}


def figure_kind(probe_type):
    """The figure that draws a probe type ('lfp', 'csd', 'dipole', 'eeg', 'meg').

    Parameters
    ----------
    probe_type : str
        The ``probe_type`` attribute of a probe group (a name of
        :data:`hpckernels.probes.types.PROBES`).

    Returns
    -------
    str or None
        None for a type no figure draws, or one that is not registered.
    """
    return FIGURE_KINDS.get(probe_type)


def types_drawn_as(kind):
    """Registered probe type names that figure ``kind`` draws, in registry order."""
    return [name for name in PROBES if FIGURE_KINDS.get(name) == kind]


# ---------------------------------------------------------------------------------------
# Reading signals files
# ---------------------------------------------------------------------------------------


def find_probe(fh, kind, probe=None):
    """Name of the probe group that figure ``kind`` draws.

    Parameters
    ----------
    fh : h5py.File
        Open signals file.
    kind : str
        Figure kind (see :func:`figure_kind`).
    probe : str, optional
        Draw this probe group; it must exist.

    Returns
    -------
    str or None
        ``probe``, else the first group of a type drawn as ``kind``, else None.
    """
    groups = probe_groups(fh)
    if probe is not None:
        if probe not in groups:
            raise InputError(
                probe,
                f"no probe group '{probe}' in {fh.filename}; "
                f"probes are {', '.join(groups) or 'none'}",
            )
        return probe
    names = [name for name, probe_type in groups.items() if figure_kind(probe_type) == kind]
    return names[0] if names else None


def scale_labels(dset):
    """The values of a string (or numeric) dimension scale as a list of str."""
    return [text(v) for v in read(dset)]


def time_step(time, attrs):
    """Bin width (ms) of a time axis; the file's ``dt`` (root attributes ``attrs``)
    when the axis has one sample.

    The median step, so that float round-off in the stored times does not matter.
    """
    return float(np.median(np.diff(time))) if time.size > 1 else float(attrs["dt"])


def check_window(window, time):
    """Raise InputError naming ``--window`` if a window (ms) is shorter than one bin.

    Parameters
    ----------
    window : float or None
        Length (ms) of the drawn window; None or 0 mean the whole signal.
    time : ndarray
        A time axis (ms) of the signals.
    """
    if not window or time.size < 2:
        return
    step = time_step(time, None)
    if window < step - _TIME_TOL:
        raise InputError(
            "--window",
            f"{window:g} ms is shorter than one time bin of the signals ({step:g} ms); "
            f"give at least {step:g} ms, or 0 for the whole signal",
        )


def _window_mask(time, t_start, window):
    """Samples in [t_start, t_start + window] (ms); all from t_start when window is
    None or 0. A window shorter than one bin raises InputError (see
    :func:`check_window`)."""
    check_window(window, time)
    t0 = time[0] if t_start is None else float(t_start)
    mask = time >= t0 - _TIME_TOL
    if window:
        mask &= time <= t0 + window + _TIME_TOL
    if mask.sum() < 2:
        # a t_start at or after the last sample leaves nothing to draw a line through
        mask = np.ones_like(time, dtype=bool)
    return mask


def probe_window(signals_file, kind, probe, window, subtract_mean):
    """The probe group that figure ``kind`` draws, in its time window.

    Returns
    -------
    data : dict
        See :func:`~hpckernels.io.signals.read_probe`.
    time : ndarray (n_window,)
        Times (ms) in the window.
    values : ndarray (n_channels, n_window)
        The signal there, less each channel's run mean with ``subtract_mean``.
    means : ndarray (n_channels,)
        Each channel's mean over the whole signal.
    info : dict
        Provenance of the signals file.
    """
    data, mask, info = read_probe_window(signals_file, kind, probe, window)
    values, means = window_values(data["total"], mask, subtract_mean)
    return data, data["time"][mask], values, means, info


def read_probe_window(signals_file, kind, probe, window):
    """Read the probe group that figure ``kind`` draws, and its time window.

    Parameters
    ----------
    signals_file : str or Path
    kind : str
        Figure kind (see :func:`figure_kind`).
    probe : str or None
        Probe group to draw; None: the first of a type drawn as ``kind``.
    window : float or None
        Length (ms) from the file's ``t_start``; None or 0: the whole signal.

    Returns
    -------
    data : dict
        See :func:`~hpckernels.io.signals.read_probe`.
    mask : ndarray of bool (n_times,)
        Samples in the window.
    info : dict
        Provenance of the signals file.
    """
    with open_h5(signals_file, "signals") as fh:
        name = find_probe(fh, kind, probe)
        if name is None:
            types = " or ".join(types_drawn_as(kind))
            what = _KIND_TEXT.get(kind, kind)
            raise InputError(str(signals_file), f"no {what} ({types}) probe group")
        data = read_probe(fh, name)
        mask = _window_mask(data["time"], fh.attrs.get("t_start"), window)
        info = provenance(fh.attrs)
    return data, mask, info


def window_values(total, mask, subtract_mean):
    """A signal in the time window, less each channel's run mean if asked.

    Parameters
    ----------
    total : ndarray (n_channels, n_times)
    mask : ndarray of bool (n_times,)
    subtract_mean : bool

    Returns
    -------
    values : ndarray (n_channels, n_window)
    means : ndarray (n_channels,)
        Each channel's mean over the whole signal (not only the window), so that the
        drawn deviations do not depend on the window.
    """
    means = total.mean(axis=1)
    values = total[:, mask]
    return (values - means[:, None] if subtract_mean else values), means


def contact_depths(channels):
    """Channel labels as contact depths z (um), or None if a label is not a number."""
    try:
        return np.array([float(text(c)) for c in channels])
    except ValueError:
        return None


def channel_names(data):
    """Labels of a probe's channels for axes: ``z = 500 µm`` for contact depths,
    ``P_z`` for dipole components, else the stored label."""
    depths = contact_depths(data["channels"])
    if depths is not None and figure_kind(data["type"]) in ("lfp", "csd"):
        return [f"z = {z:g} \u00b5m" for z in depths]
    labels = [text(c) for c in data["channels"]]
    if figure_kind(data["type"]) == "dipole":
        return [f"P_{c}" for c in labels]
    return labels


#: Line styles and markers that keep predictions apart where they overlap: each
#: prediction its own colour, dash pattern and marker.
SERIES_STYLES = (
    {"ls": "-", "marker": "o"},
    {"ls": "--", "marker": "s"},
    {"ls": ":", "marker": "^"},
    {"ls": "-.", "marker": "D"},
    {"ls": (0, (5, 1, 1, 1)), "marker": "v"},
)


def series_style(index):
    """Colour, dash pattern and marker of prediction ``index`` (see :data:`SERIES_STYLES`)."""
    return {"color": f"C{index}", **SERIES_STYLES[index % len(SERIES_STYLES)]}


def legend_beside(ax, **kwargs):
    """A legend to the right of the axes, off the data."""
    options = {"fontsize": 8, "loc": "upper left", "bbox_to_anchor": (1.01, 1.0)}
    return ax.legend(**{**options, "frameon": False, **kwargs})


def legend_above(fig, ax, ncol=3):
    """The legend of ``ax`` for the whole figure, centred above the panels (the figure's
    top 0.4 inch holds the title)."""
    handles, labels = ax.get_legend_handles_labels()
    top = 1 - 0.4 / fig.get_size_inches()[1]
    return fig.legend(
        handles,
        labels,
        loc="upper center",
        ncol=min(ncol, len(labels)),
        fontsize=8,
        frameon=False,
        bbox_to_anchor=(0.5, top),
    )


def scale_bar(ax, length, label, x=1.01):
    """A vertical scale bar of ``length`` (data units) with its label, just right of the
    axes (instead of y tick labels)."""
    low, high = ax.get_ylim()
    bottom = low + 0.1 * (high - low)
    ax.plot(
        [x, x],
        [bottom, bottom + length],
        color="k",
        lw=2,
        clip_on=False,
        transform=ax.get_yaxis_transform(),
        solid_capstyle="butt",
    )
    ax.text(
        x + 0.01,
        bottom + length / 2,
        label,
        transform=ax.get_yaxis_transform(),
        va="center",
        ha="left",
        fontsize=8,
    )


def nonzero_rows(values):
    """Boolean per row of a 2-D array: not (numerically) zero relative to the whole
    array (see :data:`ZERO_RTOL`)."""
    peak = np.abs(values).max(axis=1)
    return peak > ZERO_RTOL * max(float(peak.max(initial=0.0)), 0.0) if peak.size else peak


def sensor_positions(parameters, key, n):
    """Sensor or electrode positions (mm) from the probe parameters (um).

    Returns
    -------
    ndarray (n, 3) or None
        None when ``parameters[key]`` is missing, malformed or not ``n`` points.
    """
    try:
        points = np.asarray(parameters[key], dtype=float).reshape(-1, 3)
    except (KeyError, TypeError, ValueError):
        return None
    return points / 1000.0 if len(points) == n else None


def position_text(points, i):
    """`` (x, y, z) mm`` of point ``i`` for a label, or '' without positions."""
    if points is None:
        return ""
    return " (" + ", ".join(f"{v:.3g}" for v in points[i]) + ") mm"


# ---------------------------------------------------------------------------------------
# Units
# ---------------------------------------------------------------------------------------


def pretty_units(units):
    """'nA um' -> 'nA µm', 'nA/um3' -> 'nA/µm³'."""
    replaced = re.sub(r"\bum3\b", "\u00b5m\u00b3", units)
    return re.sub(r"\bum\b", "\u00b5m", replaced)


def _engineering(max_abs, exponent):
    """Exponent (multiple of 3) that puts max_abs * 10**exponent in [1, 1000)."""
    if not np.isfinite(max_abs) or max_abs <= 0:
        return exponent
    target = exponent + 3 * math.floor(math.log10(max_abs) / 3)
    return min(max(target, min(_PREFIXES)), max(_PREFIXES))


#: The one unit every figure gives a current source density in (1 nA/µm³ = 1 A/mm³).
CSD_UNITS = "\u00b5A/mm\u00b3"


def display_scale(values, units):
    """Factor and units for display: potentials get an SI prefix (mV -> µV, ...), current
    source densities (nA/um3) are always given in µA/mm³ (:data:`CSD_UNITS`, one unit for
    kernels, images and profiles), magnetic field strength H (nA/um) becomes flux
    density B = mu0 H in fT/pT/... Other units are kept (µm for um).

    Parameters
    ----------
    values : array_like
        The values to be drawn, in ``units``.
    units : str
        Their stored units.

    Returns
    -------
    factor : float
        Multiply the stored values by this.
    units : str
        Units of the scaled values.
    quantity : str
        'B' when H was converted to B, else ''.
    """
    max_abs = float(np.nanmax(np.abs(values))) if np.size(values) else 0.0
    compact = units.replace(" ", "")
    if compact == "mV":
        exponent = _engineering(max_abs * 1e-3, 0)
        return 1e-3 / 10.0**exponent, f"{_PREFIXES[exponent]}V", ""
    if compact in ("nA/um3", "nA/\u00b5m\u00b3"):
        # 1 nA/um3 = 1e-9 A / 1e-9 mm3 = 1 A/mm3 = 1e6 uA/mm3
        return 1e6, CSD_UNITS, ""
    if compact in ("nA/um", "nA/\u00b5m"):
        tesla = _MU0 * 1e-3  # T per nA/um
        exponent = _engineering(max_abs * tesla, 0)
        return tesla / 10.0**exponent, f"{_PREFIXES[exponent]}T", "B"
    return 1.0, pretty_units(units), ""


def _nice(value):
    """A 1-2-5 number close to (not above) value (for scale bars)."""
    if value <= 0 or not np.isfinite(value):
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (5, 2, 1):
        if step * power <= value:
            return step * power
    return power


# ---------------------------------------------------------------------------------------
# Axes
# ---------------------------------------------------------------------------------------


def empty_note(ax, note):
    """Write ``note`` in the middle of an axes that has no data, without ticks."""
    ax.text(0.5, 0.5, note, transform=ax.transAxes, ha="center", va="center", fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])


def finish(fig, output, title, sources, infos):
    """Save a figure with its provenance (see :func:`png_metadata`) and close it.

    Returns
    -------
    Path
        ``output``.
    """
    save_png(fig, output, png_metadata(title, sources, infos))
    pyplot().close(fig)
    return Path(output)
