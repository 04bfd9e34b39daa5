"""Write L5PC_hay_style.swc: the layer-5 pyramidal cell morphology of hpckernels' shipped
Hay-style model (config/hay_l5pc.yaml), drawn by this script (not a reconstruction).

Soma at the origin, apical dendrite along +z (pia up), everything in um:

- soma: cylinder z -10..10, diameter 20;
- axon: 60 um stub straight down (diameter 1), as Hay et al. (2011) keep of the axon;
- basal dendrites: 5 primaries (150 um, diameter 1.6 -> 1.0) spreading downwards, each
  ending in 2 daughters (120 um, diameter 1.0 -> 0.6);
- apical trunk: z 10..700, diameter 4 -> 2, with 6 oblique branches (180 um, diameter
  1.0 -> 0.6) leaving it at 100, 200, ..., 600 um at alternating azimuths;
- tuft: the trunk forks at 700 um into 2 branches (200 um, diameter 1.6 -> 1.2), each
  forking into 2 tuft dendrites (330 um, diameter 1.0 -> 0.5) that reach z ~ 1150-1200.

Points are 10 um apart along each branch. Run ``python make_l5pc_swc.py`` in this folder to
rewrite the file (the output is deterministic).
"""

from pathlib import Path

import numpy as np

SOMA, AXON, BASAL, APICAL = 1, 2, 3, 4
STEP = 10.0  # um between points along a branch


class SWC:
    """Points of an SWC file: id, type, x, y, z, radius, parent."""

    def __init__(self):
        self.rows = []

    def add(self, kind, xyz, diameter, parent):
        self.rows.append((len(self.rows) + 1, kind, *map(float, xyz), diameter / 2, parent))
        return len(self.rows)

    def branch(self, kind, start, parent, direction, length, d0, d1):
        """A straight branch from ``start`` (the parent's point) along ``direction``;
        returns the id and position of its last point."""
        direction = np.asarray(direction, dtype=float)
        direction /= np.linalg.norm(direction)
        n = max(1, int(round(length / STEP)))
        for k in range(1, n + 1):
            point = np.asarray(start) + direction * length * k / n
            parent = self.add(kind, point, d0 + (d1 - d0) * k / n, parent)
        return parent, np.asarray(start) + direction * length

    def text(self):
        lines = [
            "# L5PC_hay_style.swc: layer-5 pyramidal cell morphology drawn by hpckernels",
            "# (config/morphologies/make_l5pc_swc.py), for the Hay-style model of",
            "# config/hay_l5pc.yaml. Units um; apical dendrite along +z.",
            "# id type x y z radius parent",
        ]
        for row in self.rows:
            i, kind, x, y, z, r, parent = row
            lines.append(f"{i} {kind} {x:.3f} {y:.3f} {z:.3f} {r:.3f} {parent}")
        return "\n".join(lines) + "\n"


def azimuth(angle_deg, elevation_deg):
    """Unit vector at an azimuth (around z) and elevation (from the xy-plane), degrees."""
    a, e = np.radians(angle_deg), np.radians(elevation_deg)
    return np.array([np.cos(a) * np.cos(e), np.sin(a) * np.cos(e), np.sin(e)])


def build():
    swc = SWC()
    bottom = swc.add(SOMA, (0, 0, -10), 20.0, -1)
    centre = swc.add(SOMA, (0, 0, 0), 20.0, bottom)
    top = swc.add(SOMA, (0, 0, 10), 20.0, centre)
    swc.branch(AXON, (0, 0, -10), bottom, (0, 0, -1), 60.0, 1.0, 1.0)
    for i in range(5):
        end, tip = swc.branch(BASAL, (0, 0, -10), bottom, azimuth(72 * i, -35), 150, 1.6, 1.0)
        for side in (-25, 25):
            swc.branch(BASAL, tip, end, azimuth(72 * i + side, -45), 120, 1.0, 0.6)
    # apical trunk in 100 um pieces, an oblique at the end of each of the first six
    parent, point = top, np.array([0.0, 0.0, 10.0])
    for i in range(7):
        length = 90.0 if i == 0 else 100.0
        d0, d1 = 4.0 - 2.0 * i / 7, 4.0 - 2.0 * (i + 1) / 7
        parent, point = swc.branch(APICAL, point, parent, (0, 0, 1), length, d0, d1)
        if i < 6:
            swc.branch(APICAL, point, parent, azimuth(60 + 110 * i, 35), 180, 1.0, 0.6)
    for side in (0, 180):
        end, tip = swc.branch(APICAL, point, parent, azimuth(side, 70), 200, 1.6, 1.2)
        for turn in (-40, 40):
            swc.branch(APICAL, tip, end, azimuth(side + turn, 60), 330, 1.0, 0.5)
    return swc


if __name__ == "__main__":
    out = Path(__file__).with_name("L5PC_hay_style.swc")
    out.write_text(build().text())
    print(f"wrote {out}")
