#!/usr/bin/env python
"""Write the stylised morphologies of the cortical microcircuit (config/microcircuit.yaml).

One NEURON ``.hoc`` morphology per population of the Potjans & Diesmann (2014) model,
read with ``config/morphologies/BallAndSticksTemplate.hoc`` (sections ``soma``, ``dend``:
dendrites leaving the soma downwards or sideways, ``apic``: the apical trunk, its obliques
and tuft, and the upward dendrites of interneurons). Run from anywhere::

    python config/morphologies/microcircuit/make_morphologies.py

The cells are written by this project (no reconstruction is copied). Their extents follow
the layers in which each cell type has dendrites in the connectivity data of Binzegger et
al. (2004, J Neurosci 24:8441), as used by hybridLFPy's microcircuit model
(github.com/INM-6/hybridLFPy, examples/example_microcircuit_params.py), with the cortical
layer boundaries of that model:

====== ============================== =========================================
layer  depth (um, pia at 0)           soma depth of its populations (layer middle)
====== ============================== =========================================
L1     0 to -81.6
L2/3   -81.6 to -587.1                -334.35
L4     -587.1 to -922.2               -754.65
L5     -922.2 to -1170.0              -1046.1
L6     -1170.0 to -1491.7             -1330.85
====== ============================== =========================================

Coordinates in the files are relative to the soma centre (z up, towards the pia); the
kernel engine moves each cell to its population's mean soma depth. All dendrites are
straight cylinders (tapering trunks) at fixed angles: no random numbers, so the files are
the same on every run. ``Ra`` = 150 Ohm cm and ``cm`` = 1 uF/cm2 as in the microcircuit
kernel set-up of Hagen et al. (2022, PLOS Comput Biol) and hybridLFPy; the leak is inserted
by the kernel engine. With the config's ``nseg: {method: fixed_length, max_length: 10}``
each cell has a few hundred segments (``SEGMENTS`` below, checked by the tests).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: Layer boundaries (um), pia at 0, as in hybridLFPy's microcircuit model.
LAYERS = {
    "L1": (0.0, -81.6),
    "L23": (-81.6, -587.1),
    "L4": (-587.1, -922.2),
    "L5": (-922.2, -1170.0),
    "L6": (-1170.0, -1491.7),
}
#: Axial resistivity (Ohm cm) and membrane capacitance (uF/cm2).
RA, CM = 150.0, 1.0


def layer_middle(layer):
    top, bottom = LAYERS[layer]
    return (top + bottom) / 2


def direction(polar, azimuth):
    """Unit vector at ``polar`` degrees from +z (towards the pia) and ``azimuth`` degrees."""
    t, p = math.radians(polar), math.radians(azimuth)
    return (math.sin(t) * math.cos(p), math.sin(t) * math.sin(p), math.cos(t))


@dataclass
class Section:
    kind: str  # soma, dend or apic
    points: list  # [(x, y, z, diam)] in um
    parent: tuple | None = None  # (kind, index) of the parent section
    parent_x: float = 1.0  # where on the parent it attaches


@dataclass
class Morphology:
    """Sections of one cell, in the order they are written."""

    name: str
    description: str
    sections: list = field(default_factory=list)

    def add(self, kind, points, parent=None, parent_x=1.0):
        """Add a section; return its (kind, index) handle."""
        index = sum(1 for s in self.sections if s.kind == kind)
        self.sections.append(Section(kind, points, parent, parent_x))
        return kind, index

    def end(self, handle):
        """Last 3-D point (x, y, z) of a section."""
        kind, index = handle
        section = [s for s in self.sections if s.kind == kind][index]
        return section.points[-1][:3]

    def stick(self, kind, parent, start, unit, length, d0, d1=None, parent_x=1.0):
        """A straight (tapering d0 -> d1) section from ``start`` along ``unit``."""
        end = tuple(s + length * u for s, u in zip(start, unit, strict=True))
        points = [(*start, d0), (*end, d0 if d1 is None else d1)]
        return self.add(kind, points, parent, parent_x)

    def hoc(self):
        """The morphology as NEURON hoc code (run inside the template instance)."""
        counts = {
            k: sum(1 for s in self.sections if s.kind == k) for k in ("soma", "dend", "apic")
        }
        lines = [f"// {line}" for line in self.description.strip().splitlines()]
        lines += [
            "// Written by config/morphologies/microcircuit/make_morphologies.py; do not edit.",
            f"create soma[{counts['soma']}], dend[{counts['dend']}], apic[{counts['apic']}]",
            "",
        ]
        index = {"soma": 0, "dend": 0, "apic": 0}
        for section in self.sections:
            name = f"{section.kind}[{index[section.kind]}]"
            index[section.kind] += 1
            lines.append(f"{name} {{")
            lines.append("    pt3dclear()")
            lines += [
                f"    pt3dadd({x:.3f}, {y:.3f}, {z:.3f}, {d:.3f})" for x, y, z, d in section.points
            ]
            lines.append("}")
        lines.append("")
        index = {"soma": 0, "dend": 0, "apic": 0}
        for section in self.sections:
            name = f"{section.kind}[{index[section.kind]}]"
            index[section.kind] += 1
            if section.parent is not None:
                kind, i = section.parent
                lines.append(f"connect {name}(0), {kind}[{i}]({section.parent_x:g})")
        lines += ["", "forall {", f"    Ra = {RA}", f"    cm = {CM}", "    all.append()", "}", ""]
        return "\n".join(lines)

    def extent(self):
        """(lowest, highest) z (um) of the cell relative to its soma centre."""
        zs = [p[2] for s in self.sections for p in s.points]
        return min(zs), max(zs)

    def total_length(self):
        """Summed length (um) of all sections."""
        return sum(
            math.dist(a[:3], b[:3])
            for s in self.sections
            for a, b in zip(s.points[:-1], s.points[1:], strict=True)
        )


def soma(cell, length, diam):
    return cell.add("soma", [(0.0, 0.0, -length / 2, diam), (0.0, 0.0, length / 2, diam)])


def bifurcating(cell, kind, parent, start, polar, azimuth, lengths, diams, spread, parent_x):
    """A primary dendrite that splits in two children at +-``spread`` degrees of azimuth;
    the children bend ``polar`` towards the horizontal by 15 degrees."""
    primary = cell.stick(
        kind, parent, start, direction(polar, azimuth), lengths[0], diams[0], None, parent_x
    )
    child_polar = polar + 15.0 if polar < 90 else polar - 15.0
    for side in (-1, 1):
        cell.stick(
            kind,
            primary,
            cell.end(primary),
            direction(child_polar, azimuth + side * spread),
            lengths[1],
            diams[1],
        )


def pyramid(name, description, p):
    """Soma, ``n_basal`` bifurcating basal dendrites, a tapering apical trunk with pairs of
    obliques at the heights ``obliques`` and a tuft of ``n_tuft`` branches at its top.

    Parameters (``p``, um and degrees): soma length and diameter, basal count, polar angle
    (from +z), primary and child lengths and diameters; trunk top height, diameters at the
    soma and the top; oblique heights, length, diameter; tuft count, polar angle, length,
    diameter.
    """
    cell = Morphology(name, description)
    s = soma(cell, p["soma_length"], p["soma_diam"])
    bottom, top = (0.0, 0.0, -p["soma_length"] / 2), (0.0, 0.0, p["soma_length"] / 2)
    for k in range(p["n_basal"]):
        bifurcating(
            cell,
            "dend",
            s,
            bottom,
            p["basal_polar"],
            360.0 * k / p["n_basal"],
            p["basal_lengths"],
            p["basal_diams"],
            30.0,
            0.0,
        )
    # trunk pieces between the oblique branch points, tapering linearly
    heights = [top[2], *p["obliques"], p["trunk_top"]]
    d_soma, d_top = p["trunk_diams"]

    def diam(z):
        return d_soma + (d_top - d_soma) * (z - top[2]) / (p["trunk_top"] - top[2])

    parent, parent_x = s, 1.0
    for i, (z0, z1) in enumerate(zip(heights[:-1], heights[1:], strict=True)):
        parent = cell.add(
            "apic", [(0.0, 0.0, z0, diam(z0)), (0.0, 0.0, z1, diam(z1))], parent, parent_x
        )
        parent_x = 1.0
        if i < len(p["obliques"]):
            for side in (0.0, 180.0):
                azimuth = side + 90.0 * i
                cell.stick(
                    "apic",
                    parent,
                    (0.0, 0.0, z1),
                    direction(60.0, azimuth),
                    p["oblique_length"],
                    p["oblique_diam"],
                )
    for k in range(p["n_tuft"]):
        cell.stick(
            "apic",
            parent,
            (0.0, 0.0, p["trunk_top"]),
            direction(p["tuft_polar"], 360.0 * k / p["n_tuft"] + 45.0),
            p["tuft_length"],
            p["tuft_diam"],
            d_top * 0.5,
        )
    return cell


def interneuron(name, description):
    """Multipolar cell: soma (12 x 12 um) and 8 dendrites (4 up, ``apic``; 4 down,
    ``dend``), each 30 um at 45 degrees off the vertical that splits into two 120 um
    children, also at 45 degrees: a vertical reach of 112 um on either side of the soma,
    which fits in the thinnest layer of a soma (L5, 248 um)."""
    cell = Morphology(name, description)
    s = soma(cell, 12.0, 12.0)
    primary, child, child_polar = 30.0, 120.0, 45.0
    for k in range(4):
        for kind, sign, x in (("apic", 1, 1.0), ("dend", -1, 0.0)):
            start = (0.0, 0.0, sign * 6.0)
            polar = 45.0 if sign > 0 else 135.0
            azimuth = 90.0 * k + (0.0 if sign > 0 else 45.0)
            first = cell.stick(kind, s, start, direction(polar, azimuth), primary, 1.2, None, x)
            for side in (-1, 1):
                cp = child_polar if sign > 0 else 180.0 - child_polar
                cell.stick(
                    kind, first, cell.end(first), direction(cp, azimuth + side * 30.0), child, 0.8
                )
    return cell


def half_thickness(layer):
    top, bottom = LAYERS[layer]
    return (top - bottom) / 2


def cells():
    """The eight morphologies, by population name."""
    # heights relative to the soma at the layer middle
    l23, l4, l5, l6 = (layer_middle(x) for x in ("L23", "L4", "L5", "L6"))
    l1_bottom = LAYERS["L1"][1]
    return {
        "L23E": pyramid(
            "L23E",
            "L2/3 pyramidal cell: basal dendrites in L2/3, apical trunk to the L1 border, "
            "tuft in L1 (soma at -334.35 um).",
            {
                "soma_length": 20.0,
                "soma_diam": 16.0,
                "n_basal": 5,
                "basal_polar": 140.0,
                "basal_lengths": (40.0, 110.0),
                "basal_diams": (1.6, 1.0),
                "trunk_top": l1_bottom - l23 - 10.0,
                "trunk_diams": (3.0, 2.0),
                "obliques": (70.0, 150.0),
                "oblique_length": 120.0,
                "oblique_diam": 1.0,
                "n_tuft": 3,
                "tuft_polar": 35.0,
                "tuft_length": 90.0,
                "tuft_diam": 1.2,
            },
        ),
        "L23I": interneuron(
            "L23I",
            "L2/3 interneuron: compact multipolar cell within L2/3 (soma at -334.35 um).",
        ),
        "L4E": pyramid(
            "L4E",
            "L4 excitatory cell (star pyramid / spiny stellate mix): basal dendrites in L4, "
            "thin apical trunk through L2/3 to the L1 border, small tuft in L1 (soma at "
            "-754.65 um).",
            {
                "soma_length": 16.0,
                "soma_diam": 16.0,
                "n_basal": 6,
                "basal_polar": 125.0,
                "basal_lengths": (40.0, 100.0),
                "basal_diams": (1.4, 0.9),
                "trunk_top": l1_bottom - l4 - 10.0,
                "trunk_diams": (1.8, 1.0),
                "obliques": (350.0,),
                "oblique_length": 80.0,
                "oblique_diam": 0.8,
                "n_tuft": 2,
                "tuft_polar": 40.0,
                "tuft_length": 70.0,
                "tuft_diam": 0.8,
            },
        ),
        "L4I": interneuron(
            "L4I",
            "L4 interneuron: compact multipolar cell within L4 (soma at -754.65 um).",
        ),
        "L5E": pyramid(
            "L5E",
            "L5 thick-tufted pyramidal cell: basal dendrites in L5, apical trunk through L4 "
            "and L2/3 to the L1 border with obliques on the way, tuft in L1 (soma at "
            "-1046.1 um).",
            {
                "soma_length": 22.0,
                "soma_diam": 22.0,
                "n_basal": 6,
                "basal_polar": 135.0,
                "basal_lengths": (50.0, 130.0),
                "basal_diams": (2.0, 1.2),
                "trunk_top": l1_bottom - l5 - 5.0,
                "trunk_diams": (4.5, 2.0),
                "obliques": (80.0, 200.0, 350.0, 550.0, 750.0),
                "oblique_length": 100.0,
                "oblique_diam": 1.0,
                "n_tuft": 4,
                "tuft_polar": 45.0,
                "tuft_length": 95.0,
                "tuft_diam": 1.4,
            },
        ),
        "L5I": interneuron(
            "L5I",
            "L5 interneuron: compact multipolar cell within L5 (soma at -1046.1 um).",
        ),
        "L6E": pyramid(
            "L6E",
            "L6 pyramidal cell (corticothalamic type): basal dendrites in L6, apical trunk "
            "through L5 into L4, tuft in upper L4 reaching the bottom of L2/3 (soma at "
            "-1330.85 um).",
            {
                "soma_length": 16.0,
                "soma_diam": 16.0,
                "n_basal": 5,
                "basal_polar": 135.0,
                "basal_lengths": (40.0, 110.0),
                "basal_diams": (1.5, 1.0),
                "trunk_top": LAYERS["L4"][0] - 80.0 - l6,
                "trunk_diams": (2.5, 1.5),
                "obliques": (200.0, 320.0),
                "oblique_length": 90.0,
                "oblique_diam": 0.9,
                "n_tuft": 3,
                "tuft_polar": 40.0,
                "tuft_length": 160.0,
                "tuft_diam": 1.0,
            },
        ),
        "L6I": interneuron(
            "L6I",
            "L6 interneuron: compact multipolar cell within L6 (soma at -1330.85 um).",
        ),
    }


def main():
    for name, cell in cells().items():
        path = HERE / f"{name}.hoc"
        path.write_text(cell.hoc())
        low, high = cell.extent()
        print(
            f"{path.name}: {len(cell.sections)} sections, total length "
            f"{cell.total_length():.0f} um, z {low:.1f} to {high:.1f} um from the soma"
        )


if __name__ == "__main__":
    main()
