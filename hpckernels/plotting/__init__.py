"""Figures (PNG) of hpckernels: kernel tensors (``hpckernels plot-kernels``) and
predicted signals with the spikes behind them (``hpckernels plot-signals``).

matplotlib runs on the non-interactive Agg backend; every PNG is written atomically
and carries the provenance of its inputs in its text metadata.

The signal figures (``plot_lfp_image``, ``plot_dipole``, ...) take
``(signals_file, output, window=500.0, probe=None, subtract_mean=True)`` and return the
path of the PNG written to ``output``:

window : float or None
    Length (ms) drawn from the signals' t_start; None or 0: the whole signal. Shorter
    than one bin of the signals raises InputError.
probe : str, optional
    Probe group to draw; default the first probe of the figure's kind.
subtract_mean : bool
    Draw each channel's deviation from its mean over the whole run.
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
