"""Figures (PNG) of predicted signals and of the network spikes that drive them.

Inputs
------
SIGNALS file (``hpckernels signals``)
    Root attributes ``config_hash``, ``dt``, ``t_start``, ``t_stop`` and versions;
    group ``rates`` (``counts`` (n_populations, n_times): spikes per bin scaled to the
    full population, scales ``population``, ``time`` (ms)); one group per probe with
    attribute ``probe_type``, dataset ``total`` (n_channels, n_times, attribute
    ``units``), optionally ``pathways`` (n_post, n_pre, n_channels, n_times) and scales
    ``channel``, ``post``, ``pre``, ``time`` (ms).
SONATA spikes (``hpckernels network``)
    ``/spikes/<population>/timestamps`` (ms) and ``node_ids``; attributes
    ``simulated_size`` and ``population_size`` on ``/spikes/<population>``.

Every figure is written atomically with :func:`hpckernels.figures.save_png` and
carries the signals' provenance (config hash, versions) in its PNG text metadata.
Time-series figures show a window of ``window`` ms from the signals' ``t_start``.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import h5py
import numpy as np

from .errors import InputError
from .figures import _label, _pyplot, save_png

#: Probe types drawn by each kind of figure.
PROBE_TYPES = {
    "lfp": ("GaussCylinderPotential",),
    "dipole": ("CurrentDipoleMoment",),
    "eeg": ("FourSphereVolumeConductor",),
    "meg": ("InfiniteHomogeneousVolCondMEG", "SphericallySymmetricVolCondMEG"),
}

#: The files ``hpckernels plot-signals`` writes, and what each one needs.
FIGURES = {
    "raster_rates.png": "spikes",
    "lfp_image.png": "lfp",
    "lfp_traces.png": "lfp",
    "dipole.png": "dipole",
    "eeg.png": "eeg",
    "meg.png": "meg",
    "pathway_shares.png": "pathways",
}

#: A channel whose largest magnitude is at most this fraction of the probe's largest
#: magnitude is treated as zero (not drawn).
ZERO_RTOL = 1e-9

# vacuum permeability (T m / A): B = mu0 * H; 1 nA/um = 1e-3 A/m
_MU0 = 4e-7 * math.pi
_PREFIXES = {3: "k", 0: "", -3: "m", -6: "\u00b5", -9: "n", -12: "p", -15: "f", -18: "a"}
_ARROW = "\u2192"
_MINUS_MEAN = " \u2212 run mean"


# ---------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------


def check_hdf5(path, what):
    """Raise InputError unless ``path`` is an existing HDF5 file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), f"{what} file not found")
    if not h5py.is_hdf5(path):
        raise InputError(str(path), f"not an HDF5 file (expected the {what} file)")
    return path


def probe_groups(fh):
    """{name: probe_type} of every probe group in a signals file, in file order."""
    return {name: _label(obj.attrs["probe_type"]) for name, obj in fh.items()
            if isinstance(obj, h5py.Group) and "probe_type" in obj.attrs}


def find_probe(fh, kind, probe=None):
    """Name of the probe group drawn as ``kind`` (first of a matching type), or None."""
    groups = probe_groups(fh)
    if probe is not None:
        if probe not in groups:
            raise InputError(probe, f"no probe group '{probe}' in {fh.filename}; "
                                    f"probes are {', '.join(groups) or 'none'}")
        return probe
    names = [name for name, kind_type in groups.items() if kind_type in PROBE_TYPES[kind]]
    return names[0] if names else None


def provenance(attrs):
    """Config hash and versions from a file's root attributes (flat or a JSON ``versions``)."""
    info = {}
    raw = attrs.get("versions")
    if raw is not None:
        try:
            info.update({k: _label(v) for k, v in json.loads(_label(raw)).items()})
        except (ValueError, TypeError, AttributeError):
            info["versions"] = _label(raw)
    for key in ("config_hash", "kernels_config_hash", "hpckernels_version", "neuron_version",
                "lfpy_version", "lfpykit_version"):
        if key in attrs:
            info[key] = _label(attrs[key])
    return info


def _metadata(title, sources, infos):
    """PNG text metadata: title, source files, provenance of each source."""
    parts = []
    for tag, info in infos.items():
        text = "; ".join(f"{k}={v}" for k, v in info.items())
        parts.append(f"{tag}: {text}" if tag else text)
    return {"Title": title, "Source": "; ".join(str(s) for s in sources),
            "Software": "hpckernels", "Description": " | ".join(parts)}


def _scale_labels(dset):
    return [_label(v) for v in dset[()]]


def _read_probe(fh, name):
    """Total signal, time, channel labels, units, parameters of one probe group."""
    group = fh[name]
    for key in ("total", "time", "channel"):
        if key not in group:
            raise InputError(f"{fh.filename}:/{name}", f"probe group has no '{key}' dataset")
    try:
        parameters = json.loads(_label(group.attrs.get("probe_parameters", "{}")))
    except ValueError:
        parameters = {}
    channels = group["channel"][()]
    return {"name": name, "type": _label(group.attrs["probe_type"]),
            "total": np.asarray(group["total"][()], dtype=float),
            "time": np.asarray(group["time"][()], dtype=float),
            "channels": [c if isinstance(c, bytes | str) else c.item() for c in channels],
            "units": _label(group["total"].attrs.get("units", "")),
            "parameters": parameters}


def _window_mask(time, t_start, window):
    """Samples in [t_start, t_start + window] (all from t_start when window is None)."""
    t0 = time[0] if t_start is None else float(t_start)
    mask = time >= t0 - 1e-9
    if window:
        mask &= time <= t0 + window + 1e-9
    if mask.sum() < 2:
        mask = np.ones_like(time, dtype=bool)
    return mask


# ---------------------------------------------------------------------------------------
# Units
# ---------------------------------------------------------------------------------------


def pretty_units(units):
    """'nA um' -> 'nA µm', 'nA/um3' -> 'nA/µm³'."""
    text = re.sub(r"\bum3\b", "\u00b5m\u00b3", units)
    return re.sub(r"\bum\b", "\u00b5m", text)


def _engineering(max_abs, exponent):
    """Exponent (multiple of 3) that puts max_abs * 10**exponent in [1, 1000)."""
    if not np.isfinite(max_abs) or max_abs <= 0:
        return exponent
    target = exponent + 3 * math.floor(math.log10(max_abs) / 3)
    return min(max(target, min(_PREFIXES)), max(_PREFIXES))


def display_scale(values, units):
    """Factor and units for display: potentials get an SI prefix (mV -> µV, ...),
    magnetic field strength H (nA/um) becomes flux density B = mu0 H in fT/pT/...
    Other units are kept.

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
    if compact in ("nA/um", "nA/\u00b5m"):
        tesla = _MU0 * 1e-3  # T per nA/um
        exponent = _engineering(max_abs * tesla, 0)
        return tesla / 10.0**exponent, f"{_PREFIXES[exponent]}T", "B"
    return 1.0, pretty_units(units), ""


def _nice(value):
    """A 1-2-5 number close to (not above) value."""
    if value <= 0 or not np.isfinite(value):
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (5, 2, 1):
        if step * power <= value:
            return step * power
    return power


# ---------------------------------------------------------------------------------------
# Figure 1: spike raster and population rates
# ---------------------------------------------------------------------------------------


def read_sonata(spikes_file, populations):
    """{population: (times_ms, node_ids, simulated_size, population_size)}."""
    path = check_hdf5(spikes_file, "SONATA spikes")
    out = {}
    with h5py.File(path, "r") as fh:
        if "spikes" not in fh:
            raise InputError(str(path), "no /spikes group (expected SONATA spikes)")
        available = list(fh["spikes"])
        for name in populations:
            if name not in fh["spikes"]:
                raise InputError(str(path), f"no SONATA population '{name}' (the signals' "
                                            f"population); populations are "
                                            f"{', '.join(available) or 'none'}")
            group = fh["spikes"][name]
            if "population_size" not in group.attrs:
                raise InputError(f"{path}:/spikes/{name}", "attribute population_size missing")
            times = np.asarray(group["timestamps"][()], dtype=float)
            if _label(group["timestamps"].attrs.get("units", "ms")) in ("s", "second",
                                                                         "seconds"):
                times = times * 1000.0
            ids = np.asarray(group["node_ids"][()], dtype=np.int64)
            population_size = int(group.attrs["population_size"])
            simulated = int(group.attrs.get("simulated_size", population_size))
            out[name] = (times, ids, simulated, population_size)
        info = provenance(fh.attrs)
    return out, info


def population_rates(counts, population_sizes, dt, bin_width=1.0):
    """Rates (spikes/s per neuron) in bins of about ``bin_width`` ms.

    Parameters
    ----------
    counts : ndarray (n_populations, n_times)
        Spikes per bin of width dt, scaled to the full population.
    population_sizes : sequence of int
    dt : float
        Bin width of ``counts`` (ms).
    bin_width : float
        Width of the summed bins (ms); rounded to a whole number of dt.

    Returns
    -------
    rates : ndarray (n_populations, n_bins)
        counts summed over k = round(bin_width / dt) bins / population size / (k dt / 1000).
    k : int
    """
    k = max(1, int(round(bin_width / dt)))
    n_bins = counts.shape[1] // k
    summed = counts[:, :n_bins * k].reshape(counts.shape[0], n_bins, k).sum(axis=2)
    sizes = np.asarray(population_sizes, dtype=float)[:, None]
    return summed / sizes / (k * dt / 1000.0), k


def plot_raster_rates(signals_file, spikes_file, output, window=500.0, max_neurons=200,
                      bin_width=2.0):
    """Spike raster (top) and population rates (bottom) in the first ``window`` ms
    from the signals' t_start.

    The raster shows at most ``max_neurons`` neurons per population, evenly spaced in
    node id. Rates are the signals' ``rates/counts`` (spikes per bin, scaled to the full
    population) summed over ``bin_width`` ms bins, divided by the SONATA
    ``population_size`` and the bin width: spikes/s per neuron. The legend gives each
    population's mean rate over the whole signal.
    """
    plt = _pyplot()
    with h5py.File(check_hdf5(signals_file, "signals"), "r") as fh:
        if "rates" not in fh:
            raise InputError(str(signals_file), "no 'rates' group")
        rates_group = fh["rates"]
        counts = np.asarray(rates_group["counts"][()], dtype=float)
        names = _scale_labels(rates_group["population"])
        time = np.asarray(rates_group["time"][()], dtype=float)
        t_start = fh.attrs.get("t_start")
        dt = float(np.median(np.diff(time))) if time.size > 1 else float(fh.attrs["dt"])
        info = provenance(fh.attrs)
    spikes, spike_info = read_sonata(spikes_file, names)
    sizes = [spikes[name][3] for name in names]
    rates, k = population_rates(counts, sizes, dt, bin_width)
    bin_times = time[: rates.shape[1] * k].reshape(-1, k)[:, 0]
    mean_rates = counts.sum(axis=1) / np.asarray(sizes) / (counts.shape[1] * dt / 1000.0)
    t0 = time[0] if t_start is None else float(t_start)
    t1 = t0 + window if window else time[-1] + dt

    fig, (ax_raster, ax_rate) = plt.subplots(
        2, 1, figsize=(9, 6.5), sharex=True, gridspec_kw={"height_ratios": [2.2, 1]})
    row, ticks, tick_labels = 0, [], []
    for i, name in enumerate(names):
        times, ids, simulated, population = spikes[name]
        base = 0 if ids.size == 0 or ids.max() < simulated else int(ids.min())
        n_show = min(simulated, max_neurons)
        shown = base + np.unique(np.linspace(0, simulated - 1, n_show).round().astype(int))
        keep = np.isin(ids, shown) & (times >= t0) & (times < t1)
        rows = row + np.searchsorted(shown, ids[keep])
        ax_raster.plot(times[keep], -rows, "|", ms=2.5, mew=0.6, color=f"C{i}")
        ticks.append(-(row + len(shown) / 2))
        tick_labels.append(f"{name}\n{len(shown)} of {simulated}\nsimulated")
        row += len(shown)
        if i < len(names) - 1:
            ax_raster.axhline(-row + 0.5, color="0.6", lw=0.5)
        ax_rate.plot(bin_times, rates[i], lw=0.8, color=f"C{i}",
                     label=f"{name}: mean {mean_rates[i]:.3g} spikes/s "
                           f"(N = {population})")
    ax_raster.set_yticks(ticks)
    ax_raster.set_yticklabels(tick_labels, fontsize=8)
    ax_raster.set_ylim(-row - 0.5, 0.5)
    ax_raster.set_ylabel("neuron (subsample)")
    ax_raster.set_title(f"spike raster, {t0:g}\u2013{t1:g} ms (SONATA node ids evenly "
                        f"subsampled)", fontsize=10)
    ax_rate.set_xlim(t0, t1)
    ax_rate.set_xlabel("time (ms)")
    ax_rate.set_ylabel("rate\n(spikes/s per neuron)")
    ax_rate.set_title(f"population rates in {k * dt:g} ms bins (counts scaled to the full "
                      "population)", fontsize=10)
    ax_rate.set_ylim(bottom=0)
    ax_rate.legend(fontsize=8, loc="upper right", framealpha=0.8)
    fig.tight_layout()
    metadata = _metadata("spike raster and population rates", [signals_file, spikes_file],
                         {"signals": info, "spikes": spike_info})
    save_png(fig, output, metadata)
    plt.close(fig)
    return Path(output)


# ---------------------------------------------------------------------------------------
# Figure 2: LFP across depth
# ---------------------------------------------------------------------------------------


def _lfp(signals_file, probe, window):
    with h5py.File(check_hdf5(signals_file, "signals"), "r") as fh:
        name = find_probe(fh, "lfp", probe)
        if name is None:
            raise InputError(str(signals_file), "no LFP (GaussCylinderPotential) probe group")
        data = _read_probe(fh, name)
        t_start = fh.attrs.get("t_start")
        info = provenance(fh.attrs)
    try:
        depth = np.array([float(_label(c)) for c in data["channels"]])
    except ValueError:
        depth = -np.arange(len(data["channels"]), dtype=float)
    mask = _window_mask(data["time"], t_start, window)
    mean = data["total"].mean(axis=1)
    return data, depth, mask, mean, info


def _depth_edges(depth):
    order = np.sort(depth)
    if order.size == 1:
        return np.array([order[0] - 50.0, order[0] + 50.0])
    mid = (order[1:] + order[:-1]) / 2
    return np.concatenate([[2 * order[0] - mid[0]], mid, [2 * order[-1] - mid[-1]]])


def _depth_axes(fig, profile_slot, ax, data, depth, mean, subtract_mean, title_extra):
    """Depth axis, labels and title of an LFP panel, and the run-mean profile beside it."""
    edges = _depth_edges(depth)
    ax.set_ylim(edges[0], edges[-1])
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("contact depth z (\u00b5m)")
    what = "LFP \u2212 channel's run mean" if subtract_mean else "LFP"
    ax.set_title(f"{data['name']} ({data['type']}): {what}{title_extra}", fontsize=10)
    profile = fig.add_subplot(profile_slot, sharey=ax)
    _mean_profile(profile, mean, depth, data["units"])
    profile.tick_params(labelleft=False)


def _mean_profile(ax, mean, depth, units):
    factor, shown, _ = display_scale(mean, units)
    ax.plot(mean * factor, depth, "o-", color="k", ms=3, lw=0.8)
    ax.axvline(0, color="0.6", lw=0.5)
    ax.set_xlabel(f"run mean ({shown})")
    ax.set_title("time average", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.locator_params(axis="x", nbins=3)


def plot_lfp_image(signals_file, output, window=500.0, probe=None, subtract_mean=True):
    """LFP as an image over time (x) and contact depth z (y, um), with a diverging
    colormap symmetric about zero; right: each channel's mean over the whole run.

    With ``subtract_mean`` the image shows each channel's deviation from its run mean
    (the slow, constant part of the prediction is in the right panel).
    """
    plt = _pyplot()
    data, depth, mask, mean, info = _lfp(signals_file, probe, window)
    values = data["total"][:, mask]
    if subtract_mean:
        values = values - mean[:, None]
    time = data["time"][mask]
    step = max(1, time.size // 3000)
    order = np.argsort(depth)
    factor, units, _ = display_scale(values, data["units"])
    image = values[order][:, ::step] * factor
    vmax = float(np.abs(image).max()) or 1.0
    fig = plt.figure(figsize=(10, 5.5))
    grid = fig.add_gridspec(1, 3, width_ratios=[6, 1.4, 0.18], wspace=0.1)
    ax = fig.add_subplot(grid[0])
    mesh = ax.pcolormesh(time[::step], depth[order], image, shading="nearest",
                         cmap="RdBu_r", vmin=-vmax, vmax=vmax, rasterized=True)
    _depth_axes(fig, grid[1], ax, data, depth, mean, subtract_mean, "")
    cbar = fig.colorbar(mesh, cax=fig.add_subplot(grid[2]))
    symbol = "\u03c6 \u2212 \u27e8\u03c6\u27e9" if subtract_mean else "\u03c6"
    cbar.set_label(f"{symbol} ({units})")
    fig.subplots_adjust(left=0.08, right=0.91, bottom=0.11, top=0.92)
    save_png(fig, output, _metadata(f"{data['name']} image", [signals_file], {"": info}))
    plt.close(fig)
    return Path(output)


def plot_lfp_traces(signals_file, output, window=500.0, probe=None, subtract_mean=True):
    """LFP trace of every contact, drawn at its depth z (um) on one common scale (scale
    bar); right: each channel's mean over the whole run.

    With ``subtract_mean`` each trace is its channel's deviation from its run mean.
    """
    plt = _pyplot()
    data, depth, mask, mean, info = _lfp(signals_file, probe, window)
    values = data["total"][:, mask]
    if subtract_mean:
        values = values - mean[:, None]
    time = data["time"][mask]
    spacing = float(np.min(np.diff(np.sort(depth)))) if depth.size > 1 else 100.0
    peak = float(np.abs(values).max())
    gain = 0.45 * spacing / peak if peak > 0 else 0.0
    fig = plt.figure(figsize=(9.5, 6))
    grid = fig.add_gridspec(1, 2, width_ratios=[6, 1.4], wspace=0.2)
    ax = fig.add_subplot(grid[0])
    for c, z in enumerate(depth):
        ax.plot(time, z + gain * values[c], lw=0.7, color="k")
    factor, units, _ = display_scale(values, data["units"])
    if peak > 0:
        bar = _nice(peak * factor)
        x_bar = time[-1] + 0.01 * (time[-1] - time[0])
        height = bar / factor * gain
        ax.plot([x_bar, x_bar], [depth.max() - height, depth.max()], color="C3", lw=2.5,
                clip_on=False)
        ax.text(x_bar, depth.max() - height / 2, f" {bar:g}\n {units}", color="C3",
                fontsize=8, va="center", ha="left", clip_on=False)
    ax.set_xlim(time[0], time[-1])
    ax.set_yticks(depth)
    ax.tick_params(axis="y", labelsize=8)
    _depth_axes(fig, grid[1], ax, data, depth, mean, subtract_mean, ", scale bar in red")
    fig.subplots_adjust(left=0.09, right=0.97, bottom=0.1, top=0.93)
    save_png(fig, output, _metadata(f"{data['name']} traces", [signals_file], {"": info}))
    plt.close(fig)
    return Path(output)


# ---------------------------------------------------------------------------------------
# Figures 3 and 4: dipole moment, EEG, MEG
# ---------------------------------------------------------------------------------------


def _nonzero(values):
    """Boolean per row: not (numerically) zero relative to the whole array."""
    peak = np.abs(values).max(axis=1)
    return peak > ZERO_RTOL * max(float(peak.max(initial=0.0)), 0.0) if peak.size else peak


def _probe_window(signals_file, kind, probe, window):
    with h5py.File(check_hdf5(signals_file, "signals"), "r") as fh:
        name = find_probe(fh, kind, probe)
        if name is None:
            types = " or ".join(PROBE_TYPES[kind])
            raise InputError(str(signals_file), f"no {kind} ({types}) probe group")
        data = _read_probe(fh, name)
        mask = _window_mask(data["time"], fh.attrs.get("t_start"), window)
        info = provenance(fh.attrs)
    return data, mask, info


def _empty_note(ax, text):
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_dipole(signals_file, output, window=500.0, probe=None, subtract_mean=True):
    """Current dipole moment components P_x, P_y, P_z (nA um) against time, one panel
    per component that is not zero; the run mean of each is given (and subtracted with
    ``subtract_mean``)."""
    plt = _pyplot()
    data, mask, info = _probe_window(signals_file, "dipole", probe, window)
    total, time = data["total"], data["time"][mask]
    labels = [_label(c) for c in data["channels"]]
    shown = np.flatnonzero(_nonzero(total))
    skipped = [f"P_{labels[c]}" for c in range(len(labels)) if c not in shown]
    fig, axes = plt.subplots(max(1, len(shown)), 1, figsize=(9, 1.2 + 2.1 * max(1, len(shown))),
                             sharex=True, squeeze=False)
    units = pretty_units(data["units"])
    for ax, c in zip(axes[:, 0], shown, strict=False):
        mean = total[c].mean()
        trace = total[c, mask] - (mean if subtract_mean else 0.0)
        ax.plot(time, trace, lw=0.8, color=f"C{c}")
        ax.set_ylabel(f"P_{labels[c]}{_MINUS_MEAN if subtract_mean else ''}\n({units})")
        ax.text(0.99, 0.97, f"run mean {mean:.4g} {units}", transform=ax.transAxes,
                ha="right", va="top", fontsize=8,
                bbox={"fc": "white", "ec": "none", "alpha": 0.7})
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4))
    if not len(shown):
        _empty_note(axes[0, 0], "all dipole components are zero")
    axes[-1, 0].set_xlabel("time (ms)")
    note = f"; {', '.join(skipped)} \u2261 0 (not shown)" if skipped else ""
    fig.suptitle(f"{data['name']} ({data['type']}): current dipole moment{note}", fontsize=10)
    fig.tight_layout()
    save_png(fig, output, _metadata(f"{data['name']} current dipole moment", [signals_file],
                                    {"": info}))
    plt.close(fig)
    return Path(output)


def _positions(parameters, key, n):
    """Sensor positions (mm) from the probe parameters, or None."""
    try:
        points = np.asarray(parameters[key], dtype=float).reshape(-1, 3)
    except (KeyError, TypeError, ValueError):
        return None
    return points / 1000.0 if len(points) == n else None


def _position_text(points, i):
    if points is None:
        return ""
    return " (" + ", ".join(f"{v:.3g}" for v in points[i]) + ") mm"


def plot_eeg(signals_file, output, window=500.0, probe=None, subtract_mean=True):
    """EEG potential at every electrode against time, overlaid (colour = electrode;
    positions from the probe's ``r_electrodes`` in mm); units with an SI prefix."""
    plt = _pyplot()
    data, mask, info = _probe_window(signals_file, "eeg", probe, window)
    total, time = data["total"], data["time"][mask]
    means = total.mean(axis=1)
    values = total[:, mask] - (means[:, None] if subtract_mean else 0.0)
    factor, units, _ = display_scale(values, data["units"])
    points = _positions(data["parameters"], "r_electrodes", total.shape[0])
    cmap = plt.get_cmap("viridis")
    fig, ax = plt.subplots(figsize=(9, 4.8))
    n = total.shape[0]
    for c in range(n):
        ax.plot(time, values[c] * factor, lw=0.8, color=cmap(c / max(1, n - 1) * 0.9),
                label=f"electrode {_label(data['channels'][c])}{_position_text(points, c)}",)
    ax.set_xlim(time[0], time[-1])
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(f"EEG potential{_MINUS_MEAN if subtract_mean else ''} ({units})")
    ax.set_title(f"{data['name']} ({data['type']}): EEG per electrode", fontsize=10)
    if n <= 12:
        ax.legend(fontsize=7, loc="upper right", framealpha=0.8)
    ax.axhline(0, color="0.7", lw=0.5)
    fig.tight_layout()
    save_png(fig, output, _metadata(f"{data['name']} EEG", [signals_file], {"": info}))
    plt.close(fig)
    return Path(output)


def plot_meg(signals_file, output, window=500.0, probe=None, subtract_mean=True):
    """Magnetic signal of every MEG sensor against time, one panel per sensor with
    its non-zero field components overlaid; all-zero components and sensors are left
    out (listed in the title). A field strength H in nA/um is drawn as the flux
    density B = mu0 H (1 nA/um = 1.2566 nT)."""
    plt = _pyplot()
    data, mask, info = _probe_window(signals_file, "meg", probe, window)
    total, time = data["total"], data["time"][mask]
    labels = [_label(c) for c in data["channels"]]
    sensors = {}
    for c, label in enumerate(labels):
        sensor, _, component = label.partition(":")
        sensors.setdefault(sensor, []).append((c, component or label))
    nonzero = _nonzero(total)
    shown = {s: [(c, comp) for c, comp in items if nonzero[c]] for s, items in sensors.items()}
    skipped = [labels[c] for c in range(len(labels)) if not nonzero[c]]
    shown = {s: items for s, items in shown.items() if items}
    means = total.mean(axis=1)
    values = total[:, mask] - (means[:, None] if subtract_mean else 0.0)
    factor, units, quantity = display_scale(values[nonzero] if nonzero.any() else values,
                                            data["units"])
    symbol = "B" if quantity == "B" else "H"
    points = _positions(data["parameters"], "sensor_locations", len(sensors))
    n_rows = max(1, len(shown))
    fig, axes = plt.subplots(n_rows, 1, figsize=(9, 1.3 + 1.9 * n_rows), sharex=True,
                             squeeze=False)
    for ax, (sensor, items) in zip(axes[:, 0], shown.items(), strict=False):
        for c, component in items:
            ax.plot(time, values[c] * factor, lw=0.8, color=f"C{'xyz'.find(component) % 10}",
                    label=f"{symbol}_{component}")
        index = list(sensors).index(sensor)
        ax.set_title(f"sensor {sensor}{_position_text(points, index)}", fontsize=9)
        ax.set_ylabel(f"{symbol} ({units})")
        ax.legend(fontsize=7, loc="upper right", framealpha=0.8)
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4))
    if not shown:
        _empty_note(axes[0, 0], "all MEG components are zero")
    axes[-1, 0].set_xlim(time[0], time[-1])
    axes[-1, 0].set_xlabel("time (ms)")
    conversion = " = \u00b50\u00b7H" if quantity == "B" else ""
    mean_text = ", run mean subtracted" if subtract_mean else ""
    note = f"\nzero, not shown: {', '.join(skipped)}" if skipped else ""
    fig.suptitle(f"{data['name']} ({data['type']}): {symbol}{conversion}{mean_text}{note}",
                 fontsize=10)
    fig.tight_layout()
    save_png(fig, output, _metadata(f"{data['name']} MEG", [signals_file], {"": info}))
    plt.close(fig)
    return Path(output)


# ---------------------------------------------------------------------------------------
# Figure 5: pathway shares
# ---------------------------------------------------------------------------------------


def pathway_shares(pathways, total):
    """Each pathway's share of a signal's temporal variance.

    Parameters
    ----------
    pathways : ndarray (n_pathways, n_channels, n_times)
        Contributions phi_p of the pathways.
    total : ndarray (n_channels, n_times)
        The total signal phi (the sum of the pathways).

    Returns
    -------
    dict of ndarray
        ``variance`` (n_pathways, n_channels): Var_t(phi_p) / Var_t(phi), the size of
        a pathway's contribution alone relative to the total. Pathways that cancel
        each other make these sum to more than 1, pathways that add up coherently to
        less than 1.

        ``covariance`` (n_pathways, n_channels): Cov_t(phi_p, phi) / Var_t(phi), the
        part of the total variance the pathway accounts for; sums to exactly 1 over
        pathways (when the pathways add up to the total) and is negative for a pathway
        that cancels the rest.

        ``variance_all`` and ``covariance_all`` (n_pathways,): the same with the
        variances and covariances summed over channels first (signal power over all
        channels, so large channels weigh most).

        NaN where the total does not vary.
    """
    dev = pathways - pathways.mean(axis=-1, keepdims=True)
    tot = total - total.mean(axis=-1, keepdims=True)
    var_p = (dev**2).mean(axis=-1)
    cov_p = (dev * tot[None]).mean(axis=-1)
    var_t = (tot**2).mean(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        safe = np.where(var_t > 0, var_t, np.nan)
        all_var = var_t.sum() if var_t.sum() > 0 else np.nan
        return {"variance": var_p / safe, "covariance": cov_p / safe,
                "variance_all": var_p.sum(axis=1) / all_var,
                "covariance_all": cov_p.sum(axis=1) / all_var}


def _read_pathways(fh, name):
    group = fh[name]
    posts, pres = _scale_labels(group["post"]), _scale_labels(group["pre"])
    dset = group["pathways"]
    labels, arrays = [], []
    for i, post in enumerate(posts):
        for j, pre in enumerate(pres):
            labels.append(f"{pre} {_ARROW} {post}")
            arrays.append(np.asarray(dset[i, j], dtype=float))
    return labels, np.stack(arrays)


def plot_pathway_shares(signals_file, output):
    """Share of each pathway X -> Y in the predicted signals' temporal variance (over
    the whole signal, t_start..t_stop), see :func:`pathway_shares`.

    Left (when there is an LFP probe with pathways): heat maps over contact depth and
    pathway of Var(phi_YX) / Var(phi) and Cov(phi_YX, phi) / Var(phi). Right: for every
    probe with pathways, bars of Var(phi_YX) / Var(phi) summed over channels and
    diamonds of the covariance share (these sum to 1 over pathways). Pathways that are
    zero in every probe (no connection) are left out.
    """
    plt = _pyplot()
    with h5py.File(check_hdf5(signals_file, "signals"), "r") as fh:
        info = provenance(fh.attrs)
        probes = {}
        for name in probe_groups(fh):
            if "pathways" not in fh[name]:
                continue
            labels, parts = _read_pathways(fh, name)
            data = _read_probe(fh, name)
            probes[name] = (data, labels, parts)
    if not probes:
        raise InputError(str(signals_file), "no probe group has 'pathways'")
    labels = next(iter(probes.values()))[1]
    active = np.zeros(len(labels), dtype=bool)
    residuals = {}
    shares = {}
    for name, (data, _, parts) in probes.items():
        active |= np.abs(parts).reshape(len(labels), -1).max(axis=1) > 0
        peak = np.abs(data["total"]).max()
        residual = np.abs(parts.sum(axis=0) - data["total"]).max()
        if peak > 0 and residual > 1e-6 * peak:
            residuals[name] = residual / peak
        shares[name] = pathway_shares(parts, data["total"])
    if not active.any():
        active[:] = True
    keep = np.flatnonzero(active)
    names = [labels[i] for i in keep]
    lfp = next((n for n, (d, _, _) in probes.items() if d["type"] in PROBE_TYPES["lfp"]),
               None)

    n_cols = 3 if lfp else 1
    fig = plt.figure(figsize=(4.2 * (n_cols - 1) + 6.0, 6.4))
    grid = fig.add_gridspec(1, n_cols, width_ratios=[1, 1, 1.5][-n_cols:], wspace=0.45)
    if lfp:
        data = probes[lfp][0]
        try:
            depth = np.array([float(_label(c)) for c in data["channels"]])
        except ValueError:
            depth = np.arange(len(data["channels"]), dtype=float)
        order = np.argsort(depth)[::-1]
        for col, (key, title, cmap) in enumerate((
                ("variance", "Var(\u03c6_YX) / Var(\u03c6)", "viridis"),
                ("covariance", "Cov(\u03c6_YX, \u03c6) / Var(\u03c6)", "RdBu_r"))):
            ax = fig.add_subplot(grid[col])
            values = shares[lfp][key][keep][:, order].T
            finite = values[np.isfinite(values)]
            if cmap == "viridis":
                vmin, vmax = 0.0, max(1.0, float(finite.max()) if finite.size else 1.0)
            else:
                vmax = max(1.0, float(np.abs(finite).max()) if finite.size else 1.0)
                vmin = -vmax
            image = ax.imshow(values, aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax,
                              interpolation="nearest")
            for (r, c), v in np.ndenumerate(values):
                dark = (v - vmin) / (vmax - vmin) < 0.5 if cmap == "viridis" else abs(v) > \
                    0.6 * vmax
                ax.text(c, r, "n/a" if not np.isfinite(v) else f"{v:.2f}", ha="center",
                        va="center", fontsize=7 if len(order) <= 16 else 5,
                        color="white" if dark else "black")
            ax.set_xticks(range(len(names)))
            ax.set_xticklabels(names, rotation=45, ha="right", fontsize=8)
            step = max(1, len(order) // 16)
            ax.set_yticks(range(0, len(order), step))
            ax.set_yticklabels([f"{depth[i]:g}" for i in order[::step]], fontsize=8)
            if col == 0:
                ax.set_ylabel("contact depth z (\u00b5m)")
            ax.set_xlabel("pathway")
            ax.set_title(f"{lfp}: {title}", fontsize=9)
            fig.colorbar(image, ax=ax, fraction=0.08, pad=0.03).ax.tick_params(labelsize=7)
    ax = fig.add_subplot(grid[-1])
    width = 0.8 / len(probes)
    x = np.arange(len(names))
    for k, name in enumerate(probes):
        offset = (k - (len(probes) - 1) / 2) * width
        ax.bar(x + offset, shares[name]["variance_all"][keep], width * 0.9, color=f"C{k}",
               label=f"{name} ({probes[name][0]['type']})")
        ax.plot(x + offset, shares[name]["covariance_all"][keep], "D", color="k", ms=4,
                mfc="white", mew=1.0)
    handles, _ = ax.get_legend_handles_labels()
    (diamond,) = ax.plot([], [], "D", color="k", ms=4, mfc="white", mew=1.0,
                         label="Cov(\u03c6_YX, \u03c6) / Var(\u03c6) (sums to 1)")
    ax.axhline(0, color="0.3", lw=0.6)
    ax.axhline(1, color="0.6", lw=0.6, ls="--")
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=45, ha="right", fontsize=8)
    ax.set_xlabel("pathway")
    ax.set_ylabel("share of the signal's variance")
    ax.set_title("bars: Var(\u03c6_YX) / Var(\u03c6), channels summed", fontsize=9)
    ax.legend(handles=[*handles, diamond], fontsize=7, loc="upper center",
              bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)
    title = "pathway shares of the predicted signals (variance over the whole signal)"
    if residuals:
        title += "\nwarning: pathways do not sum to the total in " + ", ".join(
            f"{n} ({r:.1e} of max)" for n, r in residuals.items())
    fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.3, top=0.88)
    save_png(fig, output, _metadata("pathway shares", [signals_file], {"": info}))
    plt.close(fig)
    return Path(output)


# ---------------------------------------------------------------------------------------
# All figures
# ---------------------------------------------------------------------------------------


def available_figures(signals_file, spikes_file=None):
    """{file name: None if it can be drawn, else why not} for :data:`FIGURES`."""
    with h5py.File(check_hdf5(signals_file, "signals"), "r") as fh:
        kinds = {kind for kind in PROBE_TYPES if find_probe(fh, kind) is not None}
        has_pathways = any("pathways" in fh[name] for name in probe_groups(fh))
        has_rates = "rates" in fh
    reasons = {}
    for figure, need in FIGURES.items():
        if need == "spikes":
            reasons[figure] = (None if spikes_file and has_rates else
                               "no --spikes file" if not spikes_file else
                               "the signals file has no 'rates' group")
        elif need == "pathways":
            reasons[figure] = None if has_pathways else "no probe group with pathways"
        else:
            reasons[figure] = None if need in kinds else \
                f"no {' or '.join(PROBE_TYPES[need])} probe"
    return reasons


def expected_figures(probe_types, sonata=False, pathways=True):
    """File names :func:`plot_signals` writes for a config's probes (for a workflow's
    outputs, before the signals exist).

    Parameters
    ----------
    probe_types : iterable of str
        The ``type`` of every probe in the config.
    sonata : bool
        Whether a SONATA spikes file is passed (``--spikes``).
    pathways : bool
        Whether the signals keep per-pathway contributions.
    """
    types = set(probe_types)
    kinds = {kind for kind, names in PROBE_TYPES.items() if types & set(names)}
    wanted = []
    for figure, need in FIGURES.items():
        if (need == "spikes" and sonata) or need in kinds or (
                need == "pathways" and pathways and types):
            wanted.append(figure)
    return wanted


def plot_signals(signals_file, output_dir, spikes_file=None, window=500.0,
                 subtract_mean=True, log=print):
    """Write every figure of :data:`FIGURES` that the inputs allow into ``output_dir``.

    Returns
    -------
    dict
        {file name: Path written, or the reason it was skipped (str)}.
    """
    signals_file = check_hdf5(signals_file, "signals")
    if spikes_file is not None:
        spikes_file = check_hdf5(spikes_file, "SONATA spikes")
    output_dir = Path(output_dir)
    reasons = available_figures(signals_file, spikes_file)
    with h5py.File(signals_file, "r") as fh:
        groups = probe_groups(fh)
        populations = _scale_labels(fh["rates/population"]) if "rates" in fh else []
    if reasons["raster_rates.png"] is None:
        read_sonata(spikes_file, populations)  # bad spikes input fails before any figure
    for kind, types in PROBE_TYPES.items():
        matching = [name for name, kind_type in groups.items() if kind_type in types]
        if len(matching) > 1:
            log(f"note: {kind} figures draw probe '{matching[0]}'; not drawn: "
                f"{', '.join(matching[1:])}")
    draw = {
        "raster_rates.png": lambda out: plot_raster_rates(signals_file, spikes_file, out,
                                                          window),
        "lfp_image.png": lambda out: plot_lfp_image(signals_file, out, window,
                                                    subtract_mean=subtract_mean),
        "lfp_traces.png": lambda out: plot_lfp_traces(signals_file, out, window,
                                                      subtract_mean=subtract_mean),
        "dipole.png": lambda out: plot_dipole(signals_file, out, window,
                                              subtract_mean=subtract_mean),
        "eeg.png": lambda out: plot_eeg(signals_file, out, window,
                                        subtract_mean=subtract_mean),
        "meg.png": lambda out: plot_meg(signals_file, out, window,
                                        subtract_mean=subtract_mean),
        "pathway_shares.png": lambda out: plot_pathway_shares(signals_file, out),
    }
    results = {}
    for figure, reason in reasons.items():
        if reason is not None:
            log(f"skipped {figure}: {reason}")
            results[figure] = reason
            continue
        results[figure] = draw[figure](output_dir / figure)
        log(f"wrote {results[figure]}")
    return results
