"""The ``predict-error`` command's work: the error bars of a kernel prediction, before
any ground truth is run.

Reads the kernel tensor and the network's spikes, lays out the detailed population of
the config's ``groundtruth`` settings (no simulation: :mod:`hpckernels.validation.heterogeneity`
needs one short NEURON run per segment and synapse type), estimates the spike
statistics and writes per probe and channel the predicted E_rel of the kernel
prediction against the linearized reconstruction of that population
(:mod:`hpckernels.validation.error_theory`), its terms, and the prediction with the population's
own mean single-neuron kernels (signals layout, so ``compare`` takes it as a
prediction).
"""

from __future__ import annotations

import json
import time

import numpy as np

from ..console import STDERR
from ..convolution import centered_kernel
from ..errors import InputError
from ..io import spikes
from ..io.h5 import text
from ..io.kernels import read_tensor, tensor_differences, tensor_file_attrs, tensor_paths
from ..io.validation import groundtruth_attrs, write_predicted_error
from ..signals import iter_window_signals
from ..validation import error_theory, heterogeneity
from ..validation.metrics import SILENT_RTOL


def model_kernels(config, tensor, rows, names, count_scales):
    """K_X per simulated neuron of X on lags 0..2 tau (zero beyond tau), stacked like
    ``rows``: the tensor's kernels summed over postsynaptic populations, times the count
    scale of X."""
    dt, n = config.simulation["dt"], config.n_steps_tau
    out = np.zeros((len(names), rows.n_rows, 2 * n + 1))
    for name, rows_of in rows.rows.items():
        probe = tensor.probes.get(name)
        if probe is None:
            raise InputError(str(tensor.path), f"no kernels of probe {name}")
        kernel = centered_kernel(probe.kernel, probe.lags, dt)
        half = (kernel.shape[-1] - 1) // 2
        for x, pre in enumerate(names):
            k = tensor.pre.index(pre)
            summed = kernel[:, k, :, half : half + n + 1].sum(axis=0)
            out[x, rows_of, : summed.shape[-1]] = count_scales[pre] * summed
    return out


def predict_error_file(config, settings, kernels_file, spike_files, output, log=STDERR):
    """Write the predicted error of the kernel tensor's signals (see the module docstring).

    Raises
    ------
    InputError
        A tensor that does not belong to the config, or spikes without node ids.
    """
    started = time.monotonic()
    files = tensor_paths(kernels_file)
    tensor = read_tensor(files)
    stale = tensor_differences(tensor, config)
    if stale:
        raise InputError(
            ", ".join(str(p) for p in files),
            f"not the kernel tensor of this config: {'; '.join(stale[:3])}",
        )
    source = spikes.spike_source(config, spike_files)
    # presynaptic populations in config order
    pres = {c["pre"] for c in config.connections}
    names = [name for name in config.populations if name in pres]
    t_start, t_stop = config.signal_window()
    dt, n = config.simulation["dt"], config.n_steps_tau
    trains = spikes.read_spike_trains(config, source, names, t_start=0.0)
    spikes.check_recording(
        {name: trains[name].times for name in names}, t_start, t_stop, source.recording_end
    )
    stats = error_theory.spike_statistics(trains, names, t_start, t_stop, dt, 2 * n)
    scales = spikes.count_scales(config, source, names)
    kstats = heterogeneity.kernel_statistics(
        config, settings, {name: trains[name].size for name in names}, log
    )
    rows = kstats.rows
    own = [kstats.names.index(name) for name in names]
    K = model_kernels(config, tensor, rows, names, scales)
    prediction = error_theory.predict_error(
        kstats.mean[own],
        K,
        kstats.deviation_xcorr[own],
        kstats.background,
        stats,
        (kstats.sample_deviation_xcorr[own], kstats.sample_background),
    )
    mean_kernels = {
        name: np.concatenate(
            [np.zeros((1, len(names), s.stop - s.start, 2 * n)), kstats.mean[None, own, s]],
            axis=-1,
        )
        for name, s in rows.rows.items()
    }
    times = {name: trains[name].times for name in names}
    e_rel, e_rel_mean = prediction.e_rel, prediction.e_rel_mean_kernel
    for s in rows.rows.values():
        # channels the signal does not reach (e.g. P_x, P_y of vertical cells)
        silent = prediction.signal[s] <= SILENT_RTOL**2 * prediction.signal[s].max()
        e_rel[s][silent] = np.nan
        e_rel_mean[s][silent] = np.nan
    attrs = {
        **groundtruth_attrs(config, settings),
        "t_start": t_start,
        "t_stop": t_stop,
        **tensor_file_attrs(files),
        "kernels_mode": text(tensor.attrs.get("mode", "")),
        "spike_files": json.dumps([str(p) for p in source.files]),
        "rates": json.dumps(dict(zip(names, stats.rates.tolist(), strict=True))),
        "synchrony": json.dumps(dict(zip(names, stats.synchrony().tolist(), strict=True))),
        "mean_correlation_5ms": json.dumps(
            dict(zip(names, stats.mean_correlation(int(round(5 / dt))).tolist(), strict=True))
        ),
        "description": "predicted error of the kernel prediction (kernels_file) "
        "against the linearized reconstruction of the detailed population "
        "(cells_per_population, seed); 'total' is the prediction with the "
        "population's own mean single-neuron kernels",
    }
    blocks = iter_window_signals(times, names, mean_kernels, t_start, t_stop, dt, pathways=False)
    write_predicted_error(
        output,
        attrs,
        tensor,
        rows.rows,
        prediction,
        {"e_rel": e_rel, "e_rel_mean_kernel": e_rel_mean},
        t_start,
        t_stop,
        dt,
        blocks,
    )
    summary = "; ".join(
        f"{name} median E_rel {np.nanmedian(e_rel[s]):.3f}" for name, s in rows.rows.items()
    )
    print(
        f"[hpckernels] predict-error: {summary}; wrote {output} "
        f"({time.monotonic() - started:.1f} s)",
        file=log,
    )
    return prediction, kstats, stats
