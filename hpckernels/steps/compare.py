"""The ``compare`` command's work: predictions and a ground truth read, checked against
the config, compared and written."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..errors import HpckernelsWarning, InputError
from ..io import h5 as io_h5
from ..io import validation as layouts
from ..io.h5 import text
from ..io.signals import SignalFile
from ..validation.comparison import GROUNDTRUTH, LINEARIZED, MEAN_KERNELS, compare


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
    hashes = json.loads(text(signals.attrs["kernels_pathway_hashes"]))
    for probe in hashes:
        if probe not in config.probes:
            raise InputError(signals.label, f"kernels of probe {probe}, not in the config")
    if stale is not None:
        return stale
    # the config itself or one of its prediction variants (validation.variants), with
    # the g_eff the kernels record
    candidates = [config, *(config.variant(name) for name in config.variants)]
    differing = None
    for candidate in candidates:
        if g_eff != candidate.simulation["g_eff"]:
            candidate = candidate.with_simulation(g_eff=g_eff)
        differing = next(
            (
                (probe, pathway)
                for probe, stored in hashes.items()
                for pathway in candidate.pathways()
                if stored.get(f"{pathway.post}<-{pathway.pre}")
                != pathway_hash(candidate, pathway.pre, pathway.post, mode, probe)
            ),
            None,
        )
        if differing is None:
            return None
    probe, pathway = differing
    raise InputError(
        signals.label,
        f"predicted with kernels of another config ({probe}, pathway {pathway.pre}->"
        f"{pathway.post} differs from the config and its variants)",
    )


class SampledSpikesWarning(HpckernelsWarning):
    """Spiking cells of a sampled ground truth, scaled up by N/M."""


def warn_sampled_spikes(path, attrs):
    """Warn when cells of a ground truth that stand for N/M cells each fired: every
    action potential enters the signals N/M times over, a transient that the whole
    population would average out and no linear kernel has."""
    import warnings

    scales = json.loads(text(attrs.get("signal_scales", "{}")) or "{}")
    fired = {
        post: count
        for post, count in layouts.read_soma_spikes(path).items()
        if count and scales.get(post, 1.0) > 1.0
    }
    if fired:
        listed = ", ".join(f"{post} {count} (x {scales[post]:g})" for post, count in fired.items())
        warnings.warn(
            f"{path}: the sampled cells fired action potentials, each scaled by N/M: "
            f"{listed}; their transients weigh N/M times what they would in the whole "
            "population, so the metrics against this ground truth are biased low (more "
            "cells: groundtruth.cells_per_population; or read them against the "
            "linearized reconstruction)",
            SampledSpikesWarning,
            stacklevel=2,
        )


def compare_files(
    config,
    groundtruth,
    predictions,
    output,
    linearized=None,
    error=None,
    allow_stale=False,
    summary=None,
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
        reconstruction) is stored next to the measured one, its mean-kernel
        prediction is compared too, and the metrics are also estimated against the whole
        population (the variance the ground truth's sample of cells adds removed).
    summary : str or Path, optional
        Markdown file with the tables of :func:`summary_markdown`.
    allow_stale : bool
        Take predictions made with stale kernels (recorded in the output).

    Returns
    -------
    Comparison
    """
    gt = SignalFile(groundtruth, f"ground truth ({groundtruth})")
    layouts.check_groundtruth(gt, config, "conductance")
    warn_sampled_spikes(groundtruth, gt.attrs)
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
    if summary is not None:
        tmp = Path(summary).with_name(f".{Path(summary).name}.tmp-{os.getpid()}")
        tmp.write_text(summary_markdown(comparison, config))
        os.replace(tmp, summary)
    return comparison


def _cell(values):
    """'median [q10, q90]' of a summary row (median, q10, q90)."""
    if np.isnan(values[0]):
        return "-"
    return f"{values[0]:.2f} [{values[1]:.2f}, {values[2]:.2f}]"


def _value(value):
    return "-" if np.isnan(value) else f"{value:.2f}"


def _potentials(attrs, key):
    found = json.loads(text(attrs.get(key, "{}")) or "{}")
    return ", ".join(f"{post} {value:.1f}" for post, value in found.items()) or "-"


def summary_markdown(comparison, config):
    """The comparison's tables (markdown): per probe and prediction the medians across
    channels [10 %, 90 % quantiles] of R^2, r_STD and E_rel against the ground truth,
    raw, low-pass filtered and (with a predicted error) estimated for the whole
    population; the ground truth's somatic potentials and the spike rates."""
    gt = comparison.gt
    cells = json.loads(text(gt.attrs["cells_per_population"]))
    sizes = json.loads(text(gt.attrs["population_sizes"]))
    lines = [
        f"# Validation: {config.source}",
        "",
        f"Ground truth: cells {', '.join(f'{p} {cells[p]}/{sizes[p]}' for p in cells)}; "
        f"window {float(gt.attrs['t_start']):g}-{float(gt.attrs['t_stop']):g} ms. "
        f"Median somatic potential (mV): {_potentials(gt.attrs, 'soma_v_median')}.",
    ]
    if comparison.err is not None:
        rates = json.loads(text(comparison.err.attrs.get("rates", "{}")) or "{}")
        lines[-1] += " Rates (spikes/s): " + ", ".join(f"{k} {v:.2f}" for k, v in rates.items())
    r = comparison.references.index(GROUNDTRUTH)
    keys = ("r2", "r_std", "e_rel")
    for probe, result in comparison.metrics.items():
        active = result["active"]
        if not active.any():
            continue
        full = result["full"]
        header = ["prediction", "R2", "r_STD", "E_rel", "R2 100 Hz", "r_STD 100 Hz"]
        header += ["E_rel 100 Hz"] + (["R2 all", "r_STD all", "E_rel all"] if full else [])
        # a dipole's components one by one, other probes as medians across channels
        labels = np.asarray(comparison.gt.probes[probe]["channels"]).astype(str)
        channels = np.flatnonzero(active) if active.size <= 3 else [None]
        lines += [
            "",
            f"## {probe} ({int(active.sum())} channels)",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header),
        ]
        for p, name in enumerate(comparison.names):
            for c in channels:
                if c is None:
                    row = [name]
                    for f in range(len(comparison.filters)):
                        row += [_cell(result["summaries"][k][r, p, f]) for k in keys]
                    if full:
                        row += [_cell(result["full_summaries"][k][r, p]) for k in keys]
                else:
                    row = [f"{name} ({labels[c]})"]
                    for f in range(len(comparison.filters)):
                        row += [_value(result[k][r, p, f, c]) for k in keys]
                    if full:
                        row += [_value(full[k][r, p, c]) for k in keys]
                lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        "Medians across the channels whose ground truth varies [10 %, 90 % quantiles]; "
        "'all': raw, estimated against the whole population (the variance the sample of "
        "cells adds, predicted by predict-error, removed).",
        "",
    ]
    return "\n".join(lines)


def read_medians(path):
    """{probe: {prediction: {"r2", "r_std", "e_rel": median}}} of a ``compare`` file:
    the medians across the channels whose ground truth varies, raw, against the ground
    truth (what the first columns of ``summary.md`` show).

    Raises
    ------
    InputError
        Not a compare file.
    """
    out = {}
    with io_h5.open_h5(path, "validation") as fh:
        for name, group in fh.items():
            if not hasattr(group, "keys") or "r2_summary" not in group:
                continue
            references = [text(r) for r in group["reference"][()]]
            predictions = [text(p) for p in group["prediction"][()]]
            r = references.index(GROUNDTRUTH)
            out[name] = {
                prediction: {
                    key: float(io_h5.read(group[f"{key}_summary"])[r, p, 0, 0])
                    for key in ("r2", "r_std", "e_rel")
                }
                for p, prediction in enumerate(predictions)
            }
    if not out:
        raise InputError(str(path), "not a compare file (no metrics)")
    return out


def medians_rst(medians):
    """The medians of :func:`read_medians` as a reStructuredText list (a report caption):
    one item per probe, its predictions' R^2, r_STD and E_rel."""
    lines = []
    for probe, rows in medians.items():
        values = "; ".join(
            f"{name} R² {m['r2']:.2f}, r_STD {m['r_std']:.2f}, E_rel {m['e_rel']:.2f}"
            for name, m in rows.items()
            if not np.isnan(m["r2"])
        )
        if values:
            lines.append(f"- *{probe}*: {values}")
    return "\n".join(lines)
