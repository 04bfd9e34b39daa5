"""The linearized multicompartment cell that represents a postsynaptic population.

One cell, at the population's mean depth, stands for all cells of population Y:
synapse placement is widened by the spread of soma depths, and the mean
conductances of background and recurrent synapses are added to the leak
(``g_eff``), which makes the cell's response the population-average linear
response around ``vrest``.
"""

from __future__ import annotations

import lfpykit
import numpy as np

from . import distributions, synapses


def _insert_passive(cell, g_pas, e_pas):
    """LFPy custom function: uniform passive leak (S/cm2) reversing at e_pas (mV)."""
    for sec in cell.allseclist:
        sec.insert("pas")
        sec.g_pas = g_pas
        sec.e_pas = e_pas


def build_cell(config, post, tstop):
    """Create the LFPy cell of population ``post`` at rest.

    The membrane starts at ``vrest``, which is also the leak reversal, so the
    cell is in steady state from t = 0 and needs no settling period.

    Parameters
    ----------
    config : NetworkConfig
    post : str
        Postsynaptic population name.
    tstop : float
        Simulation duration (ms).

    Returns
    -------
    LFPy.TemplateCell
    """
    import LFPy

    sim = config.simulation
    population = config.populations[post]
    spec = population["cell"]
    nseg = spec.get("nseg", {})
    kwargs = {}
    if nseg.get("method") == "fixed_length":
        kwargs = {"nsegs_method": "fixed_length", "max_nsegs_length": nseg["max_length"]}
    elif nseg.get("method") == "lambda_f":
        kwargs = {"nsegs_method": "lambda_f", "lambda_f": nseg.get("lambda_f", 100.0)}
    cell = LFPy.TemplateCell(
        templatefile=str(config.path(spec["template"]["file"])),
        templatename=spec["template"]["name"],
        templateargs=None,
        morphology=str(config.path(spec["morphology"])),
        v_init=sim["vrest"],
        dt=sim["dt"],
        tstart=0.0,
        tstop=tstop,
        delete_sections=True,
        custom_fun=[_insert_passive],
        custom_fun_args=[{"g_pas": spec["biophysics"]["g_pas"], "e_pas": sim["vrest"]}],
        **kwargs,
    )
    rotation = population.get("rotation", {})
    if rotation:
        cell.set_rotation(**{axis: rotation[axis] for axis in ("x", "y", "z")
                             if axis in rotation})
    cell.set_pos(z=population["position"]["loc"])
    return cell


def segments(cell):
    """NEURON segments in LFPy's order (the order of cell.area, cell.z, imem rows)."""
    return [seg for sec in cell.allseclist for seg in sec]


def geometry(cell):
    """lfpykit geometry (um) of the cell's segments, detached from NEURON."""
    return lfpykit.CellGeometry(x=cell.x.copy(), y=cell.y.copy(), z=cell.z.copy(),
                                d=cell.d.copy())


def placement_pmf(cell, placement, depth_spread):
    """Probability that a synapse of a connection lands on each segment.

    Proportional to segment area times the density mixture at the segment's
    midpoint depth, on segments of the allowed sections (and depth window).

    Parameters
    ----------
    cell : LFPy.Cell
    placement : dict
        ``sections``, ``densities`` and optional ``z_min``, ``z_max`` (um).
    depth_spread : float
        Standard deviation of soma depths in the population (um).

    Returns
    -------
    ndarray, shape (n_segments,), sums to 1
    """
    allowed = cell.get_idx(section=placement["sections"],
                           z_min=placement.get("z_min", -1e9),
                           z_max=placement.get("z_max", 1e9))
    pmf = np.zeros(cell.totnsegs)
    if allowed.size == 0:
        return pmf
    z_mid = cell.z[allowed].mean(axis=-1)
    pmf[allowed] = cell.area[allowed] * distributions.placement_weights(
        z_mid, placement["densities"], depth_spread)
    total = pmf.sum()
    return pmf / total if total > 0 else pmf


class ConnectionStatistics:
    """Counts of one connection X -> Y (LFPykernels' mean-field semantics).

    Attributes
    ----------
    total : float
        K_YX = C N_X N_Y E[multapse], expected number of synapses.
    indegree : float
        k_in = K_YX / N_Y, synapses per postsynaptic cell.
    outdegree : float
        k_out = K_YX / N_X, synapses made by one presynaptic cell.
    """

    def __init__(self, config, connection):
        n_pre = config.populations[connection["pre"]]["size"]
        n_post = config.populations[connection["post"]]["size"]
        self.multapse_mean = distributions.multapse_mean(connection["multapse"])
        self.total = connection["probability"] * n_pre * n_post * self.multapse_mean
        self.indegree = self.total / n_post
        self.outdegree = self.total / n_pre


def apply_effective_leak(config, post, cell):
    """Add the mean synaptic conductances onto ``post``'s cell to its leak (g_eff).

    Background synapses are spread in proportion to membrane area; each
    connection's synapses follow its placement pdf with k_in synapses per cell.

    Returns
    -------
    ndarray
        The added conductance density per segment (S/cm2).
    """
    population = config.populations[post]
    area = cell.area
    shift = np.zeros(cell.totnsegs)
    external = population.get("external")
    if external:
        per_segment = external["count"] * area / area.sum()
        shift += synapses.leak_shift(external["synapse"], external["rate"], per_segment, area)
    spread = population["position"]["scale"]
    for connection in config.connections_into(post):
        stats = ConnectionStatistics(config, connection)
        pmf = placement_pmf(cell, connection["placement"], spread)
        rate = config.populations[connection["pre"]]["rate"]
        shift += synapses.leak_shift(connection["synapse"], rate, pmf * stats.indegree, area)
    for seg, extra in zip(segments(cell), shift, strict=True):
        seg.g_pas += extra
    return shift
