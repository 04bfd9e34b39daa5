"""NWB 2 files of a run: predicted signals, the network's spikes, kernels and config.

``hpckernels export-nwb`` writes one NWB file (with pynwb, the optional extra
``hpckernels[nwb]``):

``processing/ecephys``
    Potential probes (``GaussCylinderPotential``, the LFPykit potentials) as an
    ``ElectricalSeries`` each inside the ``LFP`` container, on rows of the
    ``electrodes`` table; the table holds each contact's position in µm in the probe's
    frame (``rel_x``, ``rel_y``, ``rel_z``: z is the depth axis of the model, up) and
    the probe it belongs to (column ``probe`` and its ``ElectrodeGroup``). Every other
    probe (CSD, current dipole moment, EEG, MEG) is a ``TimeSeries`` whose ``unit`` is
    the SI unit and ``conversion`` the factor from the stored values (those of the
    signals file, bit for bit) to it. Per-pathway signals are one series per pathway,
    ``<probe>_<pre>_to_<post>``.
``units``
    The network's spikes, one row per simulated neuron (silent ones included) with the
    columns ``population`` and ``node_id``; spike times in seconds. The ``nwb`` spike
    format (:class:`hpckernels.io.spikes.NWBUnits`) reads it back.
``scratch``
    Provenance: ``kernels_<probe>`` (the kernel tensor (post, pre, channel, lag) of each
    probe), ``config`` (the config file's text) and ``provenance`` (JSON: the config
    hash, the versions, the input files and their SHA-256).

Subject and session metadata come from the config's optional ``nwb`` section. The file
is written to a hidden temporary name and renamed.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np

from ..errors import InputError
from ..probes import PROBES
from ..probes.types import linspace_or_array
from .h5 import atomic_path, seal, text

#: hpckernels units -> (NWB unit, factor from the stored values to it).
SI_UNITS = {
    "mV": ("volts", 1e-3),
    "nA um": ("A*m", 1e-15),  # 1e-9 A * 1e-6 m
    "nA/um3": ("A/m^3", 1e9),  # 1e-9 A / 1e-18 m^3
    "nA/um": ("A/m", 1e-3),  # magnetic field strength H
}

#: What the file's TimeSeries are called in their descriptions, by probe type.
_WHAT = {
    "GaussCylinderCSD": "current source density",
    "LaminarCurrentSourceDensity": "current source density",
    "CurrentDipoleMoment": "current dipole moment",
    "FourSphereVolumeConductor": "EEG potential",
    "InfiniteHomogeneousVolCondMEG": "MEG magnetic field strength H",
    "SphericallySymmetricVolCondMEG": "MEG magnetic field strength H",
}


def require_pynwb():
    """Import pynwb, or raise InputError telling how to install it."""
    try:
        import pynwb
    except ImportError:
        raise InputError("export-nwb", "needs pynwb: pip install 'hpckernels[nwb]'") from None
    return pynwb


def si_unit(units, where):
    """(NWB unit, conversion) of hpckernels units."""
    key = " ".join(units.replace("\u00b5", "u").split())
    if key not in SI_UNITS:
        raise InputError(where, f"units {units!r} have no SI conversion for NWB")
    return SI_UNITS[key]


def is_potential(probe_type):
    """Whether a probe type is an extracellular potential at contacts (an
    ElectricalSeries in NWB): potentials in mV that are not a head model."""
    cls = PROBES.get(probe_type)
    return cls is not None and cls.axis.units == "mV" and not cls.derived


def contact_positions(parameters, n_channels):
    """(n_channels, 3) contact positions (µm) from a probe's parameters: ``x``, ``y``,
    ``z`` (scalars, lists or ``{start, stop, num}``); a missing coordinate is 0."""
    out = np.zeros((n_channels, 3))
    for axis, key in enumerate("xyz"):
        if key not in parameters:
            continue
        value = np.asarray(linspace_or_array(parameters[key]), dtype=float)
        if value.ndim == 2:  # laminar cylinders [[bottom, top], ...]: their mid depth
            value = value.mean(axis=-1)
        out[:, axis] = np.broadcast_to(value.ravel() if value.ndim else value, n_channels)
    return out


def _time_first(dataset, index=()):
    """An hdmf chunk iterator over ``dataset[index]`` (channel, time) as (time, channel):
    NWB keeps time first. It reads one buffer of about 8 MiB at a time, so the export's
    memory is bounded whatever the signal's length."""
    from hdmf.data_utils import GenericDataChunkIterator

    class TimeFirst(GenericDataChunkIterator):
        def __init__(self):
            n_channels, n_times = dataset.shape[-2:]
            rows = max(1, min(n_times, 2**20 // n_channels))
            super().__init__(chunk_shape=(rows, n_channels), buffer_shape=(rows, n_channels))

        def _get_data(self, selection):
            times, channels = selection
            return np.asarray(dataset[(*index, channels, times)]).T

        def _get_maxshape(self):
            n_channels, n_times = dataset.shape[-2:]
            return (n_times, n_channels)

        def _get_dtype(self):
            return np.dtype("f8")

    return TimeFirst()


def _session_start(metadata):
    value = metadata.get("session_start_time")
    if value is None:
        return datetime.now(UTC).replace(microsecond=0)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _nwbfile(pynwb, metadata, config_text, info):
    from pynwb.file import Subject

    fields = {
        key: metadata[key]
        for key in (
            "experimenter",
            "institution",
            "lab",
            "experiment_description",
            "keywords",
            "related_publications",
            "session_id",
        )
        if key in metadata
    }
    subject = metadata.get("subject")
    return pynwb.NWBFile(
        session_description=metadata.get(
            "session_description",
            f"Extracellular signals predicted with the linearized kernel method "
            f"(hpckernels) from the spikes of the network of {info['config_file']}",
        ),
        identifier=metadata.get("identifier", str(uuid.uuid4())),
        session_start_time=_session_start(metadata),
        source_script=f"hpckernels {info['hpckernels_version']} export-nwb",
        source_script_file_name="hpckernels",
        was_generated_by=[[name, info[key]] for name, key in _SOFTWARE if key in info],
        subject=Subject(**subject) if subject else None,
        **fields,
    )


#: Software recorded in ``was_generated_by``: (name, provenance key).
_SOFTWARE = (
    ("hpckernels", "hpckernels_version"),
    ("NEURON", "neuron_version"),
    ("LFPy", "lfpy_version"),
    ("LFPykit", "lfpykit_version"),
)


def _series_kwargs(probe, units, t_start, dt):
    unit, conversion = si_unit(units, f"{probe}: units")
    return {
        "unit": unit,
        "conversion": conversion,
        "starting_time": t_start / 1000.0,
        "rate": 1000.0 / dt,
    }


def _electrodes(nwb, name, group, parameters, channel_labels, location):
    """Rows of the electrodes table for the contacts of one potential probe."""
    n = len(channel_labels)
    device = nwb.create_device(
        name=f"{name}_model",
        description=f"model probe '{name}' of the config ({group.attrs['probe_type']})",
    )
    electrode_group = nwb.create_electrode_group(
        name=name,
        description=f"contacts of the model probe '{name}' (positions rel_x, rel_y, rel_z "
        f"in µm in the model's frame, z up the column): {_describe(parameters)}",
        location=location,
        device=device,
    )
    first = len(nwb.electrodes) if nwb.electrodes is not None else 0
    for x, y, z in contact_positions(parameters, n):
        nwb.add_electrode(
            rel_x=float(x),
            rel_y=float(y),
            rel_z=float(z),
            location=location,
            group=electrode_group,
            probe=name,
        )
    return nwb.create_electrode_table_region(
        list(range(first, first + n)), f"contacts of probe {name}"
    )


def _describe(parameters):
    return json.dumps(parameters, sort_keys=True, default=float)


def write_nwb(path, signals, config_text, info, metadata=None, tensor=None, trains=None):
    """Write a run's predicted signals (and spikes, kernels, config) as one NWB file.

    Parameters
    ----------
    path : str or Path
        The ``.nwb`` file (written atomically).
    signals : h5py.File
        An open signals file of ``hpckernels signals``.
    config_text : str
        The config file's text (stored as provenance).
    info : dict
        Provenance (config hash, versions, input files, ...), stored as JSON.
    metadata : dict, optional
        The config's ``nwb`` section.
    tensor : KernelTensor, optional
        The kernel tensor (stored as provenance).
    trains : dict of str to SpikeTrains, optional
        Per-neuron spike trains of every population (the Units table).

    Returns
    -------
    dict
        What was written: ``{"electrical": [...], "timeseries": [...], "units": n}``.
    """
    pynwb = require_pynwb()
    from pynwb.base import TimeSeries
    from pynwb.core import ScratchData
    from pynwb.ecephys import LFP, ElectricalSeries
    from pynwb.misc import Units

    metadata = metadata or {}
    nwb = _nwbfile(pynwb, metadata, config_text, info)
    t_start, dt = float(signals.attrs["t_start"]), float(signals.attrs["dt"])
    ecephys = nwb.create_processing_module(
        name="ecephys", description="extracellular signals predicted by the kernel method"
    )
    lfp = None
    written = {"electrical": [], "timeseries": [], "units": 0}
    probes = {
        name: group
        for name, group in signals.items()
        if hasattr(group, "keys") and "probe_type" in group.attrs and "total" in group
    }
    if any(is_potential(text(g.attrs["probe_type"])) for g in probes.values()):
        nwb.add_electrode_column(name="probe", description="the config's probe of the contact")
    for name, group in probes.items():
        probe_type = text(group.attrs["probe_type"])
        parameters = json.loads(text(group.attrs.get("probe_parameters", "{}")))
        units = text(group["total"].attrs.get("units", ""))
        kwargs = _series_kwargs(name, units, t_start, dt)
        labels = [text(v) for v in group["channel"][()]]
        pathways = []
        if "pathways" in group:
            post = [text(v) for v in group["post"][()]]
            pre = [text(v) for v in group["pre"][()]]
            pathways = [(i, j, y, x) for i, y in enumerate(post) for j, x in enumerate(pre)]
        series = [(name, (), f"{name} ({probe_type}) summed over pathways")]
        series += [
            (f"{name}_{x}_to_{y}", (i, j), f"{name} ({probe_type}): contribution of {x} -> {y}")
            for i, j, y, x in pathways
        ]
        if is_potential(probe_type):
            region = _electrodes(
                nwb, name, group, parameters, labels, metadata.get("location", "unknown")
            )
            if lfp is None:
                lfp = ecephys.add(LFP(name="LFP"))
            if kwargs.pop("unit") != "volts":
                raise InputError(f"{name}: units", f"{units} is not a potential")
            kind, add = "electrical", lfp.add_electrical_series
            extra = {"electrodes": region, "filtering": "none (model prediction)"}
            note = "; population LFP of the kernel method"
            make = ElectricalSeries
        else:
            kind, add, make = "timeseries", ecephys.add, TimeSeries
            extra = {"comments": f"stored in {units}; unit * conversion gives SI"}
            note = (
                f": {_WHAT.get(probe_type, probe_type)}; columns {', '.join(labels)}; "
                f"probe parameters {_describe(parameters)}"
            )
        for series_name, index, description in series:
            dataset = group["pathways" if index else "total"]
            add(
                make(
                    name=series_name,
                    data=_time_first(dataset, index),
                    description=description + note,
                    **extra,
                    **kwargs,
                )
            )
            written[kind].append(series_name)
    if trains:
        nwb.units = Units(
            name="units",
            description="spikes of the network's neurons (simulated; times in s)",
            # the built-in network runs NEST at simulation.dt; other spikes are binned at it
            resolution=dt / 1000.0,
        )
        nwb.add_unit_column(name="population", description="population of the network")
        nwb.add_unit_column(name="node_id", description="node id of the neuron in the network")
        for population, table in trains.items():
            for k, node in enumerate(table.node_ids):
                nwb.add_unit(
                    spike_times=table.train(k) / 1000.0,
                    population=population,
                    node_id=int(node),
                )
                written["units"] += 1
    if tensor is not None:
        for name, probe in tensor.probes.items():
            nwb.add_scratch(
                ScratchData(
                    name=f"kernels_{name}",
                    data=probe.kernel,
                    description=f"kernel tensor H_YX of probe {name} ({probe.probe_type}) "
                    f"in {probe.units} per spike: axes post {probe_list(tensor.post)}, pre "
                    f"{probe_list(tensor.pre)}, channel, lag {probe.lags[0]:g}..."
                    f"{probe.lags[-1]:g} ms in steps of {dt:g} ms",
                )
            )
    nwb.add_scratch(ScratchData(name="config", data=config_text, description="the config (YAML)"))
    nwb.add_scratch(
        ScratchData(
            name="provenance",
            data=json.dumps(info, sort_keys=True),
            description="config hash, versions, input files and their SHA-256 (JSON)",
        )
    )
    with atomic_path(Path(path)) as tmp:
        with pynwb.NWBHDF5IO(str(tmp), "w") as io:
            io.write(nwb)
        # hpckernels' checksums next to NWB's own content (readers of this file verify
        # them; other tools ignore attributes they do not know)
        with h5py.File(tmp, "r+") as fh:
            seal(fh)
    return written


def probe_list(names):
    return "[" + ", ".join(names) + "]"
