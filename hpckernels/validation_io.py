"""HDF5 layouts of the validation: ground truth, hybrid-scheme kernels, predicted errors
and the comparison, on top of :mod:`hpckernels.h5io` (atomic writes, dimension scales,
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

from . import h5io
from .errors import InputError
from .probes import probe_type

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


def write_groundtruth(path, config, settings, result, attrs):
    """Write a ground-truth run (:class:`hpckernels.groundtruth.PopulationResult`).

    Parameters
    ----------
    path : str or Path
    config : NetworkConfig
    settings : hpckernels.groundtruth.Settings
    result : hpckernels.groundtruth.PopulationResult
    attrs : dict
        More root attributes (spike files, timings, ...).
    """
    from .groundtruth import postsynaptic_populations, scales

    window = result.window
    posts = postsynaptic_populations(config)
    factor = scales(config, settings)
    times = window.t_start + np.arange(window.n_bins) * window.dt
    kinds = {"-1": "background"} | {
        str(k): f"{c['pre']}->{c['post']}" for k, c in enumerate(config.connections)
    }
    with h5io.atomic_h5(path) as fh:
        h5io.set_attrs(
            fh,
            {
                **h5io.provenance(config),
                "mode": settings.mode(),
                "seed": settings.seed,
                "contacts": settings.contacts,
                "warmup_ms": window.t_start - window.t_begin,
                "t_start": window.t_start,
                "t_stop": window.t_stop,
                "cells_per_population": json.dumps(settings.cells),
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
        _write_cells(fh, result.cells)
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
        for name, rows in result.rows.slices.items():
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
            channel = h5io.write_scale(group, "channel", labels, label_units, probe.channel_name)
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
                    probe.units,
                    f"{probe.name} of the detailed population",
                    data=shares.sum(axis=0),
                )
                h5io.write_dataset(
                    group,
                    "populations",
                    (post, channel, time),
                    probe.units,
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
                    probe.units,
                    f"{probe.name} of each simulated cell (unscaled)",
                    data=result.per_cell[:, rows],
                )


def _write_cells(fh, cells):
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
    from .groundtruth import CellTable

    with h5io.open_h5(path, "ground truth") as fh:
        g = fh["cells"]
        return CellTable(
            [h5io.text(v) for v in g["population"][()]],
            g["index"][()],
            g["x"][()],
            g["y"][()],
            g["z"][()],
            g["rotation"][()],
        )


def read_synapses(path):
    """The synapse table of a ground-truth file."""
    from .groundtruth import SynapseTable

    with h5io.open_h5(path, "ground truth") as fh:
        g = fh["synapses"]
        return SynapseTable(*(g[key][()] for key in SynapseTable.COLUMNS))


# ------------------------------------------------------------------ signal-like files
class SignalFile:
    """The probe signals of a signals file (``hpckernels signals``) or a ground-truth file.

    Parameters
    ----------
    path : str or Path
    label : str
        How the file is named in messages and tables.

    Attributes
    ----------
    attrs : dict
        Root attributes.
    probes : dict of str to dict
        {name: {"total": (n_channels, n_times), "time", "channels", "units", "type"}}.
    """

    def __init__(self, path, label=None):
        from .plotting.common import probe_groups, read_probe

        self.path = path
        self.label = label or str(path)
        with h5io.open_h5(path, "signals") as fh:
            self.attrs = dict(fh.attrs)
            groups = probe_groups(fh)
            if not groups:
                raise InputError(str(path), "no probe group: not a signals or ground-truth file")
            self.probes = {}
            for name in groups:
                if "total" not in fh[name]:
                    raise InputError(
                        str(path),
                        f"{name} has no 'total' (a --cells run has only per-cell signals)",
                    )
                self.probes[name] = read_probe(fh, name)
            self.populations = {
                name: fh[name]["populations"][()] for name in groups if "populations" in fh[name]
            }

    @property
    def config_hash(self):
        return h5io.text(self.attrs.get("config_hash", ""))

    @property
    def dt(self):
        return float(self.attrs["dt"])


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
                "seed": settings.seed,
                "contacts": settings.contacts,
                "cells_per_population": json.dumps(settings.cells),
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
                probe.units,
                f"{probe.name} per presynaptic spike (hybrid scheme)",
                data=data,
            )
