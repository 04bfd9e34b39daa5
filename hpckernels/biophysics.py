"""Membrane biophysics of the cell that represents a population.

One class per ``cell.biophysics.type`` of the config, registered in
:data:`BIOPHYSICS`. A biophysics type knows how its mechanisms are inserted into an
LFPy cell (``insert``), how the mean synaptic conductance (``g_eff``) enters its
membrane and what its linearized membrane and rest state are (``linearize``): the
membrane potential per segment at which synapses are linearized and the simulation
starts.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .errors import ConfigError
from .registry import Registry

#: Biophysics types of the config by name.
BIOPHYSICS = Registry("biophysics type")


class Biophysics:
    """Membrane mechanisms of a cell and its rest state.

    Parameters
    ----------
    spec : dict
        The config's ``cell.biophysics`` entry.
    vrest : float
        ``simulation.vrest`` (mV).
    where : str
        Config key of ``spec`` (for error messages).
    """

    name: ClassVar[str]
    #: Temperature (degC) the cell is simulated at; None leaves NEURON's.
    celsius = None
    #: ``steady-state`` or ``uniform``: where synapses are linearized (see the subclasses).
    operating_point = "uniform"
    #: Whether :meth:`linearize` finds an operating point with NEURON's equations (and
    #: keeps it in the user cache): the cell check then linearizes the cell once.
    linearizes = False
    #: Whether the membrane is linear already (leaks only): its linearization keeps the
    #: leak conductances as they are.
    linear = False

    def __init__(self, spec, vrest, where="cell.biophysics"):
        self.spec = spec
        self.vrest = float(vrest)
        self.where = where

    def check(self, cell_spec):
        """Raise ConfigError for what the schema cannot express (``cell_spec``: the
        population's ``cell`` entry)."""
        if "vrest" in self.spec and self.operating_point != "uniform":
            raise ConfigError(
                f"{self.where}.vrest",
                "only used with operating_point: uniform (the steady state finds its own)",
            )

    def insert(self, cell):
        """Insert the membrane mechanisms (an LFPy ``custom_fun``)."""
        raise NotImplementedError

    def linearize(self, cell, conductance, reversal, cache=None):
        """Turn the cell into its linearized membrane with the g_eff conductance added.

        Parameters
        ----------
        cell : LFPy.Cell
        conductance : ndarray
            g_eff conductance density (S/cm2) per segment.
        reversal : ndarray
            Its (conductance-weighted) reversal potential (mV) per segment.
        cache : Path, optional
            File keeping the linearization (read if present, else written): the content
            hash of everything it depends on names it.

        Returns
        -------
        vrest : ndarray
            Membrane potential (mV) per segment at rest.
        membrane : LinearMembrane or None
            What starts the cell at rest (None: a uniform ``finitialize(vrest[0])``).
        """
        raise NotImplementedError

    def linearized_membrane(self, cell, conductance, reversal, cache, quasi_active=None):
        """The cell turned into its linearization around the operating point of
        ``self.operating_point`` (``steady-state`` or ``uniform``), with the g_eff
        conductance (S/cm2) inserted at its ``reversal`` (mV) first.

        The :class:`~hpckernels.linearization.Linearization` is read from ``cache`` when
        there, else computed and stored; ``quasi_active(mechanism)`` chooses the
        mechanisms whose states become modes (default none: frozen).

        Returns
        -------
        vrest : ndarray
            The operating point (mV) per segment.
        membrane : LinearMembrane
        """
        from .linearization import Linearization, LinearMembrane, linearize

        lin = Linearization.load(cache) if cache is not None else None
        if lin is None or lin.vrest.size != cell.totnsegs:
            self.add_conductance(cell, conductance, reversal)
            vrest = self.rest_vrest(cell.totnsegs) if self.operating_point == "uniform" else None
            lin = linearize(cell, self.operating_point, vrest, self.where)
            if cache is not None:
                lin.save(cache)
        self.check_linearization(lin)
        modes = lin.modes(quasi_active or (lambda mechanism: False), self.where)
        # a membrane of leaks is linear: its conductance is theirs exactly, where the
        # numerical Jacobian's carries round-off (~1e-6), which a near-cancelling kernel
        # (a small dipole) would show
        if self.linear:
            leak = lin.passive_conductance - np.asarray(conductance, dtype=float)
            if np.any(leak <= 0):
                raise ConfigError(
                    f"{self.where}.linearization",
                    "passive keeps the cell's pas leak (and g_eff), and "
                    f"{int(np.sum(leak <= 0))} segments have none (a leak inside another "
                    "mechanism, as hh's, is removed with it)",
                )
        conductance = lin.passive_conductance if self.linear else lin.conductance
        # the verdict is kept with the stored linearization (its key covers this choice)
        stable = None if cache is None else cache.with_name(f"{cache.stem}.stable")
        if stable is None or not stable.is_file():
            lin.check_stable(conductance, modes, self.where)
            if stable is not None:
                stable.touch()
        return lin.vrest, LinearMembrane(cell, lin.vrest, conductance, modes, self.where)

    def check_linearization(self, lin):
        """Raise ConfigError for what the config asks of a linearization it lacks."""

    def rest_vrest(self, n_segments):
        """vrest (mV) per segment of the uniform operating point (``vrest`` of the spec,
        default ``simulation.vrest``)."""
        return np.full(n_segments, float(self.spec.get("vrest", self.vrest)))

    @staticmethod
    def add_conductance(cell, conductance, reversal):
        """Insert the g_eff conductance (S/cm2) with its reversal potential (mV)."""
        if not np.any(conductance):
            return
        for sec in cell.allseclist:
            sec.insert("geff")
        segments = [seg for sec in cell.allseclist for seg in sec]
        for seg, g, e in zip(segments, conductance, reversal, strict=True):
            seg.geff.g = g
            seg.geff.e = e


@BIOPHYSICS.register
class Passive(Biophysics):
    """Uniform passive leak ``g_pas`` (S/cm2) reversing at ``e_pas`` (mV, default
    ``simulation.vrest``).

    Operating point ``steady-state`` (self-consistent, the default): the g_eff
    conductances enter with their reversal potentials, so the rest is where the leak and
    the mean synaptic currents balance (per segment, with the axial currents); synapses
    are linearized there.
    ``uniform`` (the linearized model of Hagen et al. 2022 and lfpykernels): synapses are
    linearized at ``vrest`` (default ``simulation.vrest``) in every segment, and the mean
    synaptic conductance added to ``g_pas`` does not move the rest. The validation of
    every shipped network chose the default (docs/validation.md).
    """

    name = "passive"
    linear = True

    def __init__(self, spec, vrest, where="cell.biophysics"):
        super().__init__(spec, vrest, where)
        self.e_pas = float(spec.get("e_pas", vrest))
        self.operating_point = spec.get("operating_point", "steady-state")
        self.linearizes = self.operating_point == "steady-state"

    def insert(self, cell):
        for section in cell.allseclist:
            section.insert("pas")
            section.g_pas = self.spec["g_pas"]
            section.e_pas = self.e_pas

    def add_leak(self, cell, conductance):
        """Add a conductance density (S/cm2, one value per segment) to ``g_pas``."""
        segments = [segment for section in cell.allseclist for segment in section]
        for segment, extra in zip(segments, conductance, strict=True):
            segment.g_pas += extra

    def linearize(self, cell, conductance, reversal, cache=None):
        if self.linearizes:
            return self.linearized_membrane(cell, conductance, reversal, cache)
        self.add_leak(cell, conductance)
        # the linear twin rests where its synapses are linearized (only g matters)
        vrest = self.rest_vrest(cell.totnsegs)
        for section in cell.allseclist:
            section.e_pas = vrest[0]
        return vrest, None


@BIOPHYSICS.register
class Active(Biophysics):
    """The model's own mechanisms, linearized around an operating point.

    The template (if any) and the per-section recipe ``sections`` insert the
    mechanisms. :meth:`linearize` adds the g_eff conductance with its reversal
    potential (``geff`` of ``mod/``), finds the operating point (``steady-state``: the
    model's rest; ``uniform``: clamped to ``vrest`` by a compensating current per
    segment) and replaces the mechanisms by their linearization
    (:mod:`hpckernels.linearization`): ``frozen`` (a passive leak per segment) or
    ``quasi-active`` (plus one relaxing mode per state), chosen per mechanism; or
    ``passive`` for the whole cell: the channels removed, only the leaks (``pas`` and the
    g_eff conductance) at the operating point.
    """

    name = "active"

    def __init__(self, spec, vrest, where="cell.biophysics"):
        super().__init__(spec, vrest, where)
        self.celsius = spec.get("celsius")
        self.operating_point = spec.get("operating_point", "steady-state")
        choice = spec["linearization"]
        self.linearization = dict(choice) if isinstance(choice, dict) else {"default": choice}
        # passive: the channels removed, the leaks kept (linear already, as a passive cell)
        self.linear = choice == "passive"

    def check(self, cell_spec):
        super().check(cell_spec)
        if "template" not in cell_spec and not self.spec.get("sections"):
            raise ConfigError(
                f"{self.where}.sections",
                "an active cell without a template needs a recipe that inserts its mechanisms",
            )

    def mode(self, mechanism):
        """'frozen', 'quasi-active' (or 'passive': removed) for one mechanism."""
        return self.linearization.get(mechanism, self.linearization["default"])

    # ----------------------------------------------------------------- recipe
    def insert(self, cell):
        """Apply the per-section recipe (after the template's own biophysics)."""
        sections = list(cell.allseclist)
        for index, entry in enumerate(self.spec.get("sections", [])):
            where = f"{self.where}.sections[{index}]"
            chosen = [sec for sec in sections if _matches(sec, entry["sections"])]
            if not chosen:
                raise ConfigError(
                    f"{where}.sections",
                    f"no section named {', '.join(entry['sections'])} (the cell's "
                    f"sections: {', '.join(sorted({_base(s) for s in sections}))})",
                )
            for sec in chosen:
                _apply(sec, entry, where)

    def rest_vrest(self, n_segments):
        """vrest (mV) per segment of the uniform operating point."""
        value = self.spec.get("vrest", self.vrest)
        vrest = np.broadcast_to(np.asarray(value, dtype=float), np.shape(value) or (1,))
        if vrest.size == 1:
            return np.full(n_segments, float(vrest[0]))
        if vrest.size != n_segments:
            raise ConfigError(
                f"{self.where}.vrest",
                f"{vrest.size} values for the cell's {n_segments} segments (give one "
                "number, or one per segment in the cell's segment order)",
            )
        return vrest.astype(float)

    # ---------------------------------------------------------- linearization
    linearizes = True

    def linearize(self, cell, conductance, reversal, cache=None):
        return self.linearized_membrane(
            cell, conductance, reversal, cache, lambda m: self.mode(m) == "quasi-active"
        )

    def check_linearization(self, lin):
        unknown = sorted(set(self.linearization) - {"default"} - lin.mechanisms)
        if unknown:
            raise ConfigError(
                f"{self.where}.linearization.{unknown[0]}",
                f"the cell has no mechanism {unknown[0]} with states (mechanisms with "
                f"states: {', '.join(sorted(lin.mechanisms)) or 'none'})",
            )


def _base(section):
    """Base name of a section: 'apic' for 'Cell[0].apic[3]'."""
    return section.name().split(".")[-1].split("[")[0]


def _matches(section, names):
    return "all" in names or _base(section) in names


def _apply(sec, entry, where):
    """One recipe entry on one section."""
    if "Ra" in entry:
        sec.Ra = entry["Ra"]
    if "cm" in entry:
        sec.cm = entry["cm"]
    for mechanism, parameters in entry.get("mechanisms", {}).items():
        try:
            sec.insert(mechanism)
        except ValueError:
            raise ConfigError(
                f"{where}.mechanisms.{mechanism}",
                f"no mechanism '{mechanism}' in NEURON (a built-in one, or one of the "
                "config's mechanism folders)",
            ) from None
        for parameter, value in parameters.items():
            try:
                for seg in sec:
                    setattr(getattr(seg, mechanism), parameter, value)
            except (AttributeError, LookupError, ValueError, TypeError):
                raise ConfigError(
                    f"{where}.mechanisms.{mechanism}.{parameter}",
                    f"{mechanism} has no parameter '{parameter}'",
                ) from None
    for parameter, value in entry.get("ions", {}).items():
        try:
            setattr(sec, parameter, value)
        except (AttributeError, LookupError, ValueError, TypeError, NameError):
            raise ConfigError(
                f"{where}.ions.{parameter}",
                f"'{parameter}' is not an ion parameter of {sec.name()} (its ions come "
                "from the mechanisms inserted there)",
            ) from None


def biophysics(spec, vrest, where="cell.biophysics"):
    """The :class:`Biophysics` of a config ``cell.biophysics`` entry."""
    return BIOPHYSICS.lookup(spec["type"], f"{where}.type")(spec, vrest, where)
