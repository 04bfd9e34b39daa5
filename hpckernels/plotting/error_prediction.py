"""Predicted against measured E_rel (``error_prediction_<probe>.png``): the theory of
:mod:`hpckernels.validation.error_theory` against the E_rel measured on the linearized
reconstruction, per channel."""

from __future__ import annotations

import numpy as np

from .common import finish, legend_beside, pyplot


def plot_error_prediction(comparison, probe, output, sources=()):
    """Measured (x) against predicted (y) E_rel of the kernel prediction and of the
    population's mean-kernel prediction; the grey band is +-25 %."""
    plt = pyplot()
    metrics = comparison.metrics[probe]
    r = comparison.references.index("linearized reconstruction")
    fig, ax = plt.subplots(figsize=(6.8, 4.4))
    top = 0.0
    for label, name, key in (
        (comparison.predicted_for, comparison.predicted_for, "e_rel"),
        ("population mean kernels", "population mean kernels", "e_rel_mean_kernel"),
    ):
        if name is None or name not in comparison.names:
            continue
        measured = metrics["e_rel"][r, comparison.names.index(name), 0]
        predicted = comparison.err_values(probe, key)
        ok = np.isfinite(measured) & np.isfinite(predicted)
        ax.plot(measured[ok], predicted[ok], "o", label=label)
        top = max(top, np.nanmax(measured[ok], initial=0), np.nanmax(predicted[ok], initial=0))
    line = np.array([0, 1.1 * top or 1])
    ax.plot(line, line, "k-", lw=0.8)
    ax.fill_between(line, 0.75 * line, 1.25 * line, color="0.85", lw=0)
    ax.set_xlabel("measured E_rel (vs linearized reconstruction)")
    ax.set_ylabel("predicted E_rel")
    ax.set_title(f"{probe}: error bars", fontsize=10)
    legend_beside(ax)
    fig.tight_layout(rect=(0, 0, 0.72, 1))
    return finish(fig, output, f"{probe} predicted vs measured E_rel", sources, {})
