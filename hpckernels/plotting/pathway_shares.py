"""Pathway shares (``pathway_shares.png``): how much of the predicted signals each
pathway X -> Y accounts for."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..io.h5 import open_h5
from .common import (
    contact_depths,
    figure_kind,
    finish,
    probe_groups,
    provenance,
    pyplot,
    read_probe,
    scale_labels,
)

_ARROW = "\u2192"
# pathways that miss the total by more than this fraction of its peak get a warning
_SUM_RTOL = 1e-6
#: Above this many pathways (the 8 x 8 microcircuit) the per-probe bars become post x pre
#: matrices and the depth maps lose their per-cell numbers.
MANY_PATHWAYS = 16


def pathway_shares(pathways, total):
    """Each pathway's share of a signal's temporal variance.

    Parameters
    ----------
    pathways : ndarray (n_pathways, n_channels, n_times)
        Contributions phi_p of the pathways.
    total : ndarray (n_channels, n_times)
        The total signal phi (the sum of the pathways), in the same units.

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

        All dimensionless; NaN where the total does not vary.
    """
    dev = pathways - pathways.mean(axis=-1, keepdims=True)
    tot = total - total.mean(axis=-1, keepdims=True)
    var_p = (dev**2).mean(axis=-1)
    cov_p = (dev * tot[None]).mean(axis=-1)
    var_t = (tot**2).mean(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        safe = np.where(var_t > 0, var_t, np.nan)
        all_var = var_t.sum() if var_t.sum() > 0 else np.nan
        return {
            "variance": var_p / safe,
            "covariance": cov_p / safe,
            "variance_all": var_p.sum(axis=1) / all_var,
            "covariance_all": cov_p.sum(axis=1) / all_var,
        }


def _read_pathways(fh, name):
    """Labels 'X -> Y' and contributions (n_pathways, n_channels, n_times) of a probe, and
    the post and pre populations (pathway p is post p // n_pre, pre p % n_pre)."""
    group = fh[name]
    posts, pres = scale_labels(group["post"]), scale_labels(group["pre"])
    dset = group["pathways"]
    labels, arrays = [], []
    for i, post in enumerate(posts):
        for j, pre in enumerate(pres):
            labels.append(f"{pre} {_ARROW} {post}")
            arrays.append(np.asarray(dset[i, j], dtype=float))
    return labels, np.stack(arrays), (posts, pres)


def _share_maps(fig, grid, probe, data, shares, keep, names):
    """Heat maps over contact depth and pathway of the variance and covariance shares
    of an LFP probe, in the first two slots of ``grid`` (numbers in the cells for at
    most :data:`MANY_PATHWAYS` pathways)."""
    many = len(names) > MANY_PATHWAYS
    depth = contact_depths(data["channels"])
    if depth is None:
        # channels without depths are labelled by index
        depth = np.arange(len(data["channels"]), dtype=float)
    order = np.argsort(depth)[::-1]
    for col, (key, title, cmap) in enumerate(
        (
            ("variance", "Var(\u03c6_YX) / Var(\u03c6)", "viridis"),
            ("covariance", "Cov(\u03c6_YX, \u03c6) / Var(\u03c6)", "RdBu_r"),
        )
    ):
        ax = fig.add_subplot(grid[col])
        values = shares[key][keep][:, order].T
        finite = values[np.isfinite(values)]
        # colour scales reach at least 1 (a pathway that is the whole signal)
        if cmap == "viridis":
            vmin, vmax = 0.0, max(1.0, float(finite.max()) if finite.size else 1.0)
        else:
            vmax = max(1.0, float(np.abs(finite).max()) if finite.size else 1.0)
            vmin = -vmax
        image = ax.imshow(
            values, aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest"
        )
        for (r, c), v in np.ndenumerate(values if not many else np.empty((0, 0))):
            # white text on the dark end of each colormap
            if cmap == "viridis":
                dark = (v - vmin) / (vmax - vmin) < 0.5
            else:
                dark = abs(v) > 0.6 * vmax
            ax.text(
                c,
                r,
                "n/a" if not np.isfinite(v) else f"{v:.2f}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if dark else "black",
            )
        ax.set_xticks(range(len(names)))
        if many:
            _grouped_pathway_axis(ax, names)
        else:
            ax.set_xticklabels(names, rotation=45, ha="right", fontsize=8)
        step = max(1, len(order) // 16)
        ax.set_yticks(range(0, len(order), step))
        ax.set_yticklabels([f"{depth[i]:g}" for i in order[::step]], fontsize=8)
        if col == 0:
            ax.set_ylabel("contact depth z (\u00b5m)")
        ax.set_xlabel(
            "pathway X \u2192 Y: presynaptic X, grouped by postsynaptic Y",
            labelpad=26 if many else 4,
        )
        ax.set_title(f"{probe}: {title}", fontsize=9)
        fig.colorbar(image, ax=ax, fraction=0.08, pad=0.03).ax.tick_params(labelsize=7)


def _grouped_pathway_axis(ax, names):
    """Many pathways ``"X \u2192 Y"`` on an x axis: X at every tick, Y once under each run
    of pathways into it, runs separated by lines (readable for the 64 pathways of the
    microcircuit)."""
    pairs = [name.split(" \u2192 ") for name in names]
    ax.set_xticklabels([pre for pre, _ in pairs], rotation=90, fontsize=7)
    runs, start = [], 0
    for k in range(1, len(pairs) + 1):
        if k == len(pairs) or pairs[k][1] != pairs[start][1]:
            runs.append((start, k, pairs[start][1]))
            start = k
    for first, last, post in runs:
        if first:
            ax.axvline(first - 0.5, color="white", lw=1.2)
        ax.annotate(
            f"\u2192 {post}",
            xy=((first + last - 1) / 2, 0),
            xycoords=("data", "axes fraction"),
            xytext=(0, -38),
            textcoords="offset points",
            ha="center",
            va="top",
            fontsize=8,
        )


def _share_bars(ax, probes, shares, keep, names):
    """Per probe, bars of the variance shares and diamonds of the covariance shares,
    channels summed."""
    width = 0.8 / len(probes)
    x = np.arange(len(names))
    for k, name in enumerate(probes):
        offset = (k - (len(probes) - 1) / 2) * width
        ax.bar(
            x + offset,
            shares[name]["variance_all"][keep],
            width * 0.9,
            color=f"C{k}",
            label=f"{name} ({probes[name][0]['type']})",
        )
        ax.plot(
            x + offset,
            shares[name]["covariance_all"][keep],
            "D",
            color="k",
            ms=4,
            mfc="white",
            mew=1.0,
        )
    handles, _ = ax.get_legend_handles_labels()
    # one legend entry for the diamonds of every probe
    (diamond,) = ax.plot(
        [],
        [],
        "D",
        color="k",
        ms=4,
        mfc="white",
        mew=1.0,
        label="Cov(\u03c6_YX, \u03c6) / Var(\u03c6) (sums to 1)",
    )
    ax.axhline(0, color="0.3", lw=0.6)
    ax.axhline(1, color="0.6", lw=0.6, ls="--")
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=45, ha="right", fontsize=8)
    ax.set_xlabel("pathway")
    ax.set_ylabel("share of the signal's variance")
    ax.set_title("bars: Var(\u03c6_YX) / Var(\u03c6), channels summed", fontsize=9)
    ax.legend(
        handles=[*handles, diamond],
        fontsize=7,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.22),
        ncol=2,
        frameon=False,
    )


def _share_matrices(fig, slots, cbar_slot, probes, shares, populations, active):
    """Per probe (one slot each) the post x pre matrix of the covariance share with the
    channels summed, numbers in the cells; pathways without a connection blank; the
    colour bar in ``cbar_slot``."""
    posts, pres = populations
    values = {n: shares[n]["covariance_all"].reshape(len(posts), len(pres)) for n in probes}
    blank = ~active.reshape(len(posts), len(pres))
    finite = [np.abs(v[~blank & np.isfinite(v)]) for v in values.values()]
    vmax = max(1e-3, max((float(f.max()) for f in finite if f.size), default=1.0))
    image = None
    for slot, name in zip(slots, probes, strict=True):
        ax = fig.add_subplot(slot)
        shown = np.ma.masked_array(values[name], mask=blank | ~np.isfinite(values[name]))
        image = ax.imshow(shown, cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
        for (r, c), v in np.ndenumerate(values[name]):
            if blank[r, c]:
                continue
            label = "n/a" if not np.isfinite(v) else f"{v:.2f}"
            ax.text(
                c,
                r,
                "0.00" if label == "-0.00" else label,
                ha="center",
                va="center",
                fontsize=7,
                color="white" if np.isfinite(v) and abs(v) > 0.6 * vmax else "black",
            )
        ax.set_xticks(range(len(pres)))
        ax.set_xticklabels(pres, rotation=90, fontsize=7)
        ax.set_yticks(range(len(posts)))
        ax.set_yticklabels(posts, fontsize=7)
        ax.set_xlabel("presynaptic X", fontsize=8)
        ax.set_ylabel("postsynaptic Y", fontsize=8)
        ax.set_title(f"{name}\n({probes[name][0]['type']})", fontsize=8)
    cbar = fig.colorbar(image, cax=fig.add_subplot(cbar_slot))
    cbar.set_label("Cov(\u03c6_YX, \u03c6) / Var(\u03c6), channels summed", fontsize=8)
    cbar.ax.tick_params(labelsize=7)


def plot_pathway_shares(signals_file, output):
    """Share of each pathway X -> Y in the predicted signals' temporal variance (over
    the whole signal, t_start..t_stop), see :func:`pathway_shares`.

    Left (when there is an LFP probe with pathways): heat maps over contact depth and
    pathway of Var(phi_YX) / Var(phi) and Cov(phi_YX, phi) / Var(phi). Right: for every
    probe with pathways, bars of Var(phi_YX) / Var(phi) summed over channels and
    diamonds of the covariance share (these sum to 1 over pathways). Pathways that are
    zero in every probe (no connection) are left out. With more than
    :data:`MANY_PATHWAYS` pathways the heat maps span the top row without numbers and
    the bars become one post x pre matrix of the covariance share per probe (bottom
    row). The title warns about probes whose pathways do not add up to the total.

    Parameters
    ----------
    signals_file : str or Path
        Signals file with ``pathways`` in at least one probe group.
    output : str or Path
        PNG file.

    Returns the path of the PNG (``output``).
    """
    plt = pyplot()
    with open_h5(signals_file, "signals") as fh:
        info = provenance(fh.attrs)
        probes = {}
        for name in probe_groups(fh):
            if "pathways" not in fh[name]:
                continue
            labels, parts, populations = _read_pathways(fh, name)
            probes[name] = (read_probe(fh, name), labels, parts)
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
        if peak > 0 and residual > _SUM_RTOL * peak:
            residuals[name] = residual / peak
        shares[name] = pathway_shares(parts, data["total"])
    if not active.any():
        active[:] = True
    keep = np.flatnonzero(active)
    names = [labels[i] for i in keep]
    lfp = next((n for n, (d, _, _) in probes.items() if figure_kind(d["type"]) == "lfp"), None)

    if len(names) > MANY_PATHWAYS:
        n_probes = len(probes)
        width = max(3.0 * n_probes + 1.5, 0.34 * len(names) + 2.5 if lfp else 0.0, 10.0)
        fig = plt.figure(figsize=(width, 11.5 if lfp else 4.6))
        outer = fig.add_gridspec(
            2 if lfp else 1, 1, height_ratios=[1.15, 1] if lfp else [1], hspace=0.55
        )
        if lfp:
            top = outer[0].subgridspec(1, 2, wspace=0.18)
            _share_maps(fig, top, lfp, probes[lfp][0], shares[lfp], keep, names)
        bottom = outer[-1].subgridspec(
            1, n_probes + 1, width_ratios=[1] * n_probes + [0.05], wspace=0.45
        )
        slots = [bottom[k] for k in range(n_probes)]
        _share_matrices(fig, slots, bottom[-1], probes, shares, populations, active)
    else:
        n_cols = 3 if lfp else 1
        fig = plt.figure(figsize=(4.2 * (n_cols - 1) + 6.0, 6.4))
        grid = fig.add_gridspec(1, n_cols, width_ratios=[1, 1, 1.5][-n_cols:], wspace=0.45)
        if lfp:
            _share_maps(fig, grid, lfp, probes[lfp][0], shares[lfp], keep, names)
        _share_bars(fig.add_subplot(grid[-1]), probes, shares, keep, names)
    title = "pathway shares of the predicted signals (variance over the whole signal)"
    if residuals:
        title += "\nwarning: pathways do not sum to the total in " + ", ".join(
            f"{n} ({r:.1e} of max)" for n, r in residuals.items()
        )
    fig.suptitle(title, fontsize=10)
    if len(names) > MANY_PATHWAYS:
        fig.subplots_adjust(left=0.06, right=0.95, bottom=0.06, top=0.93)
    else:
        fig.subplots_adjust(left=0.07, right=0.98, bottom=0.3, top=0.88)
    return finish(fig, output, "pathway shares", [signals_file], {"": info})
