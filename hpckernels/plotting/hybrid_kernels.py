"""Hybrid-scheme kernels against kernel tensors (``hybrid_kernels_<probe>.png``, Hagen et
al. 2022, Fig 4): one panel per pathway, each channel's kernel offset along the y axis."""

from __future__ import annotations

import numpy as np

from ..convolution import centered_kernel
from ..io.h5 import text
from .common import (
    _nice,
    contact_depths,
    display_scale,
    finish,
    legend_beside,
    pretty_units,
    pyplot,
    scale_bar,
)

#: Lags drawn (ms).
LAG_WINDOW = (-5.0, 30.0)
#: Channels whose kernels stay below this fraction of the panel's largest in every set
#: are silent (e.g. P_x, P_y of a rotationally symmetric population): not drawn.
SILENT = 0.01


def channel_label(probe, c):
    """A channel's y label: its depth (µm) or its component/label."""
    depths = contact_depths(probe.channel)
    if depths is not None and pretty_units(probe.channel_units) == "\u00b5m":
        return f"{depths[c]:g} \u00b5m"
    label = text(probe.channel[c])
    return f"P_{label}" if probe.probe_type == "CurrentDipoleMoment" else label


def ref_mode(tensor):
    """'conductance' or 'linearized': the cells behind hybrid-scheme kernels."""
    return text(tensor.attrs.get("groundtruth_mode", "conductance"))


def plot_hybrid_kernels(hybrid, tensors, probe, output, sources=()):
    """``hybrid`` and ``tensors`` ({name: KernelTensor}) are read kernel tensors; channels
    that are silent in every set (below :data:`SILENT` of the panel's largest) are left
    out and named in the title; the channels are labelled by depth (or component), one
    scale bar per panel; the legend beside the first row."""
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
    silent = set()
    for i, post in enumerate(names):
        for j, pre in enumerate(names):
            ax = axes[i, j]
            blocks = [centered_kernel(kernel, lags, dt)[i, j] for _, kernel, lags, _ in sets]
            spacing = max(np.abs(b).max() for b in blocks) or 1.0
            shown = [
                c
                for c in range(ref.kernel.shape[2])
                if any(np.abs(b[c]).max() > SILENT * spacing for b in blocks)
            ]
            silent.update(
                channel_label(ref, c) for c in range(ref.kernel.shape[2]) if c not in shown
            )
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
            ax.set_yticks([-row * spacing * factor for row in range(len(shown))])
            ax.set_yticklabels([channel_label(ref, c) for c in shown], fontsize=8)
            bar = _nice(0.5 * spacing * factor)
            scale_bar(ax, bar, f"{bar:.3g}\n{units}")
            if i == 0 and j == len(names) - 1:
                legend_beside(ax, fontsize=8, bbox_to_anchor=(1.25, 1.0))
    quiet = f"; silent, not drawn: {', '.join(sorted(silent))}" if silent else ""
    fig.suptitle(
        f"{probe}: kernels per channel (channels offset){quiet}; hybrid scheme on the "
        f"{mode} detailed population",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 0.82, 0.96))
    return finish(fig, output, f"{probe} hybrid-scheme kernels", sources, {})
