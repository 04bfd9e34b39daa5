"""Run lfpykernels 0.2.0 (the reference implementation) on an hpckernels config.

Test-only: translates a NetworkConfig pathway into KernelApprox arguments so that
both implementations compute the same kernel from the same numbers.

Active cells take the route of Hagen et al. (2022)'s code: every mechanism is replaced by
its hand-written frozen twin, or its hand-written (Remme-Rinzel) linearization where the
config asks for quasi-active (tests/mechanisms/reference), with the potential V_R of the
uniform operating point, and the leak's reversal potential is set per segment so that the
cell rests at V_R (``make_cell_uniform``).
"""

from pathlib import Path

import numpy as np
import scipy.stats as st

from hpckernels.biophysics import biophysics
from hpckernels.cell import segment_rule
from hpckernels.distributions import multapse_pmf
from hpckernels.probes import linspace_or_array

#: The hand-written reference mechanisms (frozen and linearized twins).
REFERENCE_MECHANISMS = Path(__file__).resolve().parent / "mechanisms" / "reference"
#: Frozen twin of each mechanism of config/mechanisms/hay_l5pc and its conductance.
FROZEN = {
    "NaTa_t": ("NaTa_t_frozen", "gNaTa_tbar"),
    "Nap_Et2": ("Nap_Et2_frozen", "gNap_Et2bar"),
    "SKv3_1": ("SKv3_1_frozen", "gSKv3_1bar"),
    "Im": ("Im_frozen", "gImbar"),
    "Ih": ("Ih_frozen", "gIhbar"),
}
#: Quasi-active (Remme-Rinzel) twins.
LINEARIZED = {"Ih": ("Ih_linearized", "gIhbar")}


def swap_mechanisms(cell, Vrest, modes):
    """Replace each active mechanism by its twin at V_R = Vrest, keeping its conductance
    density per segment (an LFPy custom_fun)."""
    for sec in cell.allseclist:
        present = sec.psection()["density_mechs"]
        for name in list(present):
            if name not in FROZEN:
                continue
            twin, gbar = (LINEARIZED if modes(name) == "quasi-active" else FROZEN)[name]
            values = [getattr(getattr(seg, name), gbar) for seg in sec]
            sec.uninsert(name)
            sec.insert(twin)
            for seg, value in zip(sec, values, strict=True):
                mechanism = getattr(seg, twin)
                setattr(mechanism, gbar, value)
                mechanism.V_R = Vrest


def make_cell_uniform(cell, Vrest):
    """The leak's reversal potential per segment such that the cell rests at Vrest (the
    paper's make_cell_uniform)."""
    from neuron import h

    h.t = 0
    h.finitialize(Vrest)
    h.fcurrent()
    for sec in cell.allseclist:
        mechanisms = sec.psection()["density_mechs"]
        for seg in sec:
            current = 0.0
            for ion in ("na", "k"):
                if hasattr(seg, f"{ion}_ion"):
                    current += getattr(seg, f"i{ion}")
            for name in ("Ih_frozen", "Ih_linearized"):
                if name in mechanisms:
                    current += getattr(seg, f"ihcn_{name}")
            seg.e_pas = seg.v + current / seg.g_pas


def _dist(spec, ignore=()):
    kwargs = {k: v for k, v in spec.items() if k != "distribution" and k not in ignore}
    return getattr(st, spec["distribution"]), kwargs


class _RestrictedDiscrete:
    """A discrete multapse distribution restricted to 1..99 synapses and renormalised,
    as hpckernels reads it (:func:`hpckernels.distributions.multapse_pmf`; README:
    differences by design). lfpykernels takes a discrete distribution as it is: a
    Poisson's mean would be mu, counting pairs with 0 synapses (the microcircuit's rare
    pathways have mu ~ 1e-3)."""

    def __init__(self, name):
        self.name = name

    def pmf(self, k, **kwargs):  # lfpykernels tells discrete from continuous by this
        return self(**kwargs).pmf(k)

    def __call__(self, **kwargs):
        counts, pmf = multapse_pmf({"distribution": self.name, **kwargs})
        return st.rv_discrete(values=(counts, pmf))


_RESTRICTED = {}


def _multapse(spec):
    """(distribution, kwargs) for lfpykernels' multapseFunction/multapseParameters."""
    dist, kwargs = _dist(spec)
    if isinstance(dist, st.rv_discrete):
        dist = _RESTRICTED.setdefault(
            spec["distribution"], _RestrictedDiscrete(spec["distribution"])
        )
    return dist, kwargs


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


def reference_kernels(config, pre, post, probes, t_X=500.0, vrest=None):
    """Kernels of pathway pre -> post from lfpykernels.KernelApprox.get_kernel.

    Parameters
    ----------
    probes : list
        lfpykit-like probe instances created with cell=None.
    vrest : list of float, optional
        Per-compartment potentials at which get_kernel linearizes the synapses (default
        the config's scalar vrest).
    """
    import lfpykernels

    linearize_at = vrest
    sim = config.simulation
    vrest = sim["vrest"]
    population = config.populations[post]
    spec = population["cell"]
    membrane = biophysics(spec["biophysics"], vrest)
    if membrane.name == "passive":
        g_pas = spec["biophysics"]["g_pas"]

        def set_passive(cell, Vrest):
            for sec in cell.template.all:
                sec.insert("pas")
                sec.g_pas = g_pas
                sec.e_pas = Vrest

        custom_fun, nseg = [set_passive], segment_rule(spec)
    else:
        assert membrane.operating_point == "uniform" and np.ndim(membrane.rest_vrest(1)) == 1
        vrest = float(membrane.rest_vrest(1)[0])
        custom_fun = [
            lambda cell, Vrest: membrane.insert(cell),
            lambda cell, Vrest: swap_mechanisms(cell, Vrest, membrane.mode),
            make_cell_uniform,
        ]
        nseg = segment_rule(spec)
        if membrane.celsius is not None:
            nseg["celsius"] = membrane.celsius
    template = spec["template"]

    into = config.connections_into(post) if sim["g_eff"] else [config.connection(pre, post)]
    X = [c["pre"] for c in into]
    multapse = [_multapse(c["multapse"]) for c in into]
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
            "templatefile": (
                str(config.path(template["file"]))
                if isinstance(template["file"], str)
                else [str(config.path(f)) for f in template["file"]]
            ),
            "templatename": template["name"],
            "templateargs": (
                str(config.path(spec["morphology"]))
                if template.get("morphology_argument")
                else None
            ),
            "morphology": str(config.path(spec["morphology"])),
            "custom_fun": custom_fun,
            "custom_fun_args": [{"Vrest": vrest}] * len(custom_fun),
            "delete_sections": False,
            **nseg,
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
        Vrest=vrest if linearize_at is None else linearize_at,
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
