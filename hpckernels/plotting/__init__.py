"""Figures (PNG) of hpckernels: kernel tensors (``hpckernels plot-kernels``) and
predicted signals with the spikes behind them (``hpckernels plot-signals``).

matplotlib runs on the non-interactive Agg backend; every PNG is written atomically
and carries the provenance of its inputs in its text metadata.
"""

from .kernel_tensor import plot_kernel_tensor
from .signal_figures import FIGURES, available_figures, expected_figures, plot_signals

__all__ = [
    "FIGURES",
    "available_figures",
    "expected_figures",
    "plot_kernel_tensor",
    "plot_signals",
]
