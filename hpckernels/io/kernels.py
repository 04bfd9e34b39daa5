"""Kernel files: the kernels of one pathway (``hpckernels kernel``) and the kernel tensor
of a config (``hpckernels assemble``).

pathway kernel file
    One group per probe with ``kernel`` (channel, lag) and, for ensembles, ``std``;
    root attributes pre, post, mode, dt, tau, config and pathway hashes, versions.
kernel tensor
    One group per probe with ``kernel`` (post, pre, channel, lag) (and ``std``).

Readers compare what a file was computed from with the config in hand
(:mod:`hpckernels.inputs`) and name what differs.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from ..datatypes import KernelTensor, ProbeTensor
from ..errors import InputError
from ..hashing import file_sha256
from ..inputs import pathway_hash, pathway_inputs
from ..probes import check, probe_type
from .h5 import (
    LAG_NAME,
    atomic_h5,
    differences,
    kernel_attrs,
    lag_axis,
    open_h5,
    population_scales,
    read,
    set_attrs,
    text,
    write_dataset,
    write_probe_scales,
    write_scale,
)


def write_kernel_file(path, config, pre, post, mode, results, extra_attrs=None, ensemble=None):
    """Write the kernels of one pathway to ``path`` atomically.

    Parameters
    ----------
    path : str or Path
    config : NetworkConfig
    pre, post : str
    mode : {"mean-field", "ensemble"}
    results : dict of str to dict of str to ndarray
        {probe name: {"kernel": (n_channels, n_lags), ["std": ...]}}.
    extra_attrs : dict, optional
        More root attributes (e.g. realizations, seed).
    ensemble : dict, optional
        Ensemble settings used ({realizations, seed}) where they differ from the config.

    Notes
    -----
    The root attributes ``pathway_hash`` and ``pathway_inputs`` (JSON) record what the
    kernels were computed from (:func:`~hpckernels.inputs.pathway_inputs`); each probe group
    has its ``pathway_hash`` with the probe included. Readers compare them with their
    config (:func:`kernel_file_differences`).
    """
    sim = config.simulation
    lags = lag_axis(sim["dt"], config.n_steps_tau, sim["fir"])
    with atomic_h5(path) as fh:
        set_attrs(
            fh,
            {
                **kernel_attrs(config, mode),
                "pre": pre,
                "post": post,
                "pathway_hash": pathway_hash(config, pre, post, mode, ensemble=ensemble),
                "pathway_inputs": json.dumps(
                    pathway_inputs(config, pre, post, mode, ensemble),
                    sort_keys=True,
                    default=float,
                ),
                **(extra_attrs or {}),
            },
        )
        for name, arrays in results.items():
            probe = probe_type(config.probes[name], config.probes)
            group = fh.create_group(name)
            channel = write_probe_scales(group, probe, arrays["kernel"].shape[0])
            lag = write_scale(group, "lag", lags, "ms", LAG_NAME)
            for key, data in arrays.items():
                write_dataset(
                    group,
                    key,
                    (channel, lag),
                    probe.axis.units,
                    f"{probe.name} per presynaptic spike"
                    if key == "kernel"
                    else f"standard deviation of {probe.name} across realizations",
                    data=data,
                )
            group.attrs["pathway_hash"] = pathway_hash(config, pre, post, mode, name, ensemble)


def write_kernel_set(folder, config, pre, post, mode, results, extra_attrs=None, ensemble=None):
    """Write the kernels of one pathway as one file per probe, ``folder/<probe>.h5``, as
    a set: every file is written under a temporary name first and the set is renamed
    into place only when all of them are complete (a killed run leaves no probe's file
    next to a half-written other).

    Parameters are those of :func:`write_kernel_file`; ``folder`` is created if needed.
    """
    import os

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    staged = {}
    try:
        for name, arrays in results.items():
            final = folder / f"{name}.h5"
            staged[final] = folder / f".{name}.set-{os.getpid()}.h5"
            write_kernel_file(
                staged[final], config, pre, post, mode, {name: arrays}, extra_attrs, ensemble
            )
        for final, tmp in staged.items():
            os.replace(tmp, final)
    finally:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)


def kernel_file_differences(attrs, config, pre, post, mode, probe=None):
    """What a pathway kernel file was computed from that the config does not say.

    Parameters
    ----------
    attrs : dict
        The file's root attributes, and with ``probe`` those of its probe group
        (``probe_attrs``: ``pathway_hash``, ``probe_type``, ``probe_parameters``).
    probe : str, optional
        Also compare this probe's spec (type, parameters resolved for ``post``).

    Returns
    -------
    list of str
        Empty when the file holds the kernels of pathway pre -> post (and of the probe)
        of this config.
    """
    found = {key: text(attrs.get(key, "")) for key in ("pre", "post", "mode")}
    out = [
        f"{key} is {found[key] or 'missing'}, expected {want}"
        for key, want in (("pre", pre), ("post", post), ("mode", mode))
        if found[key] != want
    ]
    if out:
        return out
    if text(attrs.get("pathway_hash", "")) != pathway_hash(config, pre, post, mode):
        stored = attrs.get("pathway_inputs")
        if stored is None:
            return ["computed from other inputs (the file does not record them)"]
        current = json.loads(json.dumps(pathway_inputs(config, pre, post, mode), default=float))
        out += differences(json.loads(text(stored)), current) or ["pathway hash differs"]
    if probe is not None:
        group = attrs["probe_attrs"]
        if text(group.get("pathway_hash", "")) != pathway_hash(config, pre, post, mode, probe):
            out += probe_differences(group, config.probe_spec(probe, post), probe)
    return out


def probe_differences(group_attrs, spec, probe):
    """How a probe group's recorded type and parameters differ from a config's spec."""
    found_type = text(group_attrs.get("probe_type", ""))
    if found_type != spec["type"]:
        return [
            f"{probe}.type: {found_type or 'missing'} in the file, {spec['type']} in the config"
        ]
    stored = json.loads(text(group_attrs.get("probe_parameters", "{}")) or "{}")
    current = json.loads(json.dumps({k: v for k, v in spec.items() if k != "type"}, default=float))
    return differences(stored, current, probe) or [f"{probe}: probe hash differs"]


def read_kernel_group(path, probe, n_lags):
    """(arrays, root attributes) of one probe group of a pathway kernel file; the probe
    group's own attributes are under the key ``probe_attrs``.

    Raises
    ------
    InputError
        Not HDF5 (truncated, empty), no group of the probe, or arrays of another shape.
    """
    with open_h5(path, "pathway kernel") as fh:
        if probe not in fh or not isinstance(fh[probe], h5py.Group) or "kernel" not in fh[probe]:
            raise InputError(
                str(path), f"no '{probe}/kernel' dataset: not a pathway kernel file of this probe"
            )
        group = fh[probe]
        arrays = {key: read(group[key]) for key in ("kernel", "std") if key in group}
        shape = arrays["kernel"].shape
        if len(shape) != 2 or shape[1] != n_lags or any(a.shape != shape for a in arrays.values()):
            raise InputError(
                str(path), f"{probe}/kernel has shape {shape}, expected (channels, {n_lags} lags)"
            )
        if not all(np.all(np.isfinite(a)) for a in arrays.values()):
            raise InputError(str(path), f"{probe}: kernels contain non-finite values")
        return arrays, {**fh.attrs, "probe_attrs": dict(group.attrs)}


# ------------------------------------------------------------------- kernel tensor
def pathway_files(paths):
    """{(pre, post, probe): path} of pathway kernel files (``hpckernels kernel -o``), from
    their ``pre`` and ``post`` attributes and probe groups.

    Raises
    ------
    InputError
        Not a pathway kernel file, or two files with the same pathway and probe.
    """
    files = {}
    for path in paths:
        with open_h5(path, "pathway kernel") as fh:
            if "pre" not in fh.attrs or "post" not in fh.attrs:
                raise InputError(str(path), "no pre/post attributes: not a pathway kernel file")
            pre, post = text(fh.attrs["pre"]), text(fh.attrs["post"])
            probes = [k for k, g in fh.items() if isinstance(g, h5py.Group) and "kernel" in g]
        for probe in probes:
            key = (pre, post, probe)
            if key in files:
                raise InputError(str(path), f"{pre}->{post} / {probe} is also in {files[key]}")
            files[key] = Path(path)
    return files


def write_tensor(path, config, mode, kernel_files, allow_stale=False):
    """Assemble pathway kernel files into one tensor per probe, atomically.

    Parameters
    ----------
    path : str or Path
        Output HDF5 file.
    config : NetworkConfig
    mode : str
    kernel_files : dict of (str, str, str) to path
        {(pre, post, probe): pathway kernel file}: the tensor holds the probes named here
        (in config order). Pathways without a connection are zero in the tensor.
    allow_stale : bool
        Use kernel files that do not belong to the config (they are listed in the
        tensor's ``stale_inputs`` attribute) instead of refusing them.

    Raises
    ------
    InputError
        A kernel file that belongs to another pathway, mode or config (naming the file
        and what differs), or whose arrays do not fit.

    Notes
    -----
    Per probe a group with dataset ``kernel`` (and ``std`` for ensembles) of shape
    (n_post, n_pre, n_channel, n_lag) and dimension scales post, pre, channel and lag;
    its attributes ``pathway_hashes`` and ``pathway_inputs`` (JSON, keyed
    ``"<post><-<pre>"``) record what each pathway was computed from.
    """
    names = list(config.populations)
    n = len(names)
    sim = config.simulation
    lags = lag_axis(sim["dt"], config.n_steps_tau, sim["fir"])
    stale = {}
    groups = {}
    wanted = {probe for _, _, probe in kernel_files}
    for name, spec in config.probes.items():
        if name not in wanted:
            continue
        arrays, hashes, inputs = {}, {}, {}
        for (pre, post, probe_name), file in kernel_files.items():
            if probe_name != name:
                continue
            data, attrs = read_kernel_group(file, name, lags.size)
            found = kernel_file_differences(attrs, config, pre, post, mode, name)
            channels = check(config.probe_spec(name, post), f"probes.{name}", config.probes)
            if data["kernel"].shape[0] != channels:
                found.append(
                    f"{name}: {data['kernel'].shape[0]} channels in the file, {channels} in "
                    "the config"
                )
            if found and not allow_stale:
                raise InputError(
                    str(file),
                    f"not the {mode} kernels of {pre}->{post} of "
                    f"this config: {'; '.join(found[:3])}"
                    " (--allow-stale uses it anyway)",
                )
            if found:
                stale[str(file)] = found
            for key, value in data.items():
                arrays.setdefault(key, np.zeros((n, n, *value.shape)))
                if arrays[key].shape[2:] != value.shape:
                    raise InputError(
                        str(file),
                        f"{name} has {value.shape[0]} channels, the "
                        f"other pathways {arrays[key].shape[2]}",
                    )
                arrays[key][names.index(post), names.index(pre)] = value
            # what the file was computed from, also when it is stale (--allow-stale): the
            # tensor then does not pass for the config's own in any later step
            hashes[f"{post}<-{pre}"] = text(attrs["probe_attrs"].get("pathway_hash", ""))
            inputs[f"{post}<-{pre}"] = json.loads(text(attrs.get("pathway_inputs", "{}")))
        groups[name] = (probe_type(spec, config.probes), arrays, hashes, inputs)
    with atomic_h5(path) as fh:
        set_attrs(
            fh,
            {
                **kernel_attrs(config, mode),
                "description": "H[post, pre]: signal per spike of one presynaptic "
                "neuron, summed over the postsynaptic population; zero "
                "where there is no connection",
                "stale_inputs": json.dumps(stale, sort_keys=True) if stale else None,
            },
        )
        for name, (probe, arrays, hashes, inputs) in groups.items():
            group = fh.create_group(name)
            post_scale, pre_scale = population_scales(group, names, names)
            channel = write_probe_scales(group, probe, next(iter(arrays.values())).shape[2])
            lag = write_scale(group, "lag", lags, "ms", LAG_NAME)
            for key, data in arrays.items():
                write_dataset(
                    group,
                    key,
                    (post_scale, pre_scale, channel, lag),
                    probe.axis.units,
                    f"{probe.name} per presynaptic spike",
                    data=data,
                )
            group.attrs["pathway_hashes"] = json.dumps(hashes, sort_keys=True)
            group.attrs["pathway_inputs"] = json.dumps(inputs, sort_keys=True, default=float)


def tensor_differences(tensor, config):
    """What a kernel tensor was computed from that the config does not say.

    Returns
    -------
    list of str
        Empty when every pathway and probe of the tensor belongs to the config.
    """
    mode = text(tensor.attrs.get("mode", "mean-field"))
    out = []
    if list(tensor.post) != list(config.populations):
        out.append(
            f"populations {tensor.post} differ from the config's {list(config.populations)}"
        )
        return out
    missing = sorted(set(config.probes) - set(tensor.probes))
    if missing:
        out.append(f"no kernels of probes {missing}")
    for name, probe in tensor.probes.items():
        if name not in config.probes:
            out.append(f"probe {name} is not in the config")
            continue
        spec = config.probes[name]
        if probe.probe_type != spec["type"]:
            out.append(f"{name}: {probe.probe_type} kernels, the config's probe is {spec['type']}")
            continue
        channels = {
            check(config.probe_spec(name, post), f"probes.{name}", config.probes)
            for post in config.postsynaptic_populations()
        }
        if probe.kernel.shape[2] not in channels:
            out.append(
                f"{name}: {probe.kernel.shape[2]} channels in the tensor, "
                f"{' or '.join(map(str, sorted(channels)))} in the config"
            )
            continue
        stored = json.loads(probe.pathway_hashes or "{}")
        inputs = json.loads(probe.pathway_inputs or "{}")
        expected = {
            f"{p.post}<-{p.pre}": pathway_hash(config, p.pre, p.post, mode, name)
            for p in config.pathways()
        }
        for key in sorted(set(stored) | set(expected)):
            if stored.get(key) == expected.get(key):
                continue
            if key not in expected or key not in stored:
                out.append(
                    f"{name}: pathway {key} only in the {'tensor' if key in stored else 'config'}"
                )
                continue
            post, pre = key.split("<-")
            current = json.loads(
                json.dumps(pathway_inputs(config, pre, post, mode), default=float)
            )
            found = differences(inputs.get(key, {}), current)
            spec = {k: v for k, v in config.probes[name].items() if k != "type"}
            found += differences(
                json.loads(probe.parameters or "{}"),
                json.loads(json.dumps(spec, default=float)),
                name,
            )
            out.append(f"{name} {key}: " + ("; ".join(found[:3]) or "pathway hash differs"))
    return out


def read_tensor(path):
    """Read every probe group of a kernel tensor file (layout of :func:`write_tensor`).

    Parameters
    ----------
    path : str or Path, or list of them
        A tensor file, or several (e.g. one per probe, ``hpckernels assemble --probe``)
        read as one tensor: the same populations and settings, each probe once.

    Raises
    ------
    InputError
        Not an HDF5 file, not a kernel tensor, inconsistent shapes or non-finite kernels;
        files of other populations, settings or the same probe twice.
    """
    if isinstance(path, (list, tuple)):
        return _merged([read_tensor(p) for p in path])
    tensor = None
    with open_h5(path, "kernel tensor") as fh:
        for name, group in fh.items():
            if not isinstance(group, h5py.Group) or "kernel" not in group:
                continue
            where = f"{path}: group {name}"
            for key in ("post", "pre", "lag", "channel"):
                if key not in group:
                    raise InputError(where, f"missing dataset '{key}': not a kernel tensor")
            post = [text(v) for v in read(group["post"])]
            pre = [text(v) for v in read(group["pre"])]
            kernel = read(group["kernel"])
            lags = read(group["lag"])
            if (
                kernel.ndim != 4
                or kernel.shape[:2] != (len(post), len(pre))
                or kernel.shape[3] != lags.size
            ):
                raise InputError(
                    where,
                    f"kernel shape {kernel.shape} is not (n_post="
                    f"{len(post)}, n_pre={len(pre)}, channel, "
                    f"n_lag={lags.size})",
                )
            if not np.all(np.isfinite(kernel)):
                raise InputError(where, "kernel contains non-finite values")
            if tensor is None:
                tensor = KernelTensor(Path(path), dict(fh.attrs), post, pre)
            elif (post, pre) != (tensor.post, tensor.pre):
                raise InputError(
                    where,
                    f"populations post={post}, pre={pre} differ from "
                    f"those of the other probes ({tensor.post}, "
                    f"{tensor.pre})",
                )
            channel = group["channel"]
            tensor.probes[name] = ProbeTensor(
                name=name,
                probe_type=text(group.attrs.get("probe_type", "")),
                kernel=kernel,
                lags=lags,
                units=text(group["kernel"].attrs.get("units", "")),
                channel=read(channel),
                channel_units=text(channel.attrs.get("units", "")),
                channel_name=text(channel.attrs.get("long_name", "channel")),
                parameters=text(group.attrs.get("probe_parameters", "{}")),
                pathway_hashes=text(group.attrs.get("pathway_hashes", "")),
                pathway_inputs=text(group.attrs.get("pathway_inputs", "")),
            )
    if tensor is None:
        raise InputError(str(path), "no probe group with a 'kernel' dataset: not a kernel tensor")
    return tensor


#: Root attributes that tensors read as one must share.
SHARED_ATTRS = ("mode", "dt", "tau", "fir", "config_hash")


def _merged(tensors):
    """One :class:`~hpckernels.datatypes.KernelTensor` of tensors of other probes."""
    if not tensors:
        raise InputError("--kernels", "no kernel tensor file given")
    first = tensors[0]
    out = KernelTensor(first.path, dict(first.attrs), first.post, first.pre, {})
    for tensor in tensors:
        if (tensor.post, tensor.pre) != (first.post, first.pre):
            raise InputError(
                str(tensor.path),
                f"populations post={tensor.post}, pre={tensor.pre} differ from those of "
                f"{first.path} ({first.post}, {first.pre})",
            )
        for key in SHARED_ATTRS:
            mine, theirs = tensor.attrs.get(key), first.attrs.get(key)
            if isinstance(mine, (str, bytes)) or isinstance(theirs, (str, bytes)):
                same = mine is not None and theirs is not None and text(mine) == text(theirs)
            else:
                same = np.array_equal(np.asarray(mine), np.asarray(theirs))
            if not same:
                raise InputError(str(tensor.path), f"{key} is {mine}, in {first.path} {theirs}")
        for name, probe in tensor.probes.items():
            if name in out.probes:
                raise InputError(str(tensor.path), f"probe {name} is in two of the files")
            out.probes[name] = probe
    return out


def tensor_paths(paths):
    """A tensor file or a list of them, as a list of Paths."""
    return [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]


def tensor_file_attrs(paths):
    """Attributes ``kernels_file`` and ``kernels_sha256`` of an output computed from
    kernel tensor file(s): the path and SHA-256 of one file, JSON lists for several."""
    paths = tensor_paths(paths)
    if len(paths) == 1:
        return {"kernels_file": str(paths[0]), "kernels_sha256": file_sha256(paths[0])}
    return {
        "kernels_file": json.dumps([str(p) for p in paths]),
        "kernels_sha256": json.dumps([file_sha256(p) for p in paths]),
    }
