"""The ``compare`` command's work: predictions and a ground truth read, checked against
the config, compared and written."""

from __future__ import annotations

import json

from ..errors import InputError
from ..io import validation as layouts
from ..io.h5 import text
from ..io.signals import SignalFile
from ..validation.comparison import LINEARIZED, MEAN_KERNELS, compare


def _layout(attrs):
    return {k: text(attrs.get(k, "")) for k in ("cells_per_population", "seed", "contacts")}


def check_prediction(signals, config, allow_stale=False):
    """Raise InputError unless a prediction (signals file) was made from kernels of
    ``config`` (in the kernel settings the file records: mode, g_eff) and from kernels
    that were not stale (``--allow-stale`` lets stale ones through; they are listed in
    the output). Returns the staleness it records (None without)."""
    from ..inputs import pathway_hash

    if "kernels_pathway_hashes" not in signals.attrs:
        raise InputError(signals.label, "not a signals file of hpckernels signals")
    stale = text(signals.attrs.get("stale_kernels", "")) or None
    if stale and not allow_stale:
        raise InputError(
            signals.label,
            f"predicted with stale kernels ({stale[:120]}); predict it again, or give "
            "--allow-stale",
        )
    mode = text(signals.attrs.get("kernels_mode", "mean-field"))
    g_eff = bool(signals.attrs.get("kernels_g_eff", config.simulation["g_eff"]))
    variant = (
        config if g_eff == config.simulation["g_eff"] else config.with_simulation(g_eff=g_eff)
    )
    hashes = json.loads(text(signals.attrs["kernels_pathway_hashes"]))
    for probe, stored in hashes.items():
        if probe not in config.probes:
            raise InputError(signals.label, f"kernels of probe {probe}, not in the config")
        for pathway in variant.pathways():
            key = f"{pathway.post}<-{pathway.pre}"
            if stale is None and stored.get(key) != pathway_hash(
                variant, pathway.pre, pathway.post, mode, probe
            ):
                raise InputError(
                    signals.label,
                    f"predicted with kernels of another config ({probe}, pathway "
                    f"{pathway.pre}->{pathway.post} differs)",
                )
    return stale


def compare_files(
    config, groundtruth, predictions, output, linearized=None, error=None, allow_stale=False
):
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
    allow_stale : bool
        Take predictions made with stale kernels (recorded in the output).

    Returns
    -------
    Comparison
    """
    gt = SignalFile(groundtruth, f"ground truth ({groundtruth})")
    layouts.check_groundtruth(gt, config, "conductance")
    files = {
        name: SignalFile(path, f"prediction {name} ({path})") for name, path in predictions.items()
    }
    stale = {name: check_prediction(f, config, allow_stale) for name, f in files.items()}
    stale = {name: found for name, found in stale.items() if found}
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
            "stale_predictions": json.dumps(stale) if stale else None,
        },
    )
    return comparison
