"""All figures of ``hpckernels compare``."""

from __future__ import annotations

from pathlib import Path

from .error_prediction import plot_error_prediction
from .hybrid_kernels import plot_hybrid_kernels, ref_mode
from .validation_coherence import plot_coherence
from .validation_metrics import plot_metrics
from .validation_traces import plot_traces
from .validation_xcorr import plot_xcorr

#: Figures of ``compare`` per probe: ``<kind>_<probe>.png`` (xcorr for a dipole only, the
#: hybrid-scheme kernels per kind of detailed population).
VALIDATION_FIGURES = ("traces", "metrics", "coherence", "xcorr", "error_prediction")
HYBRID_MODES = ("conductance", "linearized")


def validation_figure(kind, probe, mode=None):
    """File name of a figure of ``compare`` (``mode``: of hybrid-scheme kernels)."""
    return (
        f"hybrid_kernels_{mode}_{probe}.png" if kind == "hybrid_kernels" else f"{kind}_{probe}.png"
    )


def validation_figure_names(probes):
    """Every file name ``compare`` may write for these probes."""
    names = {validation_figure(kind, probe) for kind in VALIDATION_FIGURES for probe in probes}
    return names | {
        validation_figure("hybrid_kernels", probe, mode)
        for probe in probes
        for mode in HYBRID_MODES
    }


def plot_validation(comparison, folder, hybrid_files=(), kernel_sets=None, sources=()):
    """Write every figure of a comparison into ``folder``; return their paths.

    ``hybrid_files``: hybrid-scheme kernel files, each drawn against ``kernel_sets``
    ({name: kernel tensor file})."""
    from ..io.kernels import read_tensor

    folder = Path(folder)
    written = []
    for probe, metrics in comparison.metrics.items():
        if not metrics["active"].any():
            continue
        written.append(
            plot_traces(
                comparison, probe, folder / validation_figure("traces", probe), sources=sources
            )
        )
        written.append(
            plot_metrics(comparison, probe, folder / validation_figure("metrics", probe), sources)
        )
        if metrics["coherence"] is not None:
            written.append(
                plot_coherence(
                    comparison, probe, folder / validation_figure("coherence", probe), sources
                )
            )
        if metrics["xcorr_z"] is not None:
            written.append(
                plot_xcorr(
                    comparison,
                    probe,
                    metrics["xcorr_lags"],
                    folder / validation_figure("xcorr", probe),
                    sources,
                )
            )
        if comparison.err is not None and comparison.lin is not None:
            written.append(
                plot_error_prediction(
                    comparison,
                    probe,
                    folder / validation_figure("error_prediction", probe),
                    sources,
                )
            )
    tensors = {name: read_tensor(path) for name, path in (kernel_sets or {}).items()}
    for hybrid_file in hybrid_files:
        hybrid = read_tensor(hybrid_file)
        mode = ref_mode(hybrid)
        for probe in hybrid.probes:
            output = folder / validation_figure("hybrid_kernels", probe, mode)
            written.append(plot_hybrid_kernels(hybrid, tensors, probe, output, [hybrid_file]))
    return written
