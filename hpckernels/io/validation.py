"""HDF5 layouts of the validation: ground truth, hybrid-scheme kernels, predicted errors
and the comparison, on top of :mod:`hpckernels.io.h5` (atomic writes, dimension scales,
units, provenance).

Layouts
-------
ground truth (``hpckernels groundtruth``)
    The layout of a signals file (one group per probe with ``total`` (channel, time),
    ``time`` = bin left edges, ``probe_type`` of the config probe it measures), plus
    ``populations`` (post, channel, time): each population's share, scaled by
    N_Y / M_Y. ``cells`` (the cell table: population, index, x, y, z, rotation) and
    ``synapses`` (cell, segment, kind, pre_id, weight, delay) say how to rebuild any
    cell; with ``--cells`` also per-cell signals ``<probe>/cells`` (cell, channel,
    time) and the background trains ``background/offsets``, ``background/times``.
hybrid-scheme kernels (``hpckernels groundtruth --hybrid-kernels``)
    The layout of a kernel tensor: per probe ``kernel`` (post, pre, channel, lag).
predicted error (``hpckernels predict-error``)
    Per probe ``error_std``, ``signal_std`` and ``e_rel`` (channel) with their terms.
validation (``hpckernels compare``)
    Per probe and prediction the metrics per channel, raw and low-pass filtered.
"""

from __future__ import annotations

import json

import h5py
import numpy as np

from ..datatypes import CellTable, SynapseTable
from ..errors import InputError
from ..inputs import groundtruth_hash
from ..probes import probe_type
from . import h5 as h5io

#: Long names of the synapse-table columns.
SYNAPSE_COLUMNS = {
    "cell": ("", "row of the cell in /cells"),
    "segment": ("", "segment index (LFPy order)"),
    "kind": ("", "connection index in the config (-1: background)"),
    "pre_id": ("", "presynaptic node id (background: source index)"),
    "weight": ("uS", "synapse weight as configured (nA if current-based)"),
    "delay": ("ms", "synaptic delay (on the dt grid)"),
}


def _int_dataset(group, name, data, units, long_name, scale):
    dset = group.create_dataset(name, data=np.asarray(data, dtype=np.int64))
    dset.dims[0].attach_scale(scale)
    h5io.set_attrs(dset, {"units": units or None, "long_name": long_name})
    return dset


def groundtruth_attrs(config, settings):
    """Root attributes of every output about a detailed population."""
    return {
        **h5io.provenance(config),
        "groundtruth_hash": groundtruth_hash(config),
        "seed": settings.seed,
        "contacts": settings.contacts,
        "cells_per_population": json.dumps(settings.cells),
    }


def write_groundtruth(path, config, settings, result, attrs):
    """Write a ground-truth run (:class:`hpckernels.validation.groundtruth.PopulationResult`).

    Parameters
    ----------
    path : str or Path
    config : NetworkConfig
    settings : hpckernels.groundtruth.Settings
    result : hpckernels.validation.groundtruth.PopulationResult
    attrs : dict
        More root attributes (spike files, timings, ...).
    """
    window = result.window
    posts = config.postsynaptic_populations()
    factor = settings.scales(config)
    times = window.t_start + np.arange(window.n_bins) * window.dt
    kinds = {"-1": "background"} | {
        str(k): f"{c['pre']}->{c['post']}" for k, c in enumerate(config.connections)
    }
    with h5io.atomic_h5(path) as fh:
        h5io.set_attrs(
            fh,
            {
                **groundtruth_attrs(config, settings),
                "mode": settings.mode(),
                "warmup_ms": window.t_start - window.t_begin,
                "t_start": window.t_start,
                "t_stop": window.t_stop,
                "population_sizes": json.dumps(
                    {p: int(config.populations[p]["size"]) for p in posts}
                ),
                "signal_scales": json.dumps(factor),
                "subset": json.dumps(settings.subset) if settings.subset is not None else None,
                "synapse_kinds": json.dumps(kinds),
                "description": "detailed population (hybrid scheme): signals of M_Y cells per "
                "population scaled by N_Y / M_Y; cells: soma position (um) and rotation "
                "(rad, LFPy set_rotation order x, y, z about the soma, applied to the "
                "configured cell, then set_pos); synapses: one row per synapse, driven by "
                "the presynaptic neuron's spikes (on the dt grid of the bins) + delay, or "
                "for background rows by background/times",
                **attrs,
            },
        )
        _write_cells(fh, result.cells, result.soma_v)
        if result.soma_v is not None:
            pops = np.array(result.cells.population)
            fh.attrs["soma_v_mean"] = json.dumps(
                {p: float(result.soma_v[pops == p, 0].mean()) for p in posts if (pops == p).any()}
            )
            # the paper's rest potential: median over the cells' somatic potentials
            fh.attrs["soma_v_median"] = json.dumps(result.soma_medians())
        _write_synapses(fh, result.synapses)
        if result.backgrounds is not None:
            group = fh.create_group("background")
            starts = np.cumsum([0] + [b.times.size for b in result.backgrounds])
            offsets = np.concatenate(
                [
                    b.offsets[:-1] + start
                    for b, start in zip(result.backgrounds, starts, strict=False)
                ]
                + [starts[-1:]]
            )
            h5io.set_attrs(
                group,
                {
                    "description": "spike times (ms) of the background synapses, in the "
                    "order of the rows with kind -1 of /synapses: row b's train is "
                    "times[offsets[b]:offsets[b + 1]]"
                },
            )
            group.create_dataset("offsets", data=offsets.astype(np.int64))
            group.create_dataset(
                "times", data=np.concatenate([b.times for b in result.backgrounds])
            ).attrs["units"] = "ms"
        for name, rows in result.rows.rows.items():
            probe = probe_type(config.probes[name], config.probes)
            group = fh.create_group(name)
            h5io.set_attrs(
                group,
                {
                    "probe_type": probe.name,
                    "probe_parameters": json.dumps(
                        probe.parameters(), sort_keys=True, default=float
                    ),
                    "detailed_probe": json.dumps(result.rows.specs[name], default=float),
                },
            )
            n_channels = rows.stop - rows.start
            labels, label_units = probe.channel_labels(n_channels)
            channel = h5io.write_scale(group, "channel", labels, label_units, probe.axis.name)
            time = h5io.write_scale(group, "time", times, "ms", "time (left edge of the bin)")
            post = h5io.write_scale(group, "post", posts, "", "postsynaptic population Y")
            shares = np.array(
                [
                    factor[p] * result.signals[p][rows]
                    if p in result.signals
                    else np.zeros((n_channels, times.size))
                    for p in posts
                ]
            )
            if result.per_cell is None:
                h5io.write_dataset(
                    group,
                    "total",
                    (channel, time),
                    probe.axis.units,
                    f"{probe.name} of the detailed population",
                    data=shares.sum(axis=0),
                )
                h5io.write_dataset(
                    group,
                    "populations",
                    (post, channel, time),
                    probe.axis.units,
                    "share of each postsynaptic population (scaled by N_Y / M_Y)",
                    data=shares,
                )
            else:
                cell = group.create_dataset("cell", data=np.arange(result.per_cell.shape[0]))
                cell.make_scale("cell")
                h5io.write_dataset(
                    group,
                    "cells",
                    (cell, channel, time),
                    probe.axis.units,
                    f"{probe.name} of each simulated cell (unscaled)",
                    data=result.per_cell[:, rows],
                )


def _write_cells(fh, cells, soma_v=None):
    group = fh.create_group("cells")
    row = group.create_dataset("row", data=np.arange(len(cells)))
    row.make_scale("row")
    axis = h5io.write_scale(group, "axis", np.array(["x", "y", "z"]), "", "rotation axis")
    names = group.create_dataset(
        "population", data=np.array(cells.population, dtype=object), dtype=h5py.string_dtype()
    )
    names.dims[0].attach_scale(row)
    _int_dataset(group, "index", cells.index, "", "cell index in its population", row)
    for key in ("x", "y", "z"):
        h5io.write_dataset(group, key, (row,), "um", f"soma {key}", data=getattr(cells, key))
    h5io.write_dataset(
        group, "rotation", (row, axis), "rad", "rotation about x, y, z", data=cells.rotation
    )
    if soma_v is not None:
        h5io.write_dataset(
            group,
            "soma_v",
            (row,),
            "mV",
            "mean somatic membrane potential in the window",
            data=soma_v[:, 0],
        )
        h5io.write_dataset(
            group,
            "soma_v_median",
            (row,),
            "mV",
            "median somatic membrane potential in the window (to 0.01 mV)",
            data=soma_v[:, 1],
        )
        _int_dataset(
            group,
            "soma_spikes",
            soma_v[:, 2].astype(np.int64),
            "",
            "action potentials in the window (upward crossings of 0 mV at the soma)",
            row,
        )


def _write_synapses(fh, table):
    group = fh.create_group("synapses")
    row = group.create_dataset("row", data=np.arange(len(table)))
    row.make_scale("row")
    for key, (units, long_name) in SYNAPSE_COLUMNS.items():
        data = getattr(table, key)
        if key in ("weight", "delay"):
            h5io.write_dataset(group, key, (row,), units, long_name, data=data)
        else:
            _int_dataset(group, key, data, units, long_name, row)


def read_cells(path):
    """The cell table of a ground-truth file."""
    with h5io.open_h5(path, "ground truth") as fh:
        g = fh["cells"]
        return CellTable(
            [h5io.text(v) for v in h5io.read(g["population"])],
            h5io.read(g["index"]),
            h5io.read(g["x"]),
            h5io.read(g["y"]),
            h5io.read(g["z"]),
            h5io.read(g["rotation"]),
        )


def read_soma_spikes(path):
    """{population: action potentials of its simulated cells in the window} of a
    ground-truth file (empty for a file without somatic recordings)."""
    with h5io.open_h5(path, "ground truth") as fh:
        g = fh["cells"]
        if "soma_spikes" not in g:
            return {}
        populations = [h5io.text(v) for v in h5io.read(g["population"])]
        spikes = h5io.read(g["soma_spikes"])
    out = {}
    for post, count in zip(populations, spikes, strict=True):
        out[post] = out.get(post, 0) + int(count)
    return out


def read_synapses(path):
    """The synapse table of a ground-truth file."""
    with h5io.open_h5(path, "ground truth") as fh:
        g = fh["synapses"]
        return SynapseTable(*(h5io.read(g[key]) for key in SynapseTable.COLUMNS))


# ------------------------------------------------------------------ hybrid kernels
def write_hybrid_kernels(path, config, settings, kernels, attrs):
    """Hybrid-scheme kernels in the kernel-tensor layout.

    Parameters
    ----------
    kernels : dict of str to ndarray
        {probe: (n_post, n_pre, n_channels, n_lags)} on lags -tau..tau.
    """
    names = list(config.populations)
    lags = h5io.lag_axis(config.simulation["dt"], config.n_steps_tau)
    with h5io.atomic_h5(path) as fh:
        h5io.set_attrs(
            fh,
            {
                **h5io.kernel_attrs(config, "hybrid-scheme"),
                **groundtruth_attrs(config, settings),
                "mode": "hybrid-scheme",
                "groundtruth_mode": settings.mode(),
                "description": "hybrid-scheme kernels: the detailed population's signal "
                "after every neuron of X fired once at t0 through its synapses, less the "
                "signal without that volley (same background), divided by N_X",
                **attrs,
            },
        )
        for name, data in kernels.items():
            probe = probe_type(config.probes[name], config.probes)
            group = fh.create_group(name)
            post, pre = h5io.population_scales(group, names, names)
            channel = h5io.write_probe_scales(group, probe, data.shape[2])
            lag = h5io.write_scale(group, "lag", lags, "ms", h5io.LAG_NAME)
            h5io.write_dataset(
                group,
                "kernel",
                (post, pre, channel, lag),
                probe.axis.units,
                f"{probe.name} per presynaptic spike (hybrid scheme)",
                data=data,
            )


def write_predicted_error(
    path, attrs, tensor, rows, prediction, e_rel, t_start, t_stop, dt, blocks
):
    """Write what ``predict-error`` predicted.

    Per probe ``e_rel`` and ``e_rel_mean_kernel`` (channel) with the terms of the
    predicted variance, and ``total`` (channel, time): the prediction with the detailed
    population's own mean single-neuron kernels, in the signals layout (so ``compare``
    takes it as a prediction).

    Parameters
    ----------
    attrs : dict
        Root attributes.
    tensor : KernelTensor
        The kernels whose error was predicted (probe types, channel scales, units).
    rows : dict of str to slice
        Channels of each probe in ``prediction``'s arrays.
    prediction : ErrorPrediction
    e_rel : dict of str to ndarray
        ``e_rel`` and ``e_rel_mean_kernel`` (n_channels,), NaN where not defined.
    t_start, t_stop, dt : float
        The signals' window and bin width (ms).
    blocks : iterable of SignalBlock
        The mean-kernel prediction, block by block.
    """
    times = t_start + np.arange(int(round((t_stop - t_start) / dt))) * dt
    with h5io.atomic_h5(path) as fh:
        h5io.set_attrs(fh, attrs)
        totals = {}
        for name, s in rows.items():
            probe = tensor.probes[name]
            units = probe.units
            group = fh.create_group(name)
            h5io.set_attrs(
                group, {"probe_type": probe.probe_type, "probe_parameters": probe.parameters}
            )
            channel = h5io.write_scale(
                group, "channel", probe.channel, probe.channel_units, probe.channel_name
            )
            time_scale = h5io.write_scale(
                group, "time", times, "ms", "time (left edge of the bin)"
            )
            for key, values, value_units, long_name in (
                ("e_rel", e_rel["e_rel"][s], "", "predicted E_rel of the kernel prediction"),
                (
                    "e_rel_mean_kernel",
                    e_rel["e_rel_mean_kernel"][s],
                    "",
                    "predicted E_rel with the population's own mean kernels",
                ),
                ("error_std", np.sqrt(prediction.error[s]), units, "predicted sigma(e)"),
                ("signal_std", np.sqrt(prediction.signal[s]), units, "predicted sigma(phi)"),
                ("var_shared", prediction.shared[s], f"({units})^2", "shared kernel error"),
                (
                    "var_heterogeneity",
                    prediction.heterogeneity[s],
                    f"({units})^2",
                    "single-neuron kernel heterogeneity",
                ),
                ("var_background", prediction.background[s], f"({units})^2", "background"),
                (
                    "var_sample_excess",
                    prediction.sample_excess[s],
                    f"({units})^2",
                    "variance of the sampled cells beyond that of the whole population",
                ),
            ):
                h5io.write_dataset(
                    group, key, (channel,), value_units, long_name, data=values, finite=False
                )
            totals[name] = h5io.write_dataset(
                group,
                "total",
                (channel, time_scale),
                units,
                "prediction with the detailed population's mean single-neuron kernels",
                shape=(s.stop - s.start, times.size),
            )
        for block in blocks:
            for name, total in totals.items():
                values = block.total[name]
                total[:, block.start : block.start + values.shape[1]] = values


def check_same_window(reference, other):
    """Raise InputError unless ``other`` has the time axis of ``reference``."""
    for name, probe in reference.probes.items():
        if name not in other.probes:
            continue
        a, b = probe["time"], other.probes[name]["time"]
        if a.shape != b.shape or not np.allclose(a, b, rtol=0, atol=1e-6 * reference.dt):
            raise InputError(
                other.label,
                f"{name}: time axis {b[0] if b.size else '-'}..{b[-1] if b.size else '-'} ms "
                f"({b.size} bins) differs from the ground truth's {a[0]}..{a[-1]} ms "
                f"({a.size} bins): predict the signals of the same window (signals.t_start, "
                "t_stop)",
            )


def check_groundtruth(gt, config, mode):
    """Raise InputError unless ``gt`` is a ground-truth file of ``config`` in ``mode``."""
    if "mode" not in gt.attrs or "signal_scales" not in gt.attrs:
        raise InputError(gt.label, "not a ground-truth file (hpckernels groundtruth)")
    if h5io.text(gt.attrs.get("groundtruth_hash", "")) != groundtruth_hash(config):
        raise InputError(
            gt.label,
            "not the detailed population of this config (cells, connections, probes, window, "
            "groundtruth or spikes settings differ): run hpckernels groundtruth again",
        )
    found = h5io.text(gt.attrs["mode"])
    if found != mode:
        raise InputError(gt.label, f"a {found} run; expected the {mode} run")


def check_hybrid_kernels(path, config):
    """Raise InputError unless ``path`` holds hybrid-scheme kernels of ``config``."""
    with h5io.open_h5(path, "hybrid-scheme kernels") as fh:
        if h5io.text(fh.attrs.get("mode", "")) != "hybrid-scheme":
            raise InputError(str(path), "not hybrid-scheme kernels (groundtruth --hybrid-kernels)")
        if h5io.text(fh.attrs.get("groundtruth_hash", "")) != groundtruth_hash(config):
            raise InputError(str(path), "hybrid-scheme kernels of another detailed population")


def read_predicted_error(path):
    """{probe: {"e_rel": (n_channels,), "e_rel_mean_kernel": (n_channels,),
    "var_sample_excess": (n_channels,)}} of a ``predict-error`` file.

    Raises
    ------
    InputError
        Not a predict-error file.
    """
    out = {}
    with h5io.open_h5(path, "predicted error") as fh:
        for name, group in fh.items():
            if not isinstance(group, h5py.Group) or "probe_type" not in group.attrs:
                continue
            if "e_rel" not in group:
                raise InputError(str(path), "not a predict-error file (no e_rel)")
            out[name] = {
                key: h5io.read(group[key])
                for key in ("e_rel", "e_rel_mean_kernel", "var_sample_excess")
                if key in group
            }
    if not out:
        raise InputError(str(path), "not a predict-error file (no e_rel)")
    return out


def write_comparison(path, config, comparison, attrs):
    """Write what ``compare`` computed (:class:`hpckernels.validation.comparison.Comparison`):
    per probe the metrics per (reference, prediction, filter, channel), their summaries
    across active channels, coherences, the dipole's cross-correlation and the predicted
    E_rel."""
    names, references = comparison.names, comparison.references
    with h5io.atomic_h5(path) as fh:
        h5io.set_attrs(
            fh,
            {
                **h5io.provenance(config),
                **attrs,
                "predictions": json.dumps({k: str(v.path) for k, v in comparison.files.items()}),
                "e_rel_predicted_for": comparison.predicted_for,
                "cells_per_population": h5io.text(comparison.gt.attrs["cells_per_population"]),
                "population_sizes": h5io.text(comparison.gt.attrs["population_sizes"]),
                "description": "metrics of each prediction (and the linearized "
                "reconstruction) against the ground truth and against the linearized "
                "reconstruction, per probe channel, raw and low-pass filtered",
            },
        )
        for probe, result in comparison.metrics.items():
            data = comparison.gt.probes[probe]
            group = fh.create_group(probe)
            h5io.set_attrs(group, {"probe_type": data["type"]})
            channel = h5io.write_scale(
                group, "channel", np.asarray(data["channels"]), "", "channel"
            )
            prediction = h5io.write_scale(group, "prediction", names, "", "prediction")
            reference = h5io.write_scale(group, "reference", references, "", "reference")
            filt = h5io.write_scale(group, "filter", list(comparison.filters), "", "filter")
            stat = h5io.write_scale(
                group, "statistic", ["median", "q10", "q90"], "", "across channels"
            )
            active = result["active"]
            group.create_dataset("active", data=active).attrs["long_name"] = (
                "channel with a ground truth that varies (in the summaries)"
            )
            for key in ("r2", "r_std", "e_rel"):
                h5io.write_dataset(
                    group,
                    key,
                    (reference, prediction, filt, channel),
                    "",
                    key,
                    data=result[key],
                    finite=False,
                )
                h5io.write_dataset(
                    group,
                    f"{key}_summary",
                    (reference, prediction, filt, stat),
                    "",
                    f"{key}: median and 10/90 % quantiles across active channels",
                    data=result["summaries"][key],
                    finite=False,
                )
            if result["full"] is not None:
                for key in ("r2", "r_std", "e_rel"):
                    h5io.write_dataset(
                        group,
                        f"{key}_full",
                        (reference, prediction, channel),
                        "",
                        f"{key} (raw) estimated against the whole population: the variance "
                        "that the ground truth's sample of cells adds (predict-error's "
                        "var_sample_excess) removed",
                        data=result["full"][key],
                        finite=False,
                    )
                    h5io.write_dataset(
                        group,
                        f"{key}_full_summary",
                        (reference, prediction, stat),
                        "",
                        f"{key}_full: median and 10/90 % quantiles across active channels",
                        data=result["full_summaries"][key],
                        finite=False,
                    )
            if result["coherence"] is not None:
                frequency = h5io.write_scale(
                    group, "frequency", result["frequency"], "Hz", "frequency"
                )
                h5io.write_dataset(
                    group,
                    "coherence",
                    (reference, prediction, channel, frequency),
                    "",
                    "coherence",
                    data=result["coherence"],
                    finite=False,
                )
            if result["xcorr_z"] is not None:
                lag = h5io.write_scale(
                    group, "lag", result["xcorr_lags"], "ms", "lag of the prediction"
                )
                h5io.write_dataset(
                    group,
                    "xcorr_z",
                    (reference, prediction, lag),
                    "",
                    "cross-correlation of the z-scored dipole z component",
                    data=result["xcorr_z"],
                    finite=False,
                )
            for key, value in result["predicted"].items():
                h5io.write_dataset(
                    group,
                    f"{key}_predicted",
                    (channel,),
                    "",
                    f"predicted {key} against the {comparison.predicted_reference}",
                    data=value,
                    finite=False,
                )
            if comparison.err is not None and probe in comparison.err.probes:
                group.attrs["e_rel_predicted_for"] = comparison.predicted_for or ""
