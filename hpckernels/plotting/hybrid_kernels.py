"""Hybrid-scheme kernels against kernel tensors (``hybrid_kernels_<probe>.png``, Hagen et
al. 2022, Fig 4): one panel per pathway, each channel's kernel offset along the y axis."""

from __future__ import annotations

import numpy as np

from ..convolution import centered_kernel
from ..io.h5 import text
from .common import display_scale, finish, pyplot

#: Lags drawn (ms).
LAG_WINDOW = (-5.0, 30.0)


def ref_mode(tensor):
    """'conductance' or 'linearized': the cells behind hybrid-scheme kernels."""
    return text(tensor.attrs.get("groundtruth_mode", "conductance"))


def plot_hybrid_kernels(hybrid, tensors, probe, output, sources=()):
    """``hybrid`` and ``tensors`` ({name: KernelTensor}) are read kernel tensors; channels
    that are zero in every set are left out."""
    plt = pyplot()
    ref = hybrid.probes[probe]
    names = hybrid.post
    dt = float(np.median(np.diff(ref.lags)))
    fig, axes = plt.subplots(
        len(names), len(names), figsize=(4 * len(names), 3.6 * len(names)), squeeze=False
    )
    factor, units, _ = display_scale(ref.kernel, ref.units)
    sets = [(f"hybrid scheme ({ref_mode(hybrid)})", ref.kernel, ref.lags, "k")] + [
        (name, t.probes[probe].kernel, t.probes[probe].lags, f"C{i}")
        for i, (name, t) in enumerate(tensors.items())
        if probe in t.probes
    ]
    mode = ref_mode(hybrid)
    for i, post in enumerate(names):
        for j, pre in enumerate(names):
            ax = axes[i, j]
            blocks = [centered_kernel(kernel, lags, dt)[i, j] for _, kernel, lags, _ in sets]
            spacing = max(np.abs(b).max() for b in blocks) or 1.0
            shown = [
                c
                for c in range(ref.kernel.shape[2])
                if any(np.abs(b[c]).max() > 0 for b in blocks)
            ]
            for (label, _, _, color), k in zip(sets, blocks, strict=True):
                lag = (np.arange(k.shape[-1]) - (k.shape[-1] - 1) // 2) * dt
                keep = (lag >= LAG_WINDOW[0]) & (lag <= LAG_WINDOW[1])
                for row, c in enumerate(shown):
                    ax.plot(
                        lag[keep],
                        factor * (k[c, keep] - row * spacing),
                        color=color,
                        lw=0.9,
                        label=label if row == 0 else None,
                    )
            ax.set_title(f"{pre} \u2192 {post}", fontsize=9)
            ax.set_xlabel("lag (ms)")
            ax.set_yticks([])
            if i == j == 0:
                ax.legend(fontsize=7)
    fig.suptitle(
        f"{probe}: kernels per channel ({units}, channels offset); hybrid scheme on the "
        f"{mode} detailed population",
        fontsize=10,
    )
    fig.tight_layout()
    return finish(fig, output, f"{probe} hybrid-scheme kernels", sources, {})
