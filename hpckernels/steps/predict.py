"""The ``signals`` command's work: signals of a config from its spikes and kernel tensor.

Reads the kernel tensor and the spikes, scales the counts of down-sampled populations,
and streams the signals of the config's window (:mod:`hpckernels.signals`) into a
signals file of the config's output format (:data:`hpckernels.io.signals.SIGNAL_FORMATS`).
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import numpy as np

from .. import binning
from ..console import STDERR
from ..convolution import centered_kernel
from ..errors import InputError
from ..io import spikes
from ..io.h5 import IN_MEMORY_LIMIT, provenance, require_space, text
from ..io.kernels import read_tensor, tensor_differences, tensor_file_attrs, tensor_paths
from ..io.signals import SIGNAL_FORMATS
from ..resources import require_memory
from ..signals import config_chunk_size, signal_margins, stream_window


def predict_signals(config, kernels_file, spike_files, output, allow_stale=False, log=STDERR):
    """Write the signals of every probe of a kernel tensor over the config's window.

    Parameters
    ----------
    config : NetworkConfig
    kernels_file : str or Path, or list of them
        Kernel tensor of ``hpckernels assemble`` (or one file per probe).
    spike_files : list of str or None
        Spike files replacing the config's ``spikes.files`` (required without a
        ``spikes`` section: the SONATA file of ``hpckernels network``).
    output : Path
        Signals file (written atomically).
    allow_stale : bool
        Use a tensor computed from other inputs than the config (recorded in the
        output's ``stale_kernels`` attribute) instead of refusing it.
    log : file, optional
        Where the summary line and warnings go.

    Raises
    ------
    InputError
        A tensor that does not belong to the config, spikes that do not fit it, or an
        output that is also an input.

    Examples
    --------
    What ``hpckernels signals CONFIG --kernels kernels.h5 --spikes spikes.h5 -o
    signals.h5`` does, with a tensor of ``hpckernels assemble`` and the spikes of
    ``hpckernels network`` (``tests/test_signals.py`` runs it)::

        from hpckernels.config import NetworkConfig
        from hpckernels.steps.predict import predict_signals

        config = NetworkConfig.from_file("config/config.yaml")
        predict_signals(config, "kernels.h5", ["spikes.h5"], "signals.h5")
    """
    started = time.monotonic()
    t_start, t_stop = config.signal_window()
    dt = float(config.simulation["dt"])
    n = binning.bin_count(t_start, t_stop, dt)
    files = tensor_paths(kernels_file)
    kernels_file = ", ".join(str(p) for p in files)
    tensor = read_tensor(files)
    tensor_dt = float(tensor.attrs.get("dt", dt))
    if abs(tensor_dt - dt) > 1e-9 * dt:
        raise InputError(
            str(kernels_file),
            f"kernel dt = {tensor_dt} ms differs from the config's simulation.dt = {dt} ms",
        )
    stale = tensor_differences(tensor, config)
    if stale and not allow_stale:
        raise InputError(
            str(kernels_file),
            f"not the kernel tensor of this config: {'; '.join(stale[:3])} (--allow-stale "
            "uses it anyway)",
        )
    for message in stale:
        print(f"hpckernels: warning: {kernels_file} (--allow-stale): {message}", file=log)
    kernels = {}
    for name, probe in tensor.probes.items():
        try:
            kernels[name] = centered_kernel(probe.kernel, probe.lags, dt)
        except ValueError as err:
            raise InputError(f"{kernels_file}: group {name}", str(err)) from None
    settings = config.data.get("signals", {})
    pathways = bool(settings.get("pathways", True))
    n_lags = max(k.shape[-1] for k in kernels.values())
    chunk = config_chunk_size(config, kernels)
    n_pre, n_post = len(tensor.pre), len(tensor.post)
    channels = sum(probe.kernel.shape[2] for probe in tensor.probes.values())
    per_bin = n_pre + channels * (1 + (n_post * n_pre if pathways else 0))
    size = 8 * n * per_bin  # bytes of the output
    require_memory(
        8 * 6 * chunk * (per_bin + n_lags),
        "signals.chunk_size",
        f"the convolution of chunks of {chunk} bins",
    )
    if size > IN_MEMORY_LIMIT:
        require_space(Path(output).parent, size)
    source = spikes.spike_source(config, spike_files)
    for path in [*source.files, *files]:
        if path.resolve() == Path(output).resolve():
            raise InputError("-o/--output", f"{output} is also an input file")

    names = list(dict.fromkeys(tensor.pre + tensor.post))
    spikes.check_population_names(
        list(source.populations),
        names,
        found_label=f"spikes ({', '.join(str(p) for p in source.files)})",
        expected_label=f"kernel tensor {tensor.path}",
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", spikes.SpikeWarning)
        times = source.read()
        everything = np.concatenate([np.empty(0), *times.values()])
        spikes.warn_if_seconds(
            ", ".join(str(p) for p in source.files), everything, t_start, t_stop
        )
    for warning in caught:
        print(f"hpckernels: warning: {warning.message}", file=log)
    spikes.check_recording(times, t_start, t_stop, source.recording_end)
    scales = spikes.count_scales(config, source, tensor.pre)

    before, after = signal_margins(kernels, t_start, dt)
    attrs = {
        **provenance(config),
        "t_start": t_start,
        "t_stop": t_stop,
        **tensor_file_attrs(files),
        "kernels_config_hash": text(tensor.attrs.get("config_hash", "")) or None,
        "spike_files": json.dumps([str(p) for p in source.files]),
        "spike_format": source.format.name,
        "stale_kernels": json.dumps(stale) if stale else None,
        # what the kernels were computed from, for the readers of the signals (compare)
        "kernels_mode": text(tensor.attrs.get("mode", "")),
        "kernels_g_eff": bool(tensor.attrs.get("g_eff", config.simulation["g_eff"])),
        "kernels_pathway_hashes": json.dumps(
            {
                name: json.loads(probe.pathway_hashes or "{}")
                for name, probe in tensor.probes.items()
            },
            sort_keys=True,
        ),
        "count_scales": json.dumps(scales, sort_keys=True),
        "chunk_size": chunk,
        "pathways": pathways,
        "margin_before_ms": before * dt,
        "margin_after_ms": after * dt,
        "description": "V(R, t) = sum_X sum_Y (nu_X * H_YX)(R, t): scaled spike counts "
        "per bin convolved with the kernel tensor; lag 0 of a kernel lines "
        "up with the spike's own bin; spikes up to the kernels' reach "
        "outside [t_start, t_stop) contribute (margins)",
    }
    fmt = SIGNAL_FORMATS.lookup(settings.get("format", "hdf5"), "signals.format")()
    with fmt.open(output, attrs, tensor, n, pathways, scales, size=size) as writer:
        in_window = stream_window(writer, config, times, tensor.pre, kernels, scales, pathways)
    for name, count in zip(tensor.pre, in_window, strict=True):
        if count == 0:
            print(
                f"hpckernels: warning: no spikes of population {name} in [{t_start:g}, "
                f"{t_stop:g}) ms (signals.t_start, t_stop)",
                file=log,
            )
    n_spikes = sum(v.size for v in times.values())
    print(
        f"[hpckernels] signals: {t_stop - t_start:g} ms ({t_start:g}..{t_stop:g} ms) = {n} "
        f"bins of {dt:g} ms, {n_spikes} spikes read (count scales "
        f"{', '.join(f'{x} {scales[x]:.4g}' for x in tensor.pre)}), probes "
        f"{', '.join(tensor.probes)}{' with pathways' if pathways else ''}: wrote {output} "
        f"({time.monotonic() - started:.2f} s)",
        file=log,
    )
