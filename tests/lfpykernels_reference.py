"""Run lfpykernels 0.2.0 (the reference implementation) on an hpckernels config.

Test-only: translates a NetworkConfig pathway into KernelApprox arguments so that
both implementations compute the same kernel from the same numbers.
"""

import numpy as np
import scipy.stats as st

from hpckernels.probes import linspace_or_array


def _dist(spec, ignore=()):
    kwargs = {k: v for k, v in spec.items() if k != "distribution" and k not in ignore}
    return getattr(st, spec["distribution"]), kwargs


def _synapse(spec):
    out = {"syntype": spec["type"], "weight": spec["weight"]}
    if spec["current_based"]:
        out["syntype"] = spec["type"] + "I"
    else:
        out["e"] = spec["e"]
    for key in ("tau1", "tau2", "tau"):
        if key in spec:
            out[key] = spec[key]
    return out


def reference_kernels(config, pre, post, probes, t_X=500.0):
    """Kernels of pathway pre -> post from lfpykernels.KernelApprox.get_kernel.

    Parameters
    ----------
    probes : list
        lfpykit-like probe instances created with cell=None.
    """
    import lfpykernels

    sim = config.simulation
    vrest = sim["vrest"]
    population = config.populations[post]
    spec = population["cell"]
    g_pas = spec["biophysics"]["g_pas"]

    def set_passive(cell, Vrest):
        for sec in cell.template.all:
            sec.insert("pas")
            sec.g_pas = g_pas
            sec.e_pas = Vrest

    into = config.connections_into(post) if sim["g_eff"] else [config.connection(pre, post)]
    X = [c["pre"] for c in into]
    multapse = [_dist(c["multapse"]) for c in into]
    delay = [_dist(c["delay"]) for c in into]
    assert len({m[0] for m in multapse}) == 1 and len({d[0] for d in delay}) == 1
    placement = []
    for c in into:
        funs, funargs, weights = [], [], []
        for density in c["placement"]["densities"]:
            fun, kwargs = _dist(density, ignore=("weight",))
            funs.append(fun)
            funargs.append(kwargs)
            weights.append(density.get("weight", 1.0))
        placement.append(
            {
                "section": c["placement"]["sections"],
                "fun": funs,
                "funargs": funargs,
                "funweights": weights,
            }
        )
    external = population.get("external") or {
        "count": 0.0,
        "rate": 0.0,
        "synapse": {
            "type": "Exp2Syn",
            "weight": 0.0,
            "tau1": 0.2,
            "tau2": 1.8,
            "e": 0.0,
            "current_based": False,
        },
    }
    kernel = lfpykernels.KernelApprox(
        X=X,
        Y=post,
        N_X=np.array([config.populations[x]["size"] for x in X]),
        N_Y=population["size"],
        C_YX=np.array([c["probability"] for c in into], dtype=float),
        cellParameters={
            "templatefile": str(config.path(spec["template"]["file"])),
            "templatename": spec["template"]["name"],
            "templateargs": None,
            "morphology": str(config.path(spec["morphology"])),
            "custom_fun": [set_passive],
            "custom_fun_args": [{"Vrest": vrest}],
            "delete_sections": False,
        },
        populationParameters={k: population["position"][k] for k in ("radius", "loc", "scale")},
        rotationParameters={
            "x": population["rotation"].get("x", 0.0),
            "y": population["rotation"].get("y", 0.0),
        },
        multapseFunction=multapse[0][0],
        multapseParameters=[m[1] for m in multapse],
        delayFunction=delay[0][0],
        delayParameters=[d[1] for d in delay],
        synapseParameters=[_synapse(c["synapse"]) for c in into],
        synapsePositionArguments=placement,
        extSynapseParameters=_synapse(external["synapse"]),
        nu_ext=external["rate"],
        n_ext=external["count"],
        nu_X={x: config.populations[x]["rate"] for x in X},
        conductance_based=not any(c["synapse"]["current_based"] for c in into),
    )
    return kernel.get_kernel(
        probes=probes,
        Vrest=vrest,
        dt=sim["dt"],
        X=pre,
        t_X=t_X,
        tau=sim["tau"],
        g_eff=sim["g_eff"],
        fir=sim["fir"],
    )


def reference_probe(spec):
    """lfpykernels / lfpykit probe (cell=None) equivalent to an hpckernels probe spec."""
    import lfpykernels
    import lfpykit

    spec = dict(spec)
    kind = spec.pop("type")
    kwargs = {k: linspace_or_array(v) for k, v in spec.items()}
    if kind == "GaussCylinderPotential":
        return lfpykernels.GaussCylinderPotential(cell=None, **kwargs)
    if kind == "CurrentDipoleMoment":
        if kwargs.pop("rotational_symmetry", False):
            return lfpykernels.KernelApproxCurrentDipoleMoment(cell=None)
        return lfpykit.CurrentDipoleMoment(cell=None)
    return getattr(lfpykit, kind)(cell=None, **kwargs)
