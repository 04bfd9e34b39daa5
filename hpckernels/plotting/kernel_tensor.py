"""Figure of one probe of a kernel tensor (``hpckernels plot-kernels``)."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..io.h5 import text
from ..io.kernels import read_tensor
from .common import display_scale, finish, pretty_units, provenance, pyplot

#: Height of a kernel's largest magnitude in channel spacings.
AMPLITUDE = 0.45
#: Lags after which every kernel stays below this fraction of its panel's maximum are not
#: drawn by default.
TAIL_RTOL = 0.01


def decay_lag(kernel, lags, rtol=TAIL_RTOL, step=5.0):
    """Lag (ms) after which every pathway's kernel stays below ``rtol`` of its maximum,
    rounded up to a multiple of ``step`` (at least ``step``, at most the last lag).

    Parameters
    ----------
    kernel : ndarray (n_post, n_pre, n_channels, n_lags)
    lags : ndarray (n_lags,)
        Lags (ms).
    """
    flat = np.abs(kernel).reshape(-1, kernel.shape[-2], lags.size)
    peak = flat.max(axis=(1, 2), keepdims=True)
    above = (flat > rtol * peak) & (peak > 0)
    if not above.any():
        return float(lags[-1])
    last = float(lags[np.flatnonzero(above.any(axis=(0, 1)))[-1]])
    return float(min(lags[-1], max(step, step * np.ceil(last / step))))


def plot_kernel_tensor(tensor_file, probe, output, max_lag=None, shared_scale=False):
    """Grid of pathways (rows: postsynaptic Y, columns: presynaptic X); in each
    panel every channel's kernel, offset vertically by channel, normalised to the
    panel's largest magnitude (printed in the panel, in display units: µV, µA/mm³, ...),
    or with ``shared_scale`` to the largest magnitude of all panels (one amplitude
    scale: panels compare by size; the scale is given in the title).

    Parameters
    ----------
    tensor_file : str or Path
        Kernel tensor written by ``hpckernels assemble``.
    probe : str
        Probe group to draw.
    output : str or Path
        PNG file.
    max_lag : float, optional
        Largest lag drawn (ms); default :func:`decay_lag` (tau when the kernels last that
        long), said in the title when shorter than tau.
    shared_scale : bool
        One amplitude scale for every panel.

    Returns the path of the PNG (``output``).
    """
    plt = pyplot()
    tensor = read_tensor(tensor_file)
    if probe not in tensor.probes:
        raise InputError(
            "--probe",
            f"no probe '{probe}' in {tensor_file}; probes are {', '.join(tensor.probes)}",
        )
    data = tensor.probes[probe]
    kernel, lags, units, probe_type = data.kernel, data.lags, data.units, data.probe_type
    posts, pres = tensor.post, tensor.pre
    channels = [text(v) for v in data.channel]
    channel_units = data.channel_units
    info = provenance(tensor.attrs)
    trimmed = ""
    if max_lag is None:
        max_lag = decay_lag(kernel, lags)
        if max_lag < lags[-1]:
            trimmed = (
                f"\nlags beyond {max_lag:g} ms not drawn (every kernel < {TAIL_RTOL:.0%} "
                "of its maximum)"
            )
    # kernels are causal: of the negative lags only the last 2 ms are drawn, as baseline
    shown = (lags >= -2.0) & (lags <= max_lag)
    n_post, n_pre, n_channels = kernel.shape[:3]
    # many pathways (the 8 x 8 microcircuit): compact panels, every other channel labelled;
    # no text below 7 pt at 110 dpi
    compact = n_post * n_pre > 16
    panel_height = 0.12 * n_channels + 0.8 if compact else 0.25 * n_channels + 1.5
    label_step = 2 if compact and n_channels > 10 else 1
    fig, axes = plt.subplots(
        n_post,
        n_pre,
        figsize=(2.6 * n_pre + 1.2, panel_height * n_post + (1.0 if compact else 0.0)),
        sharex=True,
        sharey=True,
        squeeze=False,
    )
    factor, display_units, _ = display_scale(kernel, units)
    largest = float(np.abs(kernel).max())
    from matplotlib.collections import LineCollection

    offsets = -np.arange(n_channels)
    colors = [f"C{c % 10}" if n_channels <= 3 else "k" for c in range(n_channels)]
    y_range = (offsets[-1] - 0.7, 1.4 if compact else 0.7)
    # the spike at lag 0 (a grey line) where negative lags are drawn
    zero_line = [np.array([[0.0, y_range[0]], [0.0, y_range[1]]])] if lags[shown][0] < 0 else []
    for i, post in enumerate(posts):
        for j, pre in enumerate(pres):
            ax = axes[i, j]
            scale = np.abs(kernel[i, j]).max()
            norm = largest if shared_scale else scale
            traces = kernel[i, j][:, shown] / norm if scale > 0 else 0 * kernel[i, j][:, shown]
            # one collection per panel: one artist instead of n_channels lines
            segments = np.stack(
                [
                    np.broadcast_to(lags[shown], traces.shape),
                    offsets[:, None] + AMPLITUDE * traces,
                ],
                axis=-1,
            )
            ax.add_collection(
                LineCollection(
                    [*zero_line, *segments],
                    colors=["0.7"] * len(zero_line) + colors,
                    linewidths=[0.5] * len(zero_line) + [0.8] * n_channels,
                )
            )
            ax.set_title(f"{pre} \u2192 {post}", fontsize=9, pad=2)
            if scale > 0:
                ax.text(
                    0.98,
                    0.99,
                    f"max {scale * factor:.3g} {display_units}",
                    transform=ax.transAxes,
                    ha="right",
                    va="top",
                    fontsize=7,
                )
            if scale == 0:
                ax.text(0.5, 0.5, "no connection", transform=ax.transAxes, ha="center",
                        va="center", fontsize=8, color="0.5")  # fmt: skip
            if i == n_post - 1:
                ax.set_xlabel("lag (ms)", fontsize=9)
            ax.tick_params(labelsize=7 if compact else 8)
    labels = [
        f"{float(c):g} {pretty_units(channel_units)}" if channel_units else c for c in channels
    ]
    for ax in axes[:, 0]:
        ax.set_yticks(offsets[::label_step])
        ax.set_yticklabels(labels[::label_step], fontsize=7)
    width, height = fig.get_size_inches()
    normalised = (
        f"one scale for every panel: a channel spacing = {largest * factor / AMPLITUDE:.3g} "
        f"{display_units}"
        if shared_scale
        else "each panel normalised to its maximum"
    )
    title = (
        f"{probe} ({probe_type}): kernels H[post, pre] per presynaptic spike\n"
        f"{normalised}{trimmed}"
    )
    title_height = 0.2 + 0.17 * (title.count("\n") + 1)  # inches
    fig.suptitle(title, fontsize=9, y=1 - 0.08 / height, va="top")
    axes[0, 0].set_xlim(lags[shown][0], lags[shown][-1])
    # room above the first channel for the panel's maximum
    axes[0, 0].set_ylim(*y_range)
    if compact:
        # fixed margins (inches): tight_layout over 64 panels is slow and gains nothing
        fig.subplots_adjust(
            left=1.0 / width,
            right=1 - 0.15 / width,
            bottom=0.55 / height,
            top=1 - (title_height + 0.3) / height,
            wspace=0.08,
            hspace=0.3,
        )
    else:
        fig.tight_layout()  # makes room for the title too
    return finish(fig, output, f"{probe} kernels", [tensor_file], {"": info})
