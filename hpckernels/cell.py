"""The linearized multicompartment cell that represents a postsynaptic population.

One cell, at the population's mean depth, stands for all cells of population Y:
synapse placement is widened by the spread of soma depths, and the mean
conductances of background and recurrent synapses are added to the membrane
(``g_eff``), which makes the cell's response the population-average linear
response around its rest state.

The cell comes from what modellers have: a morphology file (``.hoc``, ``.asc``,
``.swc``, ``.xml``) loaded by LFPy, with or without a NEURON template, a segment rule,
and a biophysics type (:mod:`hpckernels.biophysics`): a passive leak, or the model's
own active mechanisms linearized around an operating point
(:mod:`hpckernels.linearization`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import distributions
from .biophysics import biophysics
from .synapses import synapse_model


def population_biophysics(config, post):
    """The :class:`~hpckernels.biophysics.Biophysics` of population ``post``'s cell."""
    return biophysics(
        config.populations[post]["cell"]["biophysics"],
        config.simulation["vrest"],
        f"populations.{post}.cell.biophysics",
    )


def segment_rule(spec):
    """LFPy's keyword arguments for the ``nseg`` rule of a ``cell`` entry (LFPy applies
    it after the biophysics; absent: LFPy's default, lambda100)."""
    nseg = spec.get("nseg", {})
    method = nseg.get("method", "lambda100")
    if method == "fixed_length":
        return {"nsegs_method": "fixed_length", "max_nsegs_length": nseg["max_length"]}
    if method == "lambda_f":
        return {"nsegs_method": "lambda_f", "lambda_f": nseg.get("lambda_f", 100.0)}
    if method == "none":
        return {"nsegs_method": None}
    return {}


def build_cell(config, post, tstop):
    """Create the LFPy cell of population ``post`` with its membrane as the model has it.

    Passive cells are at rest at ``simulation.vrest`` from t = 0. Active cells carry
    their own mechanisms (from the template and/or the recipe), not linearized and
    without g_eff: what a detailed simulation of the model uses; see
    :func:`build_linearized_cell` for the kernel engines' cell.

    Parameters
    ----------
    config : NetworkConfig
    post : str
        Postsynaptic population name.
    tstop : float
        Simulation duration (ms).

    Returns
    -------
    LFPy.Cell or LFPy.TemplateCell
        A TemplateCell when the config names a template, else a Cell.
    """
    import LFPy

    from .mechanisms import import_neuron

    sim = config.simulation
    population = config.populations[post]
    spec = population["cell"]
    membrane = population_biophysics(config, post)
    kwargs = dict(
        morphology=str(config.path(spec["morphology"])),
        v_init=sim["vrest"],
        dt=sim["dt"],
        tstart=0.0,
        tstop=tstop,
        delete_sections=True,
        custom_fun=[membrane.insert],
        custom_fun_args=[{}],
        **segment_rule(spec),
    )
    if membrane.celsius is not None:
        # set before LFPy does, which would print the change
        import_neuron().h.celsius = membrane.celsius
        kwargs["celsius"] = membrane.celsius
    template = spec.get("template")
    if template is None:
        cell = LFPy.Cell(**kwargs)
    else:
        files = template["file"]
        cell = LFPy.TemplateCell(
            templatefile=(
                str(config.path(files))
                if isinstance(files, str)
                else [str(config.path(f)) for f in files]
            ),
            templatename=template["name"],
            templateargs=kwargs["morphology"] if template.get("morphology_argument") else None,
            **kwargs,
        )
    rotation = fixed_rotation(population.get("rotation", {}))
    if rotation:
        cell.set_rotation(**rotation)
    cell.set_pos(z=population["position"]["loc"])
    return cell


def fixed_rotation(rotation):
    """The angles (rad) of a population's ``rotation`` entry, {axis: angle}, as LFPy's
    ``set_rotation`` takes them; ``z: uniform`` (a uniform random angle per cell, which
    the kernels average over) is left out."""
    return {
        axis: float(rotation[axis])
        for axis in ("x", "y", "z")
        if axis in rotation and not isinstance(rotation[axis], str)
    }


def segments(cell):
    """NEURON segments in LFPy's order (the order of cell.area, cell.z, imem rows)."""
    return [seg for sec in cell.allseclist for seg in sec]


def geometry(cell):
    """lfpykit geometry (um) of the cell's segments, detached from NEURON."""
    import lfpykit

    return lfpykit.CellGeometry(x=cell.x.copy(), y=cell.y.copy(), z=cell.z.copy(), d=cell.d.copy())


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
    allowed = cell.get_idx(
        section=placement["sections"],
        z_min=placement.get("z_min", -1e9),
        z_max=placement.get("z_max", 1e9),
    )
    pmf = np.zeros(cell.totnsegs)
    if allowed.size == 0:
        return pmf
    z_mid = cell.z[allowed].mean(axis=-1)
    pmf[allowed] = cell.area[allowed] * distributions.placement_weights(
        z_mid, placement["densities"], depth_spread
    )
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


def effective_conductance(config, post, cell):
    """Mean conductance of all synapses onto ``post`` (g_eff) and its reversal potential.

    Background synapses are spread in proportion to membrane area; each
    connection's synapses follow its placement pdf with k_in synapses per cell.

    Returns
    -------
    conductance : ndarray
        Conductance density (S/cm2) per segment.
    reversal : ndarray
        Conductance-weighted mean reversal potential (mV) per segment
        (``simulation.vrest`` where the conductance is zero).
    """
    population = config.populations[post]
    area = cell.area
    conductance = np.zeros(cell.totnsegs)
    weighted = np.zeros(cell.totnsegs)

    def add(synapse, shift):
        nonlocal conductance, weighted
        conductance = conductance + shift
        weighted = weighted + shift * (synapse.e if synapse.e is not None else 0.0)

    external = population.get("external")
    if external:
        per_segment = external["count"] * area / area.sum()
        synapse = synapse_model(external["synapse"])
        add(synapse, synapse.leak_shift(external["rate"], per_segment, area))
    spread = population["position"]["scale"]
    for connection in config.connections_into(post):
        stats = ConnectionStatistics(config, connection)
        pmf = placement_pmf(cell, connection["placement"], spread)
        rate = config.rate(connection["pre"])
        synapse = synapse_model(connection["synapse"])
        add(synapse, synapse.leak_shift(rate, pmf * stats.indegree, area))
    reversal = np.full(cell.totnsegs, float(config.simulation["vrest"]))
    positive = conductance > 0
    reversal[positive] = weighted[positive] / conductance[positive]
    return conductance, reversal


@dataclass
class LinearizedCell:
    """The cell of a postsynaptic population, linearized at its rest state.

    Attributes
    ----------
    cell : LFPy.Cell
        The NEURON cell (its linearized membrane with the g_eff conductance added).
    geometry : lfpykit.CellGeometry
        Segment geometry (um), detached from NEURON.
    vrest : ndarray, shape (n_segments,)
        Membrane potential (mV) of each segment at rest, where synapses are linearized.
        (A linearized active cell rests in NEURON at a uniform reference potential: its
        response is that of the linearized membrane around this operating point.)
    leak_shift : ndarray, shape (n_segments,)
        Mean synaptic conductance density (S/cm2) added to the membrane (zero without
        g_eff).
    membrane : LinearMembrane or None
        The linearized active membrane (its modes and rest state); None for passive cells.
    """

    cell: object
    geometry: object
    vrest: np.ndarray
    leak_shift: np.ndarray
    membrane: object = None

    def initialize(self, h):
        """Put the cell in its rest state (``h.finitialize``; the ``initialize`` of a
        :class:`~hpckernels.simulator.NeuronDriver`)."""
        if self.membrane is not None:
            self.membrane.initialize(h)
        else:
            h.finitialize(float(self.vrest[0]))

    def close(self):
        """Release the NEURON sections (before another cell is built in this process)."""
        if self.membrane is not None:
            self.membrane.release()
            self.membrane = None
        if self.cell is not None:
            self.cell.strip_hoc_objects()
            self.cell = None


def build_linearized_cell(config, post, tstop):
    """Population ``post``'s linearized cell at rest with the g_eff conductance (if on):
    what every kernel engine simulates.

    Passive cells get g_eff added to their leak. Active cells get it as a membrane
    conductance with its reversal potential; their operating point is found and their
    mechanisms are replaced by the linearization the config asks for.

    Parameters
    ----------
    config : NetworkConfig
    post : str
    tstop : float
        Simulation duration (ms).

    Returns
    -------
    LinearizedCell
    """
    cell = build_cell(config, post, tstop)
    membrane = population_biophysics(config, post)
    conductance = np.zeros(cell.totnsegs)
    reversal = np.full(cell.totnsegs, float(config.simulation["vrest"]))
    if config.simulation["g_eff"]:
        conductance, reversal = effective_conductance(config, post, cell)
    vrest, linear = membrane.linearize(
        cell, conductance, reversal, linearization_cache(config, post)
    )
    return LinearizedCell(cell, geometry(cell), vrest, conductance, linear)


#: Operating points already found in this process, by (config hash, population).
_OPERATING_POINTS = {}


def operating_point(config, post):
    """Membrane potential (mV) per segment at population ``post``'s operating point: the
    ``vrest`` of its linearized cell (:func:`build_linearized_cell`), where synapses are
    linearized and a detailed cell of the population starts.

    Computed once per process and config (it builds the cell: call it before the cells
    that are kept, since building a cell deletes the sections of the previous one).
    """
    key = (config.hash, post)
    if key not in _OPERATING_POINTS:
        linearized = build_linearized_cell(config, post, config.simulation["dt"])
        _OPERATING_POINTS[key] = np.array(linearized.vrest, dtype=float)
        linearized.close()
    return _OPERATING_POINTS[key]


def initialize_at(h, segments, vrest):
    """``h.finitialize`` with every segment's membrane potential at ``vrest`` (mV, per
    segment) and the states of its mechanisms at their steady state there."""
    vrest = np.asarray(vrest, dtype=float)
    if np.all(vrest == vrest[0]):
        h.finitialize(float(vrest[0]))
        return
    for segment, value in zip(segments, vrest, strict=True):
        segment.v = float(value)
    h.finitialize()


def linearization_cache(config, post):
    """File of population ``post``'s stored linearization in the user cache, named by the
    content hash of everything it depends on (:func:`hpckernels.inputs.cell_inputs`)."""
    from importlib.metadata import version

    from .inputs import linearization_key
    from .linearization import FORMAT
    from .mechanisms import cache_root

    key = linearization_key(config, post, version("neuron"), FORMAT)
    return cache_root() / "linearization" / f"{key}.npz"


class CellModel:
    """Base of the NEURON models of a linearized cell (``self.linearized``): a context
    manager that releases the cell and its NEURON objects on exit.

    Point processes, NetCons and handlers that outlive their sections crash NEURON when
    the next cell is built in the same process (LFPy deletes existing sections), so a
    model is closed before another one is built.
    """

    linearized: LinearizedCell

    def release(self):
        """Drop the model's own NEURON objects (synapses, NetCons, recordings, handlers)."""

    def close(self):
        """Release the NEURON objects and the cell."""
        self.release()
        self.linearized.close()
        self.cell = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
