"""Figures (PNG) of kernels; matplotlib with the non-interactive Agg backend."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig, path, metadata):
    """Save a figure atomically (temporary file, then rename) with text metadata."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.png")
    try:
        fig.savefig(tmp, dpi=110, metadata=metadata)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _label(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def plot_kernel_tensor(tensor_file, probe, output, max_lag=None):
    """Grid of pathways (rows: postsynaptic Y, columns: presynaptic X); in each
    panel every channel's kernel, offset vertically by channel, normalised to the
    panel's largest magnitude (printed in the panel).

    Parameters
    ----------
    tensor_file : str or Path
        Kernel tensor written by ``hpckernels assemble``.
    probe : str
        Probe group to draw.
    output : str or Path
        PNG file.
    max_lag : float, optional
        Largest lag drawn (ms); default tau.
    """
    plt = _pyplot()
    with h5py.File(tensor_file, "r") as fh:
        if probe not in fh:
            from .errors import InputError

            raise InputError("--probe", f"no probe '{probe}' in {tensor_file}; "
                                        f"probes are {', '.join(fh)}")
        group = fh[probe]
        kernel = group["kernel"][()]
        posts = [_label(v) for v in group["post"][()]]
        pres = [_label(v) for v in group["pre"][()]]
        channels = [_label(v) for v in group["channel"][()]]
        channel_units = group["channel"].attrs.get("units", "")
        lags = group["lag"][()]
        units = group["kernel"].attrs["units"]
        probe_type = group.attrs["probe_type"]
        metadata = {"Title": f"{probe} kernels", "Source": str(tensor_file),
                    "Description": f"config_hash={fh.attrs['config_hash']}; "
                                   f"hpckernels={fh.attrs['hpckernels_version']}; "
                                   f"NEURON={fh.attrs['neuron_version']}; "
                                   f"LFPy={fh.attrs['lfpy_version']}"}
    max_lag = lags[-1] if max_lag is None else max_lag
    shown = (lags >= min(-2.0, lags[0] if lags[0] > 0 else -2.0)) & (lags <= max_lag)
    n_post, n_pre, n_channels = kernel.shape[:3]
    fig, axes = plt.subplots(n_post, n_pre, figsize=(2.6 * n_pre + 1, 0.25 * n_channels * n_post
                                                      + 1.5 * n_post),
                             sharex=True, sharey=True, squeeze=False)
    offsets = -np.arange(n_channels)
    for i, post in enumerate(posts):
        for j, pre in enumerate(pres):
            ax = axes[i, j]
            scale = np.abs(kernel[i, j]).max()
            for c in range(n_channels):
                trace = kernel[i, j, c, shown] / scale if scale > 0 else 0 * lags[shown]
                ax.plot(lags[shown], offsets[c] + 0.45 * trace,
                        lw=0.8, color=f"C{c % 10}" if n_channels <= 3 else "k")
            ax.axvline(0, color="0.7", lw=0.5)
            ax.set_title(f"{pre} \u2192 {post}", fontsize=9)
            ax.text(0.98, 0.99, f"max {scale:.3g} {units}", transform=ax.transAxes,
                    ha="right", va="top", fontsize=7)
            if i == n_post - 1:
                ax.set_xlabel("lag (ms)")
    labels = [f"{float(c):g} {channel_units}" if channel_units else c for c in channels]
    for ax in axes[:, 0]:
        ax.set_yticks(offsets)
        ax.set_yticklabels(labels, fontsize=7)
    fig.suptitle(f"{probe} ({probe_type}): kernels H[post, pre] per presynaptic spike\n"
                 "each panel normalised to its maximum", fontsize=9)
    fig.tight_layout()
    save_png(fig, output, metadata)
    plt.close(fig)
