"""Hybrid-scheme kernels against kernel tensors (``hybrid_kernels_<probe>.png``, Hagen et
al. 2022, Fig 4): one panel per pathway, each channel's kernel offset along the y axis."""

from __future__ import annotations

import numpy as np

from ..convolution import centered_kernel
from .common import display_scale, finish, pyplot

#: Lags drawn (ms).
LAG_WINDOW = (-5.0, 30.0)


def plot_hybrid_kernels(hybrid, tensors, probe, output, sources=()):
    """``hybrid`` and ``tensors`` ({name: KernelTensor}) are read kernel tensors."""
    plt = pyplot()
    ref = hybrid.probes[probe]
    names = hybrid.post
    dt = float(np.median(np.diff(ref.lags)))
    fig, axes = plt.subplots(
        len(names), len(names), figsize=(4 * len(names), 3.6 * len(names)), squeeze=False
    )
    factor, units, _ = display_scale(ref.kernel, ref.units)
    sets = [("hybrid scheme", ref.kernel, ref.lags, "k")] + [
        (name, t.probes[probe].kernel, t.probes[probe].lags, f"C{i}")
        for i, (name, t) in enumerate(tensors.items())
        if probe in t.probes
    ]
    for i, post in enumerate(names):
        for j, pre in enumerate(names):
            ax = axes[i, j]
            block = ref.kernel[i, j]
            spacing = np.abs(block).max() or 1.0
            for label, kernel, lags, color in sets:
                k = centered_kernel(kernel, lags, dt)[i, j]
                lag = (np.arange(k.shape[-1]) - (k.shape[-1] - 1) // 2) * dt
                keep = (lag >= LAG_WINDOW[0]) & (lag <= LAG_WINDOW[1])
                for c in range(k.shape[0]):
                    ax.plot(
                        lag[keep],
                        factor * (k[c, keep] - c * spacing),
                        color=color,
                        lw=0.9,
                        label=label if c == 0 else None,
                    )
            ax.set_title(f"{pre} \u2192 {post}", fontsize=9)
            ax.set_xlabel("lag (ms)")
            ax.set_yticks([])
            if i == j == 0:
                ax.legend(fontsize=7)
    fig.suptitle(f"{probe}: kernels per channel ({units}, channels offset)", fontsize=10)
    fig.tight_layout()
    return finish(fig, output, f"{probe} hybrid-scheme kernels", sources, {})
