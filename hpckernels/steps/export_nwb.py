"""The ``export-nwb`` command's work: a run's predicted signals as one NWB file.

Checks that the signals (and the kernel tensor, when given) belong to the config, reads
the network's spikes per neuron, and writes the NWB file of
:func:`hpckernels.io.nwb.write_nwb`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import yaml

from ..console import STDERR
from ..errors import InputError
from ..hashing import file_sha256
from ..io import spikes
from ..io.h5 import open_h5, provenance, text
from ..io.kernels import read_tensor, tensor_file_attrs, tensor_paths
from ..io.nwb import require_pynwb, write_nwb


def recorded_spike_files(attrs):
    """The spike files a signals file records, if they all still exist."""
    try:
        files = [Path(p) for p in json.loads(text(attrs.get("spike_files", "[]")))]
    except ValueError:
        return []
    return [str(p) for p in files] if files and all(p.is_file() for p in files) else []


def export_nwb(config, signals_file, output, kernels_file=None, spike_files=None, log=STDERR):
    """Write the signals of ``signals_file`` (with the spikes, the kernel tensor and the
    config as provenance) as the NWB file ``output``.

    Parameters
    ----------
    config : NetworkConfig
        The config the signals were computed from (its ``nwb`` section gives the
        session and subject metadata).
    signals_file : str or Path
        Signals file of ``hpckernels signals``.
    output : Path
        The NWB file (written atomically).
    kernels_file : str or Path, or list of them, optional
        The kernel tensor the signals were computed from (its SHA-256 must be the one
        the signals file records).
    spike_files : list of str, optional
        Spike files of the network (default: the config's ``spikes.files``, else the
        files the signals file records); spikes without neurons (hdf5, npz) give no
        Units table.
    log : file, optional
        Where the summary line goes.

    Returns
    -------
    dict
        What was written (series names, number of units).

    Raises
    ------
    InputError
        Signals or kernels of another config, an output that is an input, or no pynwb.

    Examples
    --------
    ::

        from hpckernels.config import NetworkConfig
        from hpckernels.steps.export_nwb import export_nwb

        config = NetworkConfig.from_file("config/config.yaml")
        export_nwb(config, "signals.h5", "run.nwb", kernels_file="kernels.h5",
                   spike_files=["spikes.h5"])
    """
    started = time.monotonic()
    require_pynwb()
    signals_file = Path(signals_file)
    with open_h5(signals_file, "signals") as fh:
        attrs = dict(fh.attrs)
    found = text(attrs.get("config_hash", ""))
    if found != config.hash:
        raise InputError(
            str(signals_file),
            f"computed from another config (config_hash {found or 'missing'}, this config "
            f"{config.hash}): not the signals of {config.source}",
        )
    tensor = None
    kernel_files = tensor_paths(kernels_file) if kernels_file is not None else []
    if kernel_files:
        recorded = text(attrs.get("kernels_sha256", ""))
        if recorded and tensor_file_attrs(kernel_files)["kernels_sha256"] != recorded:
            raise InputError(
                ", ".join(str(p) for p in kernel_files),
                f"not the kernel tensor {signals_file} was computed from (the same files, "
                "in the same order)",
            )
        tensor = read_tensor(kernel_files)
    if not spike_files and "spikes" not in config.data:
        spike_files = recorded_spike_files(attrs)
    trains, note = None, None
    if spike_files or "spikes" in config.data:
        source = spikes.spike_source(config, spike_files or None)
        if isinstance(source.format, spikes.NestFormat | spikes.Sonata | spikes.NWBUnits):
            names = [n for n in config.populations if n in source.populations]
            trains = spikes.read_spike_trains(config, source, names, t_start=0.0)
        else:
            note = f"spikes.format {source.format.name} has no neurons: no Units table"
        inputs = [Path(p) for p in source.files]
    else:
        inputs = []
        note = "no spike files (--spikes): no Units table"
    inputs += [Path(signals_file), *kernel_files]
    for path in inputs:
        if path.resolve() == Path(output).resolve():
            raise InputError("-o/--output", f"{output} is also an input file")
    info = {
        **provenance(config),
        "signals_file": str(signals_file),
        "input_sha256": {str(p): file_sha256(p) for p in inputs},
    }
    source = Path(str(config.source))
    config_text = source.read_text() if source.is_file() else yaml.safe_dump(config.data)
    with open_h5(signals_file, "signals") as fh:
        written = write_nwb(
            output,
            fh,
            config_text,
            info,
            metadata=config.data.get("nwb"),
            tensor=tensor,
            trains=trains,
        )
    if note:
        print(f"hpckernels: note: {note}", file=log)
    print(
        f"[hpckernels] export-nwb: {len(written['electrical'])} ElectricalSeries, "
        f"{len(written['timeseries'])} TimeSeries, {written['units']} units"
        f"{', kernels' if tensor else ''}: wrote {output} "
        f"({time.monotonic() - started:.2f} s)",
        file=log,
    )
    return written
