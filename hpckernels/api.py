"""The Python API: the main steps of hpckernels as functions, for scripts and notebooks.

Everything here works in memory (no file between the steps unless you ask for one) and
returns numpy arrays or xarray objects with named dimensions and units::

    import hpckernels as hk

    config = hk.load_config("config/two_population.yaml")
    tensor = hk.compute_tensor(config)                      # every pathway and probe
    spikes = hk.spikes_from_nest(senders, times, {"E": (1, 8192), "I": (8193, 9216)})
    signals = hk.predict(config, tensor, spikes, t_start=200.0, t_stop=2000.0)
    signals["lfp"].plot()                                   # xarray: channel x time

``import hpckernels`` stays cheap: these functions are imported on first use
(``hpckernels.load_config`` loads this module). ``examples/quickstart.ipynb`` walks
through them; ``tests/test_api.py`` runs the notebook.

The functions and what they return:

- :func:`load_config`: a validated :class:`~hpckernels.config.NetworkConfig` from a
  file or a dict.
- :func:`compute_kernels`: the mean-field kernels of one pathway, ``{probe:
  xarray.DataArray (channel, lag)}``.
- :func:`compute_tensor`: the kernels of every pathway, a
  :class:`~hpckernels.datatypes.KernelTensor` (the layout of ``hpckernels assemble``).
- :func:`tensor_to_xarray`: a tensor as ``{probe: DataArray (post, pre, channel, lag)}``.
- :func:`spikes_from_nest`: NEST-style ``(senders, times)`` arrays split into
  populations by node-id ranges.
- :func:`predict`: the signals of spike times in memory, ``{probe: DataArray (channel,
  time)}`` (with ``pathways=True`` also ``(post, pre, channel, time)``).
- :func:`open_signals`, :func:`open_kernels`: files of ``hpckernels signals`` and
  ``assemble`` as ``{probe: xarray.Dataset}``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import API
from .errors import InputError

__all__ = list(API)


def _xarray():
    try:
        import xarray
    except ImportError:
        raise InputError(
            "hpckernels.api", "needs xarray: pip install 'hpckernels[notebook]'"
        ) from None
    return xarray


def load_config(source, base_dir=None):
    """A validated network config.

    Parameters
    ----------
    source : str, Path or dict
        A YAML file, or the config as a dict (as ``yaml.safe_load`` gives it).
    base_dir : str or Path, optional
        Folder against which a dict's relative file paths (morphologies, templates,
        spike files) are resolved; default the current folder.

    Returns
    -------
    NetworkConfig

    Raises
    ------
    InputError
        One line naming the key and what is allowed.
    """
    from .config import NetworkConfig

    if isinstance(source, dict):
        return NetworkConfig(source, base_dir=Path(base_dir or "."), source="<dict>")
    return NetworkConfig.from_file(source)


def _lags(config):
    from .io.h5 import lag_axis

    sim = config.simulation
    return lag_axis(sim["dt"], config.n_steps_tau, sim["fir"])


def _channels(config, name, n_channels):
    from .probes import probe_type

    probe = probe_type(config.probes[name], config.probes)
    labels, units = probe.channel_labels(n_channels)
    return probe, np.asarray(labels), units


def compute_kernels(config, pre, post, probes=None, engine=None, log=None):
    """The mean-field kernels of pathway ``pre`` -> ``post`` (in this process: NEURON
    runs here; the mechanisms are compiled on first use).

    Parameters
    ----------
    config : NetworkConfig
    pre, post : str
        Presynaptic population X and postsynaptic population Y.
    probes : list of str, optional
        Default every probe of the config.
    engine : str, optional
        A name of the engine registry ``hpckernels.engines.ENGINES`` (default
        ``basis``).
    log : file, optional
        Progress lines (default none).

    Returns
    -------
    dict of str to xarray.DataArray
        ``{probe: (channel, lag)}``, the signal of the whole population Y per spike of
        one X neuron, with the probe's units and the lags in ms.
    """
    xr = _xarray()
    from .engines import get_engine
    from .runtime import start_neuron

    config.connection(pre, post)
    names = config.probe_names(probes)
    comm = start_neuron(config)
    kernels = get_engine(engine) if engine else get_engine()
    arrays = kernels.mean_field_kernels(config, pre, post, names, comm, log=log)
    out = {}
    for name, kernel in arrays.items():
        probe, labels, units = _channels(config, name, kernel.shape[0])
        out[name] = xr.DataArray(
            kernel,
            dims=("channel", "lag"),
            coords={"channel": labels, "lag": _lags(config)},
            name=name,
            attrs={"units": probe.axis.units, "probe_type": probe.name, "pre": pre, "post": post},
        )
        out[name]["lag"].attrs["units"] = "ms"
        out[name]["channel"].attrs.update(units=units, long_name=probe.axis.name)
    return out


def compute_tensor(config, probes=None, engine=None, log=None):
    """The mean-field kernels of every pathway and probe, in memory.

    Every pathway into a postsynaptic population comes from one model of its cell
    (:meth:`hpckernels.engines.base.Engine.mean_field_tensor`), as the workflow's basis
    and kernel jobs do.

    Parameters
    ----------
    config : NetworkConfig
    probes : list of str, optional
        Default every probe.
    engine : str, optional
        Default :data:`hpckernels.engines.DEFAULT_ENGINE` (``linear``).
    log : file, optional
        Progress lines (default none).

    Returns
    -------
    KernelTensor
        Per probe ``kernel`` (n_post, n_pre, n_channel, n_lag) over every population
        (zero where there is no connection), as ``hpckernels assemble`` writes it; give
        it to :func:`predict`, or to :func:`tensor_to_xarray`.
    """
    from .datatypes import KernelTensor, ProbeTensor
    from .engines import get_engine
    from .runtime import start_neuron

    names = config.probe_names(probes)
    populations = list(config.populations)
    n = len(populations)
    comm = start_neuron(config)
    kernels = get_engine(engine) if engine else get_engine()
    arrays = {}
    for (pre, post), result in kernels.mean_field_tensor(config, names, comm, log).items():
        for name, kernel in result.items():
            arrays.setdefault(name, np.zeros((n, n, *kernel.shape)))
            arrays[name][populations.index(post), populations.index(pre)] = kernel
    tensor = KernelTensor(
        path=None,
        attrs={"config_hash": config.hash, "dt": config.simulation["dt"]},
        post=populations,
        pre=populations,
    )
    lags = _lags(config)
    for name in names:
        probe, labels, units = _channels(config, name, arrays[name].shape[2])
        tensor.probes[name] = ProbeTensor(
            name=name,
            probe_type=probe.name,
            kernel=arrays[name],
            lags=lags,
            units=probe.axis.units,
            channel=labels,
            channel_units=units,
            channel_name=probe.axis.name,
            parameters="{}",
        )
    return tensor


def tensor_to_xarray(tensor):
    """A :class:`~hpckernels.datatypes.KernelTensor` as ``{probe: xarray.DataArray (post,
    pre, channel, lag)}`` with units."""
    xr = _xarray()
    out = {}
    for name, probe in tensor.probes.items():
        array = xr.DataArray(
            probe.kernel,
            dims=("post", "pre", "channel", "lag"),
            coords={
                "post": list(tensor.post),
                "pre": list(tensor.pre),
                "channel": probe.channel,
                "lag": probe.lags,
            },
            name=name,
            attrs={"units": probe.units, "probe_type": probe.probe_type},
        )
        array["lag"].attrs["units"] = "ms"
        array["channel"].attrs.update(units=probe.channel_units, long_name=probe.channel_name)
        out[name] = array
    return out


def spikes_from_nest(senders, times, populations):
    """Spike times (ms) per population from NEST-style arrays.

    Parameters
    ----------
    senders, times : array_like
        Node id and time (ms) of every spike (``spike_recorder.get("events")``).
    populations : dict of str to (int, int)
        Inclusive node-id range of each population.

    Returns
    -------
    dict of str to numpy.ndarray
        Sorted spike times per population (senders outside every range are dropped).
    """
    senders = np.asarray(senders, dtype=np.int64)
    times = np.asarray(times, dtype=np.float64)
    if senders.shape != times.shape:
        raise InputError("senders, times", f"shapes {senders.shape} and {times.shape} differ")
    out = {}
    for name, (first, last) in populations.items():
        if first > last:
            raise InputError(f"populations.{name}", f"first node id {first} > last {last}")
        out[name] = np.sort(times[(senders >= first) & (senders <= last)])
    return out


def predict(
    config,
    tensor,
    spikes,
    t_start=None,
    t_stop=None,
    simulated_sizes=None,
    pathways=False,
):
    """The signals of every probe of ``tensor`` from spike times in memory.

    Parameters
    ----------
    config : NetworkConfig
        Its ``simulation.dt`` is the bin width and the kernels' step; the populations'
        sizes give the count scales.
    tensor : KernelTensor
        From :func:`compute_tensor` or ``hpckernels.io.kernels.read_tensor(path)``.
    spikes : dict of str to array_like
        Spike times (ms) of every presynaptic population of the tensor (see
        :func:`spikes_from_nest`).
    t_start, t_stop : float, optional
        Window (ms); default the config's ``signals`` section (``t_stop`` is required
        without it and without a network section).
    simulated_sizes : dict of str to int, optional
        Neurons simulated per population when fewer than the population's size (their
        counts are scaled up by size / simulated).

    The convolution runs in chunks of ``signals.chunk_size`` bins like ``hpckernels
    signals``, so the two give the same numbers for the same spikes and tensor.
    pathways : bool
        Also return each pathway's contribution.

    Returns
    -------
    dict of str to xarray.DataArray
        ``{probe: (channel, time)}`` with units, time in ms (bin left edges); with
        ``pathways`` also ``{probe + "_pathways": (post, pre, channel, time)}``.
    """
    xr = _xarray()
    from .binning import bin_count, count_scale
    from .convolution import centered_kernel
    from .signals import stream_window, time_axis

    window = {key: value for key, value in (("t_start", t_start), ("t_stop", t_stop))}
    window = {k: float(v) for k, v in window.items() if v is not None}
    if window:
        data = {**config.data, "signals": {**config.data.get("signals", {}), **window}}
        config = load_config(data, config.base_dir)
    t_start, t_stop = config.signal_window()
    dt = float(config.simulation["dt"])
    n = bin_count(t_start, t_stop, dt)
    missing = [x for x in tensor.pre if x not in spikes and tensor.probes]
    if missing:
        raise InputError("spikes", f"no spike times of populations {missing}")
    times = {x: np.sort(np.asarray(spikes[x], dtype=float)) for x in tensor.pre}
    sizes = simulated_sizes or {}
    scales = {x: count_scale(config.populations[x]["size"], sizes.get(x)) for x in tensor.pre}
    kernels = {
        name: centered_kernel(probe.kernel, probe.lags, dt)
        for name, probe in tensor.probes.items()
    }
    arrays = _ArraysWriter(kernels, n, pathways)
    stream_window(arrays, config, times, tensor.pre, kernels, scales, pathways)
    total, per = arrays.total, arrays.pathways
    axis = time_axis(t_start, dt, 0, n)
    out = {}
    for name, probe in tensor.probes.items():
        coords = {"channel": probe.channel, "time": axis}
        out[name] = xr.DataArray(
            total[name],
            dims=("channel", "time"),
            coords=coords,
            name=name,
            attrs={"units": probe.units, "probe_type": probe.probe_type},
        )
        if pathways:
            out[f"{name}_pathways"] = xr.DataArray(
                per[name],
                dims=("post", "pre", "channel", "time"),
                coords={"post": list(tensor.post), "pre": list(tensor.pre), **coords},
                name=f"{name}_pathways",
                attrs={"units": probe.units, "probe_type": probe.probe_type},
            )
    for array in out.values():
        array["time"].attrs["units"] = "ms"
    return out


class _ArraysWriter:
    """The writer of :func:`hpckernels.signals.stream_window` that keeps the signals in
    arrays (the counts are not kept)."""

    def __init__(self, kernels, n_bins, pathways):
        self.total = {name: np.zeros((k.shape[2], n_bins)) for name, k in kernels.items()}
        self.pathways = (
            {name: np.zeros((*k.shape[:3], n_bins)) for name, k in kernels.items()}
            if pathways
            else {}
        )

    def write_counts(self, start, counts, times):
        pass

    def write_block(self, block, times):
        a, b = block.start, block.start + block.size
        for name, total in self.total.items():
            total[:, a:b] = block.total[name]
            if name in self.pathways:
                self.pathways[name][..., a:b] = block.pathways[name]


def _open_groups(path, what):
    xr = _xarray()
    from .io.h5 import open_h5
    from .io.signals import probe_groups

    with open_h5(path, what) as fh:
        names = list(probe_groups(fh)) or [
            name for name, group in fh.items() if hasattr(group, "keys") and "kernel" in group
        ]
    if not names:
        raise InputError(str(path), f"no probe group: not a {what} file")
    return {name: xr.open_dataset(path, engine="h5netcdf", group=name) for name in names}


def open_signals(path):
    """A signals file of ``hpckernels signals`` as ``{probe: xarray.Dataset}`` (variables
    ``total`` (channel, time) and ``pathways`` (post, pre, channel, time), with units)."""
    return _open_groups(path, "signals")


def open_kernels(path):
    """A kernel tensor of ``hpckernels assemble`` as ``{probe: xarray.Dataset}`` (variable
    ``kernel`` (post, pre, channel, lag), with units)."""
    return _open_groups(path, "kernel tensor")
