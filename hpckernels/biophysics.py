"""Membrane biophysics of the cell that represents a population.

One class per ``cell.biophysics.type`` of the config, registered in
:data:`BIOPHYSICS`. A biophysics type knows how its mechanisms are inserted into an
LFPy cell, how the mean synaptic conductance (``g_eff``) enters its leak, and the
membrane potential of its rest state, at which synapses are linearized and the
simulation starts.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

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
    """

    name: ClassVar[str]

    def __init__(self, spec, vrest):
        self.spec = spec
        self.vrest = float(vrest)

    def insert(self, cell):
        """Insert the membrane mechanisms (an LFPy ``custom_fun``)."""
        raise NotImplementedError

    def add_leak(self, cell, conductance):
        """Add a conductance density (S/cm2, one value per segment) to the leak."""
        raise NotImplementedError

    def rest_potential(self, cell):
        """Membrane potential (mV) of every segment at rest, in LFPy's segment order."""
        return np.full(cell.totnsegs, self.vrest)


@BIOPHYSICS.register
class Passive(Biophysics):
    """Uniform passive leak ``g_pas`` (S/cm2) reversing at ``simulation.vrest``.

    The cell is then at rest at ``vrest`` from t = 0, and the mean synaptic
    conductance added to ``g_pas`` does not move it (the linearized model of
    Hagen et al. 2022).
    """

    name = "passive"

    def insert(self, cell):
        for section in cell.allseclist:
            section.insert("pas")
            section.g_pas = self.spec["g_pas"]
            section.e_pas = self.vrest

    def add_leak(self, cell, conductance):
        segments = [segment for section in cell.allseclist for segment in section]
        for segment, extra in zip(segments, conductance, strict=True):
            segment.g_pas += extra


def biophysics(spec, vrest, where="cell.biophysics"):
    """The :class:`Biophysics` of a config ``cell.biophysics`` entry."""
    return BIOPHYSICS.lookup(spec["type"], f"{where}.type")(spec, vrest)
