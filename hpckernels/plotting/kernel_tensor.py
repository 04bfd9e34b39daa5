"""Figure of one probe of a kernel tensor (``hpckernels plot-kernels``)."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..h5io import read_tensor, text
from .common import finish, provenance, pyplot


def plot_kernel_tensor(tensor_file, probe, output, max_lag=None):
    """Grid of pathways (rows: postsynaptic Y, columns: presynaptic X); in each
    panel every channel's kernel, offset vertically by channel, normalised to the
    panel's largest magnitude (printed in the panel, in the kernel's units).

    Parameters
    ----------
    tensor_file : str or Path
        Kernel tensor written by ``hpckernels assemble``.
    probe : str
        Probe group to draw.
    output : str or Path
        PNG file.
    max_lag : float, optional
        Largest lag drawn (ms); default tau (the largest lag of the tensor).

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
    max_lag = lags[-1] if max_lag is None else max_lag
    # kernels are causal: of the negative lags only the last 2 ms are drawn, as baseline
    shown = (lags >= -2.0) & (lags <= max_lag)
    n_post, n_pre, n_channels = kernel.shape[:3]
    fig, axes = plt.subplots(
        n_post,
        n_pre,
        figsize=(2.6 * n_pre + 1, 0.25 * n_channels * n_post + 1.5 * n_post),
        sharex=True,
        sharey=True,
        squeeze=False,
    )
    offsets = -np.arange(n_channels)
    for i, post in enumerate(posts):
        for j, pre in enumerate(pres):
            ax = axes[i, j]
            scale = np.abs(kernel[i, j]).max()
            for c in range(n_channels):
                trace = kernel[i, j, c, shown] / scale if scale > 0 else 0 * lags[shown]
                ax.plot(
                    lags[shown],
                    offsets[c] + 0.45 * trace,
                    lw=0.8,
                    color=f"C{c % 10}" if n_channels <= 3 else "k",
                )
            ax.axvline(0, color="0.7", lw=0.5)
            ax.set_title(f"{pre} \u2192 {post}", fontsize=9)
            ax.text(
                0.98,
                0.99,
                f"max {scale:.3g} {units}",
                transform=ax.transAxes,
                ha="right",
                va="top",
                fontsize=7,
            )
            if i == n_post - 1:
                ax.set_xlabel("lag (ms)")
    labels = [f"{float(c):g} {channel_units}" if channel_units else c for c in channels]
    for ax in axes[:, 0]:
        ax.set_yticks(offsets)
        ax.set_yticklabels(labels, fontsize=7)
    fig.suptitle(
        f"{probe} ({probe_type}): kernels H[post, pre] per presynaptic spike\n"
        "each panel normalised to its maximum",
        fontsize=9,
    )
    fig.tight_layout()
    return finish(fig, output, f"{probe} kernels", [tensor_file], {"": info})
