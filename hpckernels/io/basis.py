"""Basis files (``hpckernels basis``): what the kernels of a population are computed from.

The cell's segments and either its linear system (group ``system``: the response file of
the linear engine, from which any probe's responses follow without NEURON) or one group
per synapse kinetics with per probe ``response`` (channel, column, lag) (the basis of
the NEURON basis engine); see :func:`write_basis`. :func:`basis_file_differences` says
what a file was computed from that the config in hand does not say.
"""

from __future__ import annotations

import json

import h5py
import numpy as np

from ..datatypes import CellSystem, KineticsBasis, PopulationBasis, SegmentGeometry
from ..errors import InputError
from ..inputs import basis_hash, basis_inputs, response_hash, response_inputs
from ..probes import probe_type
from .h5 import (
    LAG_NAME,
    atomic_h5,
    differences,
    open_h5,
    provenance,
    read,
    set_attrs,
    text,
    write_dataset,
    write_probe_scales,
    write_scale,
)

#: ``contents`` attribute of a basis file: a linear system, or responses per probe.
SYSTEM, RESPONSES = "system", "responses"

#: Units and descriptions of the datasets of a system group.
_SYSTEM_DATASETS = {
    "capacitance": ("nF", "membrane capacitance of each node"),
    "leak": ("uS", "leak conductance of each node (g_eff included)"),
    "child": ("", "child node of each axial edge"),
    "parent": ("", "parent node of each axial edge"),
    "conductance": ("uS", "axial conductance of each edge"),
    "mode_nodes": ("", "node of each linear mode"),
    "mode_tau": ("ms", "time constant of each linear mode"),
    "mode_mu": ("uS", "conductance of each linear mode (outward current -mu x)"),
}


def _contents(basis):
    """SYSTEM for a system without responses, else RESPONSES."""
    return SYSTEM if basis.system is not None and not basis.kinetics else RESPONSES


def file_inputs(config, post, contents):
    """(hash, inputs) of what a basis file of ``contents`` depends on."""
    if contents == SYSTEM:
        return response_hash(config, post), response_inputs(config, post)
    return basis_hash(config, post), basis_inputs(config, post)


def write_basis(path, config, basis):
    """Write a population's basis atomically (:class:`~hpckernels.datatypes.PopulationBasis`):
    its linear system alone (the linear engine's response file), or its responses.

    Layout: root attributes post, contents (``system`` or ``responses``), basis_hash,
    basis_inputs (JSON), provenance; group ``cell`` with the segment geometry (um), rest
    potential (mV), g_eff leak (S/cm2) and ``placement/<pre>`` (pmf over segments) of
    every connection into ``post``; then either group ``system`` (the
    :class:`~hpckernels.datatypes.CellSystem`: per node capacitance (nF) and leak (uS),
    per axial edge its nodes and conductance (uS), per linear mode its node, time
    constant (ms) and conductance (uS); attribute n_segments) or group
    ``kinetics/<label>`` per synapse kinetics with attribute ``synapse`` (JSON), scales
    ``column`` (segment of each unit event) and ``lag`` (ms) and per probe
    ``<probe>/response`` (channel, column, lag): the probe's signal per nA of a unit
    event at lag 0.
    """
    contents = _contents(basis)
    _, inputs = file_inputs(config, basis.post, contents)
    with atomic_h5(path) as fh:
        set_attrs(
            fh,
            {
                **provenance(config),
                "post": basis.post,
                "tau": basis.n_steps * basis.dt,
                "n_steps": basis.n_steps,
                "unit_weight_nA": 1.0,
                "contents": contents,
                "basis_hash": basis.basis_hash,
                "basis_inputs": json.dumps(inputs, sort_keys=True, default=float),
                "description": (
                    "the linearized cell as a linear system on NEURON's nodes"
                    if contents == SYSTEM
                    else "responses to one current-based synaptic event of 1 nA at "
                    "lag 0 on each segment of the linearized cell, projected onto the probes"
                ),
            },
        )
        cell = fh.create_group("cell")
        segment = write_scale(cell, "segment", np.arange(basis.n_segments), "", "segment index")
        end = write_scale(cell, "end", np.array([0, 1]), "", "segment start (0) and end (1)")
        for key in ("x", "y", "z"):
            write_dataset(
                cell,
                key,
                (segment, end),
                "um",
                f"{key} of the segment ends",
                data=getattr(basis.geometry, key),
            )
        write_dataset(cell, "d", (segment,), "um", "segment diameter", data=basis.geometry.d)
        write_dataset(cell, "vrest", (segment,), "mV", "rest potential", data=basis.vrest)
        write_dataset(
            cell,
            "leak_shift",
            (segment,),
            "S/cm2",
            "g_eff added to the leak",
            data=basis.leak_shift,
        )
        placement = cell.create_group("placement")
        for pre, pmf in basis.placements.items():
            write_dataset(
                placement,
                pre,
                (segment,),
                "",
                f"probability that a synapse {pre}->{basis.post} lands on the segment",
                data=pmf,
            )
        if contents == SYSTEM:
            group = fh.create_group("system")
            group.attrs["n_segments"] = basis.system.n_segments
            for key in CellSystem.ARRAYS:
                units, description = _SYSTEM_DATASETS[key]
                dataset = group.create_dataset(key, data=getattr(basis.system, key))
                set_attrs(dataset, {"units": units, "long_name": description})
            return
        lags = np.arange(basis.n_steps + 1) * basis.dt
        kinetics_group = fh.create_group("kinetics")
        for label, kinetics in basis.kinetics.items():
            group = kinetics_group.create_group(label)
            group.attrs["synapse"] = json.dumps(kinetics.synapse, sort_keys=True)
            column = write_scale(
                group, "column", kinetics.columns, "", "segment of the unit event"
            )
            lag = write_scale(group, "lag", lags, "ms", LAG_NAME)
            for name, response in kinetics.responses.items():
                probe = probe_type(config.probes[name], config.probes)
                sub = group.create_group(name)
                channel = write_probe_scales(sub, probe, response.shape[0])
                write_dataset(
                    sub,
                    "response",
                    (channel, column, lag),
                    f"{probe.axis.units}/nA",
                    f"{probe.name} per nA of a unit event on the column's segment",
                    data=response,
                )


def read_basis(path):
    """The :class:`~hpckernels.datatypes.PopulationBasis` of a basis file and its root
    attributes.

    Raises
    ------
    InputError
        Not HDF5, not a basis file, or arrays that do not fit together.
    """
    with open_h5(path, "basis") as fh:
        if (
            "cell" not in fh
            or ("kinetics" not in fh and "system" not in fh)
            or "post" not in fh.attrs
        ):
            raise InputError(str(path), "not a basis file (hpckernels basis)")
        try:
            cell = fh["cell"]
            geometry = SegmentGeometry(**{key: read(cell[key]) for key in ("x", "y", "z", "d")})
            n_steps = int(fh.attrs["n_steps"])
            basis = PopulationBasis(
                post=text(fh.attrs["post"]),
                dt=float(fh.attrs["dt"]),
                n_steps=n_steps,
                geometry=geometry,
                vrest=read(cell["vrest"]),
                leak_shift=read(cell["leak_shift"]),
                placements={pre: read(data) for pre, data in cell["placement"].items()},
                basis_hash=text(fh.attrs["basis_hash"]),
            )
            if "system" in fh:
                group = fh["system"]
                basis.system = CellSystem(
                    n_segments=int(group.attrs["n_segments"]),
                    **{key: read(group[key]) for key in CellSystem.ARRAYS},
                )
            for label, group in fh.get("kinetics", {}).items():
                kinetics = KineticsBasis(
                    label=label,
                    synapse=json.loads(text(group.attrs["synapse"])),
                    columns=read(group["column"]).astype(int),
                )
                for name, sub in group.items():
                    if isinstance(sub, h5py.Group) and "response" in sub:
                        kinetics.responses[name] = read(sub["response"])
                basis.kinetics[label] = kinetics
            attrs = dict(fh.attrs)
        except (KeyError, ValueError, TypeError) as err:
            raise InputError(str(path), f"damaged basis file: {err}") from None
    n_segments = basis.vrest.size
    for kinetics in basis.kinetics.values():
        for name, response in kinetics.responses.items():
            shape = (kinetics.columns.size, n_steps + 1)
            if response.ndim != 3 or response.shape[1:] != shape:
                raise InputError(
                    str(path),
                    f"{kinetics.label}/{name}/response has shape {response.shape}, "
                    f"expected (channels, {shape[0]}, {shape[1]})",
                )
            if not np.all(np.isfinite(response)):
                raise InputError(str(path), f"{kinetics.label}/{name}: non-finite responses")
        if kinetics.columns.size and not (
            0 <= kinetics.columns.min() <= kinetics.columns.max() < n_segments
        ):
            raise InputError(str(path), f"{kinetics.label}: columns outside the cell")
    if any(pmf.shape != (n_segments,) for pmf in basis.placements.values()):
        raise InputError(str(path), "placement arrays do not match the cell's segments")
    system = basis.system
    if system is not None:
        n_nodes, n_edges, n_modes = system.n_nodes, system.child.size, system.n_modes
        if (
            system.n_segments != n_segments
            or system.leak.shape != (n_nodes,)
            or any(a.shape != (n_edges,) for a in (system.parent, system.conductance))
            or any(a.shape != (n_modes,) for a in (system.mode_nodes, system.mode_mu))
            or n_edges != n_nodes - 1
            or any(
                a.size and not 0 <= a.min() <= a.max() < n_nodes
                for a in (system.child, system.parent, system.mode_nodes)
            )
        ):
            raise InputError(str(path), "damaged basis file: the system's arrays do not fit")
        if not all(np.all(np.isfinite(getattr(system, k))) for k in CellSystem.ARRAYS):
            raise InputError(str(path), "damaged basis file: non-finite system values")
    return basis, attrs


def basis_file_differences(attrs, config, post):
    """What a basis file (its root attributes) was computed from that the config does not
    say.

    Returns
    -------
    list of str
        Empty when the file holds the basis of population ``post`` of this config.
    """
    found = text(attrs.get("post", ""))
    if found != post:
        return [f"post is {found or 'missing'}, expected {post}"]
    expected, inputs = file_inputs(config, post, text(attrs.get("contents", RESPONSES)))
    if text(attrs.get("basis_hash", "")) == expected:
        return []
    stored = attrs.get("basis_inputs")
    if stored is None:
        return ["computed from other inputs (the file does not record them)"]
    current = json.loads(json.dumps(inputs, default=float))
    return differences(json.loads(text(stored)), current) or ["basis hash differs"]
