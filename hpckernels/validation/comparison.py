"""Predictions against a ground truth: the metrics of every probe channel, per
reference (the ground truth, the linearized reconstruction) and prediction.

Works on signals already read (:class:`hpckernels.io.signals.SignalFile`); writing the
result is :func:`hpckernels.io.validation.write_comparison`'s.
"""

from __future__ import annotations

import numpy as np

from ..io.h5 import text
from . import metrics

#: Names of the references a prediction is compared with.
GROUNDTRUTH, LINEARIZED = "ground truth", "linearized reconstruction"
#: The filters of the metrics.
FILTERS = ("raw", "lowpass 100 Hz")
#: Name of the prediction with the detailed population's mean kernels (predict-error).
MEAN_KERNELS = "population mean kernels"


class Comparison:
    """What ``compare`` computed, for the output file and the figures.

    Attributes
    ----------
    gt, lin : SignalFile
        The ground truth and the linearized reconstruction (None without).
    files : dict of str to SignalFile
        The predictions (with the linearized reconstruction and the mean-kernel
        prediction under :data:`LINEARIZED` and :data:`MEAN_KERNELS`).
    err : SignalFile or None
        The predict-error file.
    metrics : dict of str to dict
        Per probe: ``active`` channels, ``r2``, ``r_std``, ``e_rel`` (reference,
        prediction, filter, channel), their ``summaries`` (median and 10/90 % quantiles
        across active channels), with a predicted error ``full`` and ``full_summaries``
        (the raw metrics estimated for the whole population, reference, prediction,
        channel), ``frequency``, ``coherence`` (reference,
        prediction, channel, frequency), ``xcorr_z`` and ``xcorr_lags`` (dipoles) and
        ``predicted`` ({"e_rel", "e_rel_mean_kernel": (channel,)}).
    references, names : list of str
    predicted_for : str or None
        Name of the prediction whose E_rel predict-error predicted.
    """

    #: The filters of the metrics (third axis).
    filters = FILTERS
    #: The reference of the predicted E_rel.
    predicted_reference = LINEARIZED

    def __init__(self, gt, lin, files, err, dt):
        self.gt, self.lin, self.files, self.err, self.dt = gt, lin, files, err, dt
        self.metrics = {}
        self.references, self.names = [], []
        self.predicted_for = None

    def err_values(self, probe, key="e_rel"):
        """Predicted ``e_rel`` or ``e_rel_mean_kernel`` per channel (None without)."""
        return self.metrics[probe]["predicted"].get(key)


def compare(gt, lin, files, err=None, predicted_errors=None):
    """Metrics of every prediction against the ground truth and the linearized
    reconstruction.

    Parameters
    ----------
    gt : SignalFile
        The ground truth.
    lin : SignalFile or None
        The linearized reconstruction (then also in ``files``).
    files : dict of str to SignalFile
        The predictions by name.
    err : SignalFile, optional
        The predict-error file (its mean-kernel prediction is in ``files``).
    predicted_errors : dict, optional
        Its predicted E_rel per probe (:func:`hpckernels.io.validation.read_predicted_error`).

    Returns
    -------
    Comparison
    """
    references = {GROUNDTRUTH: gt} | ({LINEARIZED: lin} if lin is not None else {})
    names = list(files)
    dt = gt.dt
    comparison = Comparison(gt, lin, files, err, dt)
    comparison.references, comparison.names = list(references), names
    if err is not None:
        # the prediction made with the kernels whose error was predicted
        wanted = text(err.attrs.get("kernels_sha256", ""))
        comparison.predicted_for = next(
            (n for n, f in files.items() if text(f.attrs.get("kernels_sha256", "")) == wanted),
            None,
        )
    for probe, data in gt.probes.items():
        active = metrics.active_channels(data["total"])
        values_of = {
            key: np.full((len(references), len(names), 2, active.size), np.nan)
            for key in ("r2", "r_std", "e_rel")
        }
        # against the whole population (the sample's excess variance removed), raw
        full_of = {
            key: np.full(values_of[key].shape[:2] + active.shape, np.nan) for key in values_of
        }
        excess = None
        if err is not None and probe in err.probes:
            excess = predicted_errors[probe].get("var_sample_excess")
        freqs, coh, xc, lags, predicted = None, None, None, None, {}
        for r, ref in enumerate(references.values()):
            ref_values = ref.probes[probe]["total"]
            for p, name in enumerate(names):
                if files[name] is ref or probe not in files[name].probes:
                    continue
                values = files[name].probes[probe]["total"]
                for key, value in metrics.channel_metrics(ref_values, values, dt).items():
                    values_of[key][r, p] = np.where(active, value, np.nan)
                # the linearized reconstruction has the ground truth's sample of cells
                if excess is not None and name != LINEARIZED:
                    for key, value in metrics.full_population_metrics(
                        ref_values, values, excess
                    ).items():
                        full_of[key][r, p] = np.where(active, value, np.nan)
                f, c = metrics.coherence(ref_values, values, dt)
                if coh is None:
                    freqs = f
                    coh = np.full((len(references), len(names), active.size, f.size), np.nan)
                coh[r, p] = np.where(active[:, None], c, np.nan)
                if data["type"] == "CurrentDipoleMoment":
                    lags, x = metrics.zscore_xcorr(ref_values[2:3], values[2:3], dt)
                    if xc is None:
                        xc = np.full((len(references), len(names), lags.size), np.nan)
                    xc[r, p] = x[0]
        if err is not None and probe in err.probes:
            for key, value in predicted_errors[probe].items():
                predicted[key] = np.where(active, value, np.nan)
        comparison.metrics[probe] = {
            "active": active,
            **values_of,
            "summaries": {key: metrics.summary(v, active) for key, v in values_of.items()},
            "full": full_of if excess is not None else None,
            "full_summaries": (
                {key: metrics.summary(v, active) for key, v in full_of.items()}
                if excess is not None
                else None
            ),
            "frequency": freqs,
            "coherence": coh,
            "xcorr_z": xc,
            "xcorr_lags": lags,
            "predicted": predicted,
        }
    return comparison
