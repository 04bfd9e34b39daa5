"""Synthetic P-population networks for tests and benchmarks (until and besides
config/microcircuit.yaml): config/two_population.yaml with its E and I populations
repeated.

Population Pi is E-like (ball-and-sticks E cell, E->x connection parameters of the
paper's network) for even i and I-like for odd i; all P^2 pathways exist. The synapse
kinetics of pathway Pi -> Pj depend on i, so that every population receives up to four
kinetics: Exp2Syn (0.2, 1.8 ms) for i % 4 == 0, Exp2Syn (0.1, 9 ms) for i % 4 == 1,
ExpSyn (2 ms) for i % 4 == 2 and ExpSyn (6 ms) for i % 4 == 3.
"""

import copy
from pathlib import Path

import yaml

CONFIGS = Path(__file__).resolve().parents[1] / "config"

#: Synapse kinetics of the pathways from population i, by i % 4.
KINETICS = (
    {"type": "Exp2Syn", "tau1": 0.2, "tau2": 1.8},
    {"type": "Exp2Syn", "tau1": 0.1, "tau2": 9.0},
    {"type": "ExpSyn", "tau": 2.0},
    {"type": "ExpSyn", "tau": 6.0},
)


def synthetic_data(
    n_populations,
    g_eff=True,
    current_based=False,
    max_length=None,
    probes=("lfp", "dipole"),
    run=None,
):
    """The config dict of a synthetic network (cell files by absolute path).

    Parameters
    ----------
    n_populations : int
    g_eff : bool
    current_based : bool
        Current-based synapses (weights in nA; needs g_eff False).
    max_length : float, optional
        ``nseg: {method: fixed_length, max_length}`` (um) on every cell: more segments.
    probes : sequence of str
        Probe names: ``lfp`` (GaussCylinderPotential, 13 contacts), ``dipole``, ``csd``
        (LaminarCurrentSourceDensity, 13 contacts), ``eeg`` (four-sphere head on
        ``dipole``), or any other name for a copy of ``lfp``.
    run : str, optional
        ``workflow.run`` (default ``p<P>``).
    """
    base = yaml.safe_load((CONFIGS / "two_population.yaml").read_text())
    head = yaml.safe_load((CONFIGS / "config.yaml").read_text())["probes"]
    templates = {}
    for connection in base["connections"]:
        templates[(connection["pre"], connection["post"])] = connection
    names = [f"P{i}" for i in range(n_populations)]
    kind = {name: "EI"[i % 2] for i, name in enumerate(names)}
    data = copy.deepcopy(base)
    data["simulation"]["g_eff"] = g_eff
    data["populations"] = {}
    for name in names:
        population = copy.deepcopy(base["populations"][kind[name]])
        cell = population["cell"]
        cell["template"]["file"] = str(CONFIGS / cell["template"]["file"])
        cell["morphology"] = str(CONFIGS / cell["morphology"])
        if max_length is not None:
            cell["nseg"] = {"method": "fixed_length", "max_length": float(max_length)}
        data["populations"][name] = population
    data["connections"] = []
    for post in names:
        for i, pre in enumerate(names):
            connection = copy.deepcopy(templates[(kind[pre], kind[post])])
            connection.update(pre=pre, post=post)
            synapse = dict(KINETICS[i % 4])
            if current_based:
                synapse.update(weight=0.05 if kind[pre] == "E" else -0.2, current_based=True)
            else:
                synapse.update(
                    weight=connection["synapse"]["weight"], e=connection["synapse"]["e"]
                )
            connection["synapse"] = synapse
            data["connections"].append(connection)
    data["probes"] = {}
    for probe in probes:
        if probe == "dipole":
            data["probes"][probe] = {"type": "CurrentDipoleMoment"}
        elif probe == "csd":
            data["probes"][probe] = {
                "type": "LaminarCurrentSourceDensity",
                "z": [[z - 50.0, z + 50.0] for z in range(-200, 1100, 100)],
                "r": [150.0] * 13,
            }
        elif probe == "eeg":
            data["probes"][probe] = dict(head["eeg"], dipole="dipole")
        else:
            data["probes"][probe] = copy.deepcopy(base["probes"]["lfp"])
    data["workflow"] = {"run": run or f"p{n_populations}"}
    return data


def synthetic_config(folder, n_populations, name=None, **options):
    """Write :func:`synthetic_data` to ``folder/<name>.yaml``; the path."""
    data = synthetic_data(n_populations, **options)
    path = Path(folder) / f"{name or data['workflow']['run']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def reduced_microcircuit(run="microcircuit_reduced", scale=0.01, duration=300.0):
    """config/microcircuit.yaml made small enough for a test (file paths absolute): all
    8 populations and 55 pathways, the NEST network at ``scale`` for ``duration`` ms,
    cells with 40 um segments, probes LFP, CSD and dipole only.
    """
    data = yaml.safe_load((CONFIGS / "microcircuit.yaml").read_text())
    data["workflow"]["run"] = run
    data["network"].update(scale=scale, duration=duration)
    data["signals"]["t_start"] = 100.0
    for population in data["populations"].values():
        cell = population["cell"]
        cell["morphology"] = str(CONFIGS / cell["morphology"])
        if "template" in cell:
            cell["template"]["file"] = str(CONFIGS / cell["template"]["file"])
        cell["nseg"] = {"method": "fixed_length", "max_length": 40.0}
    data["probes"] = {name: data["probes"][name] for name in ("lfp", "csd", "dipole")}
    return data
