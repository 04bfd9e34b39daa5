"""The ``compare`` command's work: predictions and a ground truth read, checked against
the config, compared and written."""

from __future__ import annotations

from ..errors import InputError
from ..io import validation as layouts
from ..io.h5 import text
from ..io.signals import SignalFile
from ..validation.comparison import LINEARIZED, MEAN_KERNELS, compare


def _layout(attrs):
    return {k: text(attrs.get(k, "")) for k in ("cells_per_population", "seed", "contacts")}


def compare_files(config, groundtruth, predictions, output, linearized=None, error=None):
    """Metrics of every prediction against the ground truth (and against the linearized
    reconstruction), written to ``output``.

    Parameters
    ----------
    config : NetworkConfig
    groundtruth : str or Path
        Ground truth (conductance-based) of ``hpckernels groundtruth``.
    predictions : dict of str to path
        {name: signals file} (``hpckernels signals``).
    output : Path
    linearized : str or Path, optional
        The linearized reconstruction (``groundtruth --linearized``): compared with the
        ground truth, and the second reference of every prediction.
    error : str or Path, optional
        ``hpckernels predict-error`` output: its predicted E_rel (against the linearized
        reconstruction) is stored next to the measured one, and its mean-kernel
        prediction is compared too.

    Returns
    -------
    Comparison
    """
    gt = SignalFile(groundtruth, f"ground truth ({groundtruth})")
    layouts.check_groundtruth(gt, config, "conductance")
    files = {
        name: SignalFile(path, f"prediction {name} ({path})") for name, path in predictions.items()
    }
    lin = None
    if linearized is not None:
        lin = SignalFile(linearized, f"linearized reconstruction ({linearized})")
        layouts.check_groundtruth(lin, config, "linearized")
        if _layout(lin.attrs) != _layout(gt.attrs):
            raise InputError(
                lin.label, f"other cells than the ground truth's: {_layout(lin.attrs)}"
            )
        files = {LINEARIZED: lin, **files}
    err, predicted_errors = None, None
    if error is not None:
        err = SignalFile(error, f"predicted error ({error})")
        predicted_errors = layouts.read_predicted_error(error)
        same_hash = text(err.attrs.get("groundtruth_hash", "")) == text(
            gt.attrs["groundtruth_hash"]
        )
        if not same_hash or _layout(err.attrs) != _layout(gt.attrs):
            raise InputError(
                err.label,
                "predicted for another detailed population than the ground truth's "
                f"(groundtruth_hash; cells {_layout(err.attrs)} vs {_layout(gt.attrs)})",
            )
        files[MEAN_KERNELS] = err
    for other in files.values():
        layouts.check_same_window(gt, other)
    comparison = compare(gt, lin, files, err, predicted_errors)
    layouts.write_comparison(
        output,
        config,
        comparison,
        {
            "groundtruth_file": str(groundtruth),
            "linearized_file": str(linearized) if linearized else None,
            "error_file": str(error) if error else None,
        },
    )
    return comparison
