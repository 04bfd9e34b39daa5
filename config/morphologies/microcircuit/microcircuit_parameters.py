#!/usr/bin/env python
"""Derive the numbers of config/microcircuit.yaml from the published microcircuit.

Prints the ``network`` maps (in-degrees, weights, delays) and the ``connections`` list
of the config (YAML) from the parameters of Potjans & Diesmann (2014, Cereb Cortex
24:785) as given in NEST's example (github.com/nest/nest-simulator,
``pynest/examples/Potjans_2014/network_params.py`` and ``helpers.py``). Run::

    python config/morphologies/microcircuit/microcircuit_parameters.py \\
        --binzegger binzegger_connectivity_table.json > blocks.yaml

``--binzegger`` is the Binzegger et al. (2004) connectivity table as distributed with
hybridLFPy (github.com/INM-6/hybridLFPy, ``examples/binzegger_connectivity_table.json``;
not copied here). It gives the layer in which each pathway's synapses lie; without it,
every pathway's synapses are placed around the postsynaptic soma layer.

Derivations (the config's assumptions, also in its comments and the README):

- Synapse counts: K = ln(1 - C) / ln(1 - 1 / (N_pre N_post)) (the NEST example), mean
  in-degree K / N_post. The network draws that many synapses between random pairs, so
  a pair is connected with probability C and a connected pair has a zero-truncated
  Poisson(K / (N_pre N_post)) number of synapses: the kernels' ``probability`` is C and
  their ``multapse`` is ``poisson`` with that mean, restricted to 1..99 by hpckernels;
  then the kernels' k_in equals the network's in-degree.
- Weights: PSC amplitudes (pA) of ``iaf_psc_exp`` for PSPs of 0.15 mV (excitatory),
  -4 x 0.15 mV (inhibitory) and 2 x 0.15 mV for L4E -> L2/3E (``helpers.py``
  ``postsynaptic_potential_to_current``); the kernels' current-based ``ExpSyn`` weights
  are the same in nA, tau_syn = 0.5 ms.
- Delays: normal(1.5 ms, 0.75 ms) from excitatory, normal(0.75 ms, 0.375 ms) from
  inhibitory populations, redrawn below dt = 0.1 ms: a truncnorm with a = (0.1 - mean) /
  sd, b = inf for the kernels.
- Placement: for pathway X -> Y the fraction f_L of synapses in layer L from the
  Binzegger table, summed over the cell types of X (presynaptic) and Y (postsynaptic,
  weighted by their occurrence), as hybridLFPy's ``get_L_yXL`` does. Layers with f_L <
  1 %, or in which Y's model cell has less than 1 % of its membrane area, are dropped and
  the rest renormalised. Each layer is a normal density over depth at the layer's middle
  with the layer's standard deviation (thickness / sqrt(12)); its mixture weight is f_L
  divided by the cell's area under that density (at its mean depth, widened by the soma
  spread as hpckernels does), so that a fraction f_L of the synapses falls under each
  layer's density.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CONFIG_DIR = HERE.parents[1]
sys.path.insert(0, str(HERE))

from make_morphologies import LAYERS  # noqa: E402

POPULATIONS = ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]
#: Full-scale population sizes.
SIZES = np.array([20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948], dtype=float)
#: Connection probabilities [post, pre].
CONN_PROBS = np.array(
    [
        [0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0.0, 0.0076, 0.0],
        [0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0.0, 0.0042, 0.0],
        [0.0077, 0.0059, 0.0497, 0.135, 0.0067, 0.0003, 0.0453, 0.0],
        [0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0.0, 0.1057, 0.0],
        [0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.0],
        [0.0548, 0.0269, 0.0257, 0.0022, 0.06, 0.3158, 0.0086, 0.0],
        [0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252],
        [0.0364, 0.001, 0.0034, 0.0005, 0.0277, 0.008, 0.0658, 0.1443],
    ]
)
PSP_EXC, G = 0.15, -4.0  # mV, relative inhibitory strength
C_M, TAU_M, TAU_SYN = 250.0, 10.0, 0.5  # pF, ms, ms
DELAY_EXC, DELAY_INH, DELAY_REL_SD, DT = 1.5, 0.75, 0.5, 0.1  # ms
#: Population -> cell types of the Binzegger table (as hybridLFPy's y_in_Y).
CELL_TYPES = {
    "L23E": ["p23"],
    "L23I": ["b23", "nb23"],
    "L4E": ["p4", "ss4(L23)", "ss4(L4)"],
    "L4I": ["b4", "nb4"],
    "L5E": ["p5(L23)", "p5(L56)"],
    "L5I": ["b5", "nb5"],
    "L6E": ["p6(L4)", "p6(L56)"],
    "L6I": ["b6", "nb6"],
}
#: Binzegger layer keys -> layer names of LAYERS.
TABLE_LAYERS = {"1": "L1", "23": "L23", "4": "L4", "5": "L5", "6": "L6"}
#: Thresholds of the placement (see the module docstring).
MIN_SHARE, MIN_AREA = 0.01, 0.01


def synapse_counts():
    """K[post, pre]: total synapses of the full-scale network (NEST example)."""
    prod = np.outer(SIZES, SIZES)
    return np.log(1.0 - CONN_PROBS) / np.log((prod - 1.0) / prod)


def indegrees():
    """Mean in-degree [post, pre] of the full-scale network."""
    return synapse_counts() / SIZES[:, None]


def psc_over_psp():
    """PSC amplitude (pA) per PSP amplitude (mV) of iaf_psc_exp (NEST example)."""
    sub = 1.0 / (TAU_SYN - TAU_M)
    pre = TAU_M * TAU_SYN / C_M * sub
    frac = (TAU_M / TAU_SYN) ** sub
    return 1.0 / (pre * (frac**TAU_M - frac**TAU_SYN))


def weights():
    """Mean PSC amplitudes J[post, pre] (pA), L4E -> L2/3E doubled."""
    psp = np.tile([PSP_EXC, G * PSP_EXC], (8, 4))
    psp[0, 2] = 2 * PSP_EXC
    return psp * psc_over_psp()


def delay_spec(pre):
    """The kernels' delay distribution of presynaptic population ``pre``."""
    mean = DELAY_EXC if pre.endswith("E") else DELAY_INH
    sd = DELAY_REL_SD * mean
    return {"distribution": "truncnorm", "a": round((DT - mean) / sd, 6), "b": ".inf",
            "loc": mean, "scale": sd}  # fmt: skip


def layer_shares(table, pre, post):
    """{layer: f_L} of pathway pre -> post from the Binzegger table (None if it has no
    synapses of this pathway)."""
    counts = dict.fromkeys(TABLE_LAYERS.values(), 0.0)
    for y in CELL_TYPES[post]:
        entry = table["data"][y]
        for key, row in entry["syn_dict"].items():
            share = sum(row[x] for x in CELL_TYPES[pre]) / 100.0
            counts[TABLE_LAYERS[key]] += (
                entry["occurrence"] * row["number of synapses per neuron"] * share
            )
    total = sum(counts.values())
    return None if total == 0 else {k: v / total for k, v in counts.items()}


def layer_density(layer):
    top, bottom = LAYERS[layer]
    return {"loc": round((top + bottom) / 2, 3), "scale": round((top - bottom) / 12**0.5, 3)}


def cell_geometry(config, post):
    """(segment midpoint depths, areas) of population ``post``'s cell at its mean depth."""
    from hpckernels.cell import build_cell

    cell = build_cell(config, post, tstop=1.0)
    z, area = cell.z.mean(axis=-1), cell.area.copy()
    cell.strip_hoc_objects()
    return z, area


def placement(config, table, pre, post):
    """The ``placement`` of pathway pre -> post (see the module docstring)."""
    from hpckernels.distributions import placement_weights

    z, area = cell_geometry(config, post)
    spread = config.populations[post]["position"]["scale"]
    soma_layer = {"2": "L23", "4": "L4", "5": "L5", "6": "L6"}[post[1]]
    shares = (layer_shares(table, pre, post) if table else None) or {soma_layer: 1.0}
    keep = {}
    for layer, share in shares.items():
        top, bottom = LAYERS[layer]
        inside = area[(z <= top) & (z > bottom)].sum() / area.sum()
        if share >= MIN_SHARE and inside >= MIN_AREA:
            keep[layer] = share
    total = sum(keep.values())
    densities = []
    for layer, share in keep.items():
        density = {"distribution": "norm", **layer_density(layer)}
        under = float(np.sum(area * placement_weights(z, [density], spread)))
        densities.append((density, share / total / under, share / total))
    top_weight = max(w for _, w, _ in densities)
    return [
        {**density, "weight": float(f"{w / top_weight:.6g}"), "share": share}
        for density, w, share in densities
    ]


def _flow(mapping):
    return "{" + ", ".join(f"{k}: {v}" for k, v in mapping.items()) + "}"


def print_network():
    kin, J = indegrees(), weights()
    print("  indegree:")
    for j, pre in enumerate(POPULATIONS):
        row = {post: f"{kin[i, j]:.6g}" for i, post in enumerate(POPULATIONS) if kin[i, j] > 0}
        print(f"    {pre}: {_flow(row)}")
    print("  J:")
    for j, pre in enumerate(POPULATIONS):
        row = {post: f"{J[i, j]:.8g}" for i, post in enumerate(POPULATIONS) if kin[i, j] > 0}
        print(f"    {pre}: {_flow(row)}")
    print("  delay:")
    for j, pre in enumerate(POPULATIONS):
        mean = DELAY_EXC if pre.endswith("E") else DELAY_INH
        row = {post: mean for i, post in enumerate(POPULATIONS) if kin[i, j] > 0}
        print(f"    {pre}: {_flow(row)}")


def _anchored(defined, name, value):
    """``&name value`` the first time, ``*name`` after (YAML anchors and aliases)."""
    if name in defined:
        return f"*{name}"
    defined.add(name)
    return f"&{name} {_flow(value)}"


def print_connections(config, table):
    kin, J = indegrees(), weights()
    defined = set()
    print("connections:")
    for i, post in enumerate(POPULATIONS):
        for j, pre in enumerate(POPULATIONS):
            if CONN_PROBS[i, j] == 0:
                continue
            kind = "E" if pre.endswith("E") else "I"
            name = "synapse_L4E_L23E" if (pre, post) == ("L4E", "L23E") else f"synapse_{kind}"
            synapse = _anchored(
                defined,
                name,
                {"type": "ExpSyn", "tau": TAU_SYN, "weight": f"{J[i, j] / 1000:.8g}",
                 "current_based": "true"},
            )  # fmt: skip
            delay = _anchored(defined, f"delay_{kind}", delay_spec(pre))
            densities = placement(config, table, pre, post)
            shares = ", ".join(
                f"{layer} {d['share']:.3f}"
                for d in densities
                for layer in LAYERS
                if layer_density(layer)["loc"] == d["loc"]
            )
            print(f"  - pre: {pre}  # synapse share per layer: {shares}")
            print(f"    post: {post}")
            print(f"    probability: {CONN_PROBS[i, j]}")
            print(f"    multapse: {{distribution: poisson, mu: {kin[i, j] / SIZES[j]:.6g}}}")
            print(f"    delay: {delay}")
            print(f"    synapse: {synapse}")
            print("    placement:")
            print("      sections: [soma, dend, apic]")
            print("      densities:")
            for d in densities:
                body = {k: v for k, v in d.items() if k != "share"}
                print(f"        - {_flow(body)}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binzegger", type=Path, help="binzegger_connectivity_table.json")
    parser.add_argument(
        "--config", type=Path, default=CONFIG_DIR / "microcircuit.yaml", help="for the cells"
    )
    args = parser.parse_args(argv)
    from hpckernels.config import NetworkConfig

    config = NetworkConfig.from_file(args.config)
    table = json.loads(args.binzegger.read_text()) if args.binzegger else None
    print("network:")
    print_network()
    print_connections(config, table)


if __name__ == "__main__":
    main()
