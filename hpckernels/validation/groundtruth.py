"""Ground truth: a detailed population of multicompartment cells driven by the network's
spikes (the hybrid scheme of Hagen et al. 2016, Cereb Cortex 26: 4461).

Every postsynaptic population Y with a cell is represented by cells of its own: all
N_Y of them or the first M of its (randomly placed, so equally random) cell indices;
the signal of the M cells is scaled by N_Y / M. Cell ``i`` of Y is laid out from its
own random streams (:func:`cell_rng`: seed, population, cell index and purpose), so a
cell is the same whichever MPI rank simulates it and however many cells are sampled:

position
    soma in a uniform disk of radius ``position.radius`` (um) at depth
    N(``loc``, ``scale``); rotated about the vertical axis by a uniform angle on top of
    the configured rotation.
recurrent synapses
    for each connection X -> Y, K ~ Binomial(N_X, C) connections (the in-degree of the
    modelled network), from K neurons drawn among the network's simulated X neurons
    (without replacement when K does not exceed their number), a multapse count per
    connection, a segment per synapse from the placement density at this cell's own
    depth (:func:`hpckernels.cell.placement_pmf`, no depth spread) and a delay from the
    delay distribution (rounded to dt); each synapse is driven by its neuron's own spike
    train.
background
    ``external.count`` synapses placed by membrane area, each driven by an independent
    Poisson train at ``external.rate`` (spike times on the dt grid).

Membranes and synapses (:class:`DetailedCell`): the ground truth is the population's
cell as :func:`hpckernels.cell.build_cell` builds it (the configured membrane, passive
or active) with conductance-based synapses ``g(t)(V - E)`` and no g_eff leak, started at
the population's operating point (:func:`hpckernels.cell.operating_point`); the
*linearized reconstruction* has the same cells, synapses and spikes, but is the kernel
engines' own cell (:func:`hpckernels.cell.build_linearized_cell`: linearized membrane
and g_eff leak) with current-based synapses linearized at its operating point (what the
kernel method assumes of every cell).

Signals are summed over cells at probes that measure what the config's probes model
(:func:`detailed_probes`: contacts on the population axis at the
depths of a GaussCylinderPotential, each cell's full dipole moment, EEG/MEG of the
summed dipole, ...), on the time axis of ``hpckernels signals``. Per-cell membrane
currents are projected chunk by chunk and never kept. Cells are simulated in fixed
blocks dealt round robin to the MPI ranks; rank 0 adds the blocks in block order, so
results are bit-identical for any number of ranks.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field

import numpy as np

from .. import cell as cellmod
from .. import distributions
from ..binning import bin_index
from ..console import STDERR
from ..datatypes import EXTERNAL, Background, CellTable, SynapseTable, concatenate_tables
from ..errors import ConfigError, InputError
from ..probes import ProbeStack, linspace_or_array
from ..simulator import NeuronDriver
from ..synapses import synapse_model

#: Cells per block of the MPI reduction; fixed so that sums never depend on the rank count.
BLOCK = 4
#: Time steps simulated between two reads of the membrane-current recordings.
CHUNK_STEPS = 2**14
#: Somatic potential (mV) whose upward crossing counts as an action potential.
SPIKE_THRESHOLD = 0.0
#: Histogram of somatic membrane potentials: lowest edge, highest edge, bin width (mV);
#: values beyond the edges fall into the end bins.
SOMA_HISTOGRAM = (-150.0, 100.0, 0.01)
#: Random streams of a cell (:func:`cell_rng`): position, background placement and
#: trains, connection ``k`` (``CONNECTION + k``).
POSITION, BACKGROUND, TRAINS, CONNECTION = 0, 1, 2, 3


def soma_histogram(values):
    """Counts of somatic potentials (mV) in the bins of :data:`SOMA_HISTOGRAM`."""
    lo, hi, width = SOMA_HISTOGRAM
    n = int(round((hi - lo) / width))
    index = np.clip(np.floor((np.asarray(values) - lo) / width), 0, n - 1).astype(np.int64)
    return np.bincount(index, minlength=n)


def histogram_median(counts):
    """Median (mV, to the bin width) of the potentials counted by :func:`soma_histogram`."""
    lo, _, width = SOMA_HISTOGRAM
    cumulative = np.cumsum(counts)
    return lo + (int(np.searchsorted(cumulative, cumulative[-1] / 2)) + 0.5) * width


def cell_rng(seed, post, index, purpose):
    """Random generator of cell ``index`` of population ``post`` for one purpose.

    Depends on (seed, population name, cell index, purpose) only, never on the rank or
    on the other cells (numpy ``SeedSequence`` spawn keys).
    """
    key = (zlib.crc32(post.encode()), int(index), int(purpose))
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=key))


# ------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class Settings:
    """What a ground-truth run simulates besides the config's network.

    Attributes
    ----------
    cells : dict of str to int
        Cells M_Y simulated per postsynaptic population (cell indices 0..M_Y - 1).
    seed : int
        Base seed of cell layouts and background trains.
    contacts : {"line", "point"}
        How GaussCylinderPotential depths are measured on the population axis.
    warmup : float
        Simulated time (ms) before the window, to reach the steady state.
    linearized : bool
        The linearized reconstruction instead of the ground truth.
    subset : dict of str to list of int or None
        Only these cells (``--cells``), with per-cell signals.
    """

    cells: dict
    seed: int
    contacts: str = "line"
    warmup: float = 100.0
    linearized: bool = False
    subset: dict | None = None

    def indices(self, post):
        """Cell indices of ``post`` to simulate."""
        if self.subset is not None:
            return list(self.subset.get(post, []))
        return list(range(self.cells[post]))

    def mode(self):
        return "linearized" if self.linearized else "conductance"

    def scales(self, config):
        """Signal scale N_Y / M_Y per postsynaptic population."""
        return {
            post: config.populations[post]["size"] / self.cells[post]
            for post in config.postsynaptic_populations()
        }


def settings_from_config(
    config, cells_per_population=None, seed=None, linearized=False, subset=None
):
    """:class:`Settings` from the config's ``groundtruth`` section and overrides.

    Raises
    ------
    InputError
        A sample larger than a population, or a ``--cells`` entry out of range.
    """
    section = config.data.get("groundtruth", {})
    default = section.get("cells_per_population")
    posts = config.postsynaptic_populations()
    if isinstance(default, dict):
        for name in default:
            if name not in posts:
                raise ConfigError(
                    f"groundtruth.cells_per_population.{name}",
                    f"not a postsynaptic population; they are {', '.join(posts)}",
                )
    cells = {}
    for post in posts:
        size = int(config.populations[post]["size"])
        if cells_per_population is not None:
            wanted, where = cells_per_population, "--cells-per-population"
        elif isinstance(default, dict):
            wanted, where = default.get(post), f"groundtruth.cells_per_population.{post}"
        else:
            wanted, where = default, "groundtruth.cells_per_population"
        wanted = size if wanted is None else int(wanted)
        if not 1 <= wanted <= size:
            raise InputError(
                where, f"{wanted} cells of population {post} (size {size}); allowed 1..{size}"
            )
        cells[post] = wanted
    if subset is not None:
        for post, indices in subset.items():
            if post not in cells:
                raise InputError(
                    "--cells", f"{post} is not a postsynaptic population ({', '.join(cells)})"
                )
            bad = [i for i in indices if not 0 <= i < cells[post]]
            if bad:
                raise InputError(
                    "--cells",
                    f"{post}:{bad[0]} is not one of the {cells[post]} sampled cells of {post} "
                    f"(0..{cells[post] - 1})",
                )
    return Settings(
        cells=cells,
        seed=int(section.get("seed", 1234) if seed is None else seed),
        contacts=section.get("contacts", "line"),
        warmup=float(section.get("warmup", 100.0)),
        linearized=bool(linearized),
        subset=subset,
    )


# ----------------------------------------------------------------------- cell layout
def draw_cells(config, post, indices, seed):
    """Soma positions and rotations of cells ``indices`` of population ``post``.

    Returns
    -------
    CellTable
    """
    position = config.populations[post]["position"]
    rotation = cellmod.fixed_rotation(config.populations[post].get("rotation", {}))
    rows = []
    for index in indices:
        rng = cell_rng(seed, post, index, POSITION)
        u_r, u_phi, u_theta = rng.random(3)
        radius = position["radius"] * np.sqrt(u_r)
        phi = 2 * np.pi * u_phi
        depth = rng.normal(position["loc"], position["scale"])
        rows.append(
            (
                radius * np.cos(phi),
                radius * np.sin(phi),
                depth,
                rotation.get("x", 0.0),
                rotation.get("y", 0.0),
                rotation.get("z", 0.0) + 2 * np.pi * u_theta,
            )
        )
    data = np.array(rows, dtype=float).reshape(-1, 6)
    return CellTable(
        [post] * len(rows), np.asarray(indices, dtype=np.int64), *data[:, :3].T, data[:, 3:]
    )


def position_cell(cell, xyz, rotation, configured):
    """Move a cell built by :func:`hpckernels.cell.build_cell` (configured rotation, soma
    at the mean depth) to its place: the random rotation about z, then the soma to
    ``xyz``."""
    extra = float(rotation[2]) - cellmod.fixed_rotation(configured).get("z", 0.0)
    cell.set_rotation(z=extra)
    cell.set_pos(*xyz)


# ---------------------------------------------------------------------- synapse table
def draw_synapses(config, post, index, seed, cell, trains):
    """The synapses of cell ``index`` of ``post``, placed on its positioned LFPy cell.

    Parameters
    ----------
    config : NetworkConfig
    post : str
    index : int
    seed : int
    cell : LFPy.Cell
        The cell at its position (placement uses its segment depths and areas).
    trains : dict of str to SpikeTrains
        The network's simulated neurons per presynaptic population.

    Returns
    -------
    SynapseTable
    """
    dt = config.simulation["dt"]
    parts = []
    population = config.populations[post]
    external = population.get("external")
    if external and external["count"] > 0:
        rng = cell_rng(seed, post, index, BACKGROUND)
        n = int(round(external["count"]))
        area = cell.area / cell.area.sum()
        segments = rng.choice(cell.totnsegs, size=n, p=area)
        parts.append(
            _rows(segments, EXTERNAL, np.arange(n), synapse_model(external["synapse"]).weight, 0)
        )
    for k, connection in enumerate(config.connections):
        if connection["post"] != post:
            continue
        rng = cell_rng(seed, post, index, CONNECTION + k)
        pool = trains[connection["pre"]]
        n_connections = rng.binomial(
            int(config.populations[connection["pre"]]["size"]), connection["probability"]
        )
        chosen = rng.choice(pool.size, size=n_connections, replace=n_connections > pool.size)
        counts, pmf = distributions.multapse_pmf(connection["multapse"])
        multapses = rng.choice(counts, size=n_connections, p=pmf)
        pre = np.repeat(pool.node_ids[chosen], multapses)
        placement = cellmod.placement_pmf(cell, connection["placement"], 0.0)
        if not placement.sum() > 0:
            raise ConfigError(
                f"connections[{k}].placement",
                f"no segment of {post}'s cell {index} (soma at z = {cell.somapos[2]:.1f} um) "
                "has a non-zero synapse density",
            )
        segments = rng.choice(cell.totnsegs, size=pre.size, p=placement)
        delays = np.atleast_1d(
            distributions.frozen(connection["delay"]).rvs(size=pre.size, random_state=rng)
        )
        delays = distributions.delay_steps(delays, dt) * dt
        parts.append(_rows(segments, k, pre, synapse_model(connection["synapse"]).weight, delays))
    table = SynapseTable.concatenate(parts) if parts else _rows([], 0, [], 0.0, 0.0)
    return table


def _rows(segments, kind, pre_id, weight, delay):
    n = len(segments)
    return SynapseTable(
        np.zeros(n, dtype=np.int64),
        np.asarray(segments, dtype=np.int64),
        np.full(n, kind, dtype=np.int64),
        np.asarray(pre_id, dtype=np.int64),
        np.broadcast_to(np.asarray(weight, dtype=float), (n,)).copy(),
        np.broadcast_to(np.asarray(delay, dtype=float), (n,)).copy(),
    )


def background_trains(config, post, index, seed, n_sources, t_begin, t_end):
    """Independent Poisson trains (ms, on the dt grid) of a cell's background synapses
    over [t_begin, t_end); their own random stream, independent of the synapse draws."""
    external = config.populations[post].get("external") or {"rate": 0.0}
    dt = config.simulation["dt"]
    n_steps = int(round((t_end - t_begin) / dt))
    rng = cell_rng(seed, post, index, TRAINS)
    counts = rng.poisson(external["rate"] * (t_end - t_begin) / 1000.0, size=n_sources)
    steps = rng.integers(0, n_steps, size=int(counts.sum()))
    owner = np.repeat(np.arange(n_sources), counts)
    order = np.lexsort((steps, owner))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return Background(offsets, t_begin + steps[order] * dt)


# ----------------------------------------------------------------------- simulation
def project(matrix, imem):
    """``matrix @ imem`` summed in a fixed order.

    Not BLAS: a multithreaded BLAS splits large products by the number of threads it
    may use (one per core the process is bound to), which changes the rounding, and
    results must not depend on how mpiexec binds the ranks.
    """
    return np.einsum("ij,jk->ik", matrix, imem)


@dataclass
class Window:
    """Simulated time of a run.

    Attributes
    ----------
    t_begin : float
        When NEURON starts (ms, network time), ``warmup`` before ``t_start``.
    t_start, t_stop : float
        Output window (ms): bins ``t_start + n dt``, n < n_bins.
    dt : float
    """

    t_begin: float
    t_start: float
    t_stop: float
    dt: float

    @classmethod
    def of(cls, t_start, t_stop, dt, warmup):
        skip = int(np.floor(min(warmup, t_start) / dt + 1e-9))
        return cls(t_start - skip * dt, t_start, t_stop, dt)

    @property
    def skip(self):
        """Steps from ``t_begin`` to ``t_start``."""
        return int(round((self.t_start - self.t_begin) / self.dt))

    @property
    def n_bins(self):
        return int(round((self.t_stop - self.t_start) / self.dt))

    def snap(self, times):
        """Spike times on the grid of the output bins (the binning rule of the signals)."""
        return self.t_start + bin_index(times, self.t_start, self.dt) * self.dt


# -------------------------------------------------------------------- detailed probes
def _line_contacts(spec, contacts, radii):
    """A GaussCylinderPotential measured at point (``contacts: point``) or line-source
    contacts (LFPykit; segments within d/2 of a contact are taken at d/2) on the
    population's axis (x = y = 0) at the contact depths ``z``, same conductivity."""
    z = np.asarray(linspace_or_array(spec["z"]), dtype=float)
    kind = {"point": "PointSourcePotential", "line": "LineSourcePotential"}[contacts]
    zeros = [0.0] * z.size
    return {"type": kind, "x": zeros, "y": zeros, "z": z.tolist(), "sigma": spec["sigma"]}


def _laminar_cylinders(spec, contacts, radii):
    """A GaussCylinderCSD measured in cylinders of radius ``R`` on the population's axis,
    slabs ``h`` thick around the contact depths (lfpykit.LaminarCurrentSourceDensity);
    ``R: population`` is the populations' radius where they share one."""
    radius = spec["R"]
    if isinstance(radius, str):
        if len(set(radii.values())) != 1:
            raise ConfigError(
                f"probes.{spec['type']}.R",
                "a detailed population needs one cylinder radius for all populations: "
                "'population' only where every population has the same position.radius ("
                + ", ".join(f"{post} {r:g}" for post, r in radii.items())
                + ")",
            )
        radius = next(iter(radii.values()))
    z = np.asarray(linspace_or_array(spec["z"]), dtype=float)
    h = float(spec["h"])
    return {
        "type": "LaminarCurrentSourceDensity",
        "z": [[zi - h / 2, zi + h / 2] for zi in z.tolist()],
        "r": [float(radius)] * z.size,
    }


def _full_dipole(spec, contacts, radii):
    """Each cell's full dipole moment (a population sum needs no symmetry assumption)."""
    return {k: v for k, v in spec.items() if k != "rotational_symmetry"}


#: How a detailed population measures what a config probe type models (a population
#: probe becomes contacts or cylinders on the population's axis); other types measure
#: themselves.
DETAILED_PROBES = {
    "GaussCylinderPotential": _line_contacts,
    "GaussCylinderCSD": _laminar_cylinders,
    "CurrentDipoleMoment": _full_dipole,
}


def detailed_probes(config, contacts="line"):
    """{name: spec} of the probes that measure the config's probes on a detailed
    population of positioned cells, whose per-cell signals are summed (head models keep
    referring to their dipole probe by name).

    Parameters
    ----------
    config : NetworkConfig
    contacts : {"line", "point"}
        How GaussCylinderPotential depths are measured (``groundtruth.contacts``).
    """
    radii = {
        post: float(population["position"]["radius"])
        for post, population in config.populations.items()
        if "cell" in population
    }
    return {
        name: DETAILED_PROBES.get(spec["type"], lambda s, c, r: dict(s))(spec, contacts, radii)
        for name, spec in config.probes.items()
    }


class DetailedCell:
    """One cell of the detailed population in NEURON, with its synapses and inputs.

    Building it lays the cell out (:func:`draw_synapses` on the positioned cell,
    :func:`background_trains`) and inserts the synapses; :meth:`run` simulates it.

    Parameters
    ----------
    config : NetworkConfig
    post : str
    row : tuple
        (population, index, (x, y, z), rotation) of its cell-table row.
    seed : int
    trains : dict of str to SpikeTrains
    window : Window
    linearized : bool
        The kernel engines' linearized cell (g_eff leak, linearized membrane) with
        current-based synapses linearized at its operating point, instead of the model's
        cell with conductance-based synapses.

    Attributes
    ----------
    table : SynapseTable
    background : Background
    geometry : lfpykit.CellGeometry
    """

    def __init__(self, config, post, row, seed, trains, window, linearized=False):
        from neuron import h

        self.window = window
        _, index, xyz, rotation = row
        tstop = window.t_stop - window.t_begin
        self.linearized = None
        if linearized:
            # the kernel engines' cell: its membrane, g_eff and operating point
            self.linearized = cellmod.build_linearized_cell(config, post, tstop)
            self.cell = self.linearized.cell
            self.vrest = self.linearized.vrest
            initialize = self.linearized.initialize
        else:
            # the model as it is, started at the operating point (its mean state with input)
            self.vrest = cellmod.operating_point(config, post)
            self.cell = cellmod.build_cell(config, post, tstop)
            segments = cellmod.segments(self.cell)

            def initialize(h):
                cellmod.initialize_at(h, segments, self.vrest)

        position_cell(self.cell, xyz, rotation, config.populations[post].get("rotation", {}))
        self.geometry = cellmod.geometry(self.cell)
        self.table = draw_synapses(config, post, index, seed, self.cell, trains)
        external = self.table.kind == EXTERNAL
        self.background = background_trains(
            config, post, index, seed, int(external.sum()), window.t_begin, window.t_stop
        )
        segments = cellmod.segments(self.cell)
        soma = segments[int(self.cell.somaidx[0])]
        self.driver = NeuronDriver(self.cell, initialize, [soma._ref_v])
        self._groups = []
        # synapses of one kind and weight on one segment share a point process: their
        # kinetics are linear, so the summed conductance is that of one synapse
        table = self.table
        keys = np.stack([table.segment, table.kind, table.weight]).T
        for segment, kind, value in np.unique(keys, axis=0) if len(table) else ():
            segment, kind = int(segment), int(kind)
            rows = np.flatnonzero(
                (table.segment == segment) & (table.kind == kind) & (table.weight == value)
            )
            spec = (
                config.populations[post]["external"]["synapse"]
                if kind == EXTERNAL
                else config.connections[kind]["synapse"]
            )
            model = synapse_model(dict(spec, weight=float(value)))
            seg = segments[segment]
            if linearized or model.current_based:
                synapse = model.insert_current(h, seg)
                weight = float(model.linearized_weight(self.vrest[segment]))
            else:
                synapse = model.insert_conductance(h, seg)
                weight = model.weight
            self._groups.append((self.driver.add_synapse(synapse, weight), rows))
        #: Mean somatic membrane potential (mV) over the output bins of the last run,
        #: and its histogram (:func:`soma_histogram`).
        self.soma_v = np.nan
        self.soma_spikes = 0
        self.soma_counts = None
        self.set_inputs(self.network_events(config, trains))

    def set_inputs(self, events):
        """Activation times (ms, network time) of every synapse row for the next run;
        those outside the run are dropped."""
        w = self.window
        pending = []
        for index, rows in self._groups:
            times = np.sort(np.concatenate([np.empty(0), *(events[r] for r in rows)]))
            times = times[(times >= w.t_begin) & (times < w.t_stop)]
            pending.append((index, (times - w.t_begin).tolist()))
        self.driver.set_events(pending)

    def background_events(self):
        """Activation times of the background rows (empty arrays for the others)."""
        b, events = self.background, []
        external = np.cumsum(self.table.kind == EXTERNAL) - 1
        for r, kind in enumerate(self.table.kind):
            events.append(
                b.times[b.offsets[external[r]] : b.offsets[external[r] + 1]]
                if kind == EXTERNAL
                else np.empty(0)
            )
        return events

    def network_events(self, config, trains):
        """Activation times of every row: background trains, and for recurrent synapses
        the presynaptic neuron's spikes (on the bins' grid) plus the delay."""
        events = self.background_events()
        for r in np.flatnonzero(self.table.kind != EXTERNAL):
            pool = trains[config.connections[self.table.kind[r]]["pre"]]
            k = int(np.searchsorted(pool.node_ids, self.table.pre_id[r]))
            events[r] = self.window.snap(pool.train(k)) + self.table.delay[r]
        return events

    def volley_events(self, kinds, t0):
        """Background, plus one activation at ``t0`` + delay of every synapse of the
        connections ``kinds`` (every presynaptic neuron fires once at t0)."""
        events = self.background_events()
        for r in np.flatnonzero(np.isin(self.table.kind, list(kinds))):
            events[r] = np.array([t0 + self.table.delay[r]])
        return events

    def run(self, matrix, out):
        """Simulate from ``window.t_begin`` and add ``matrix @ imem`` of every output bin
        to ``out``.

        Parameters
        ----------
        matrix : ndarray, shape (n_rows, n_segments)
        out : ndarray, shape (n_rows, n_bins)
        """
        w = self.window
        n = self.driver.n_segments
        soma_sum, counts, spikes, last = 0.0, 0, 0, None
        # recording index of the last output bin
        for first, piece in self.driver.run_chunks(w.skip + w.n_bins - 1, w.dt, CHUNK_STEPS):
            done = first + piece.shape[1]
            a = max(first, w.skip)
            if a < done:
                imem, soma = piece[:n], piece[n]
                out[:, a - w.skip : done - w.skip] += project(matrix, imem[:, a - first :])
                soma_sum += soma[a - first :].sum()
                counts = counts + soma_histogram(soma[a - first :])
                # upward threshold crossings, across the chunks' boundaries too
                above = soma[a - first :] >= SPIKE_THRESHOLD
                above = above if last is None else np.r_[last, above]
                spikes += int(np.sum(above[1:] & ~above[:-1]))
                last = above[-1]
        self.soma_v = soma_sum / w.n_bins
        self.soma_counts = counts
        self.soma_spikes = spikes

    def close(self):
        """Release the NEURON objects (before the next cell is built in this process)."""
        self.driver.release()
        self._groups = []
        if self.linearized is not None:
            self.linearized.close()
            self.linearized = None
        elif self.cell is not None:
            self.cell.strip_hoc_objects()
        self.cell = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ------------------------------------------------------------------------ population
@dataclass
class BlockResult:
    """What one block of cells gives: the summed signals and the cells' tables."""

    post: str
    signals: np.ndarray  # (n_rows, n_bins), unscaled sum over the block's cells
    cells: CellTable
    synapses: SynapseTable
    per_cell: np.ndarray | None = None  # (n_cells, n_rows, n_bins) with --cells
    background: list | None = None  # Background per cell with --cells
    soma_v: np.ndarray | None = None  # mean, median (mV) and action potentials per cell
    soma_counts: np.ndarray | None = None  # histogram of the block's somatic potentials
    seconds: float = 0.0  # wall time of the block on its rank (s)


def blocks_of(config, settings):
    """(post, cell indices) of every block, in the fixed order of the reduction."""
    out = []
    for post in config.postsynaptic_populations():
        indices = settings.indices(post)
        out += [(post, indices[i : i + BLOCK]) for i in range(0, len(indices), BLOCK)]
    return out


def simulate_block(config, settings, post, indices, trains, window, rows):
    """Simulate cells ``indices`` of ``post`` one after another; their summed signals.

    Parameters
    ----------
    rows : ProbeStack
        The detailed probes (:func:`detailed_probes`).

    Returns
    -------
    BlockResult
    """
    started = time.perf_counter()
    table = draw_cells(config, post, indices, settings.seed)
    keep = settings.subset is not None
    total, synapses, per_cell, backgrounds, soma_v, counts = None, [], [], [], [], 0
    for k in range(len(indices)):
        signal = np.zeros((rows.n_rows, window.n_bins))
        with DetailedCell(
            config, post, table.row(k), settings.seed, trains, window, settings.linearized
        ) as detailed:
            detailed.run(rows.matrix(detailed.geometry), signal)
            soma_v.append(
                (detailed.soma_v, histogram_median(detailed.soma_counts), detailed.soma_spikes)
            )
            counts = counts + detailed.soma_counts
            detailed.table.cell[:] = k
            synapses.append(detailed.table)
            backgrounds.append(detailed.background)
        total = signal if total is None else total + signal
        if keep:
            per_cell.append(signal)
    return BlockResult(
        post,
        total,
        table,
        SynapseTable.concatenate(synapses),
        np.array(per_cell) if keep else None,
        backgrounds if keep else None,
        np.array(soma_v),
        counts,
        time.perf_counter() - started,
    )


def hybrid_block(config, settings, post, indices, trains, window, rows):
    """Hybrid-scheme responses of cells ``indices`` of ``post``: per presynaptic
    population X, the signal after a volley of every X neuron at ``window.t_start``
    less the signal without it (background only in both runs), summed over the cells.

    Returns
    -------
    BlockResult
        ``signals`` of shape (n_populations, n_rows, n_bins), pre in config order.
    """
    started = time.perf_counter()
    names = list(config.populations)
    table = draw_cells(config, post, indices, settings.seed)
    into = [(k, c) for k, c in enumerate(config.connections) if c["post"] == post]
    total = np.zeros((len(names), rows.n_rows, window.n_bins))
    synapses = []
    for k in range(len(indices)):
        with DetailedCell(
            config, post, table.row(k), settings.seed, trains, window, settings.linearized
        ) as detailed:
            matrix = rows.matrix(detailed.geometry)
            baseline = np.zeros((rows.n_rows, window.n_bins))
            detailed.set_inputs(detailed.background_events())
            detailed.run(matrix, baseline)
            for kind, connection in into:
                volley = np.zeros_like(baseline)
                detailed.set_inputs(detailed.volley_events([kind], window.t_start))
                detailed.run(matrix, volley)
                total[names.index(connection["pre"])] += volley - baseline
            detailed.table.cell[:] = k
            synapses.append(detailed.table)
    return BlockResult(
        post,
        total,
        table,
        SynapseTable.concatenate(synapses),
        seconds=time.perf_counter() - started,
    )


@dataclass
class PopulationResult:
    """A ground-truth run on rank 0: summed signals per population and the tables."""

    signals: dict  # post -> unscaled sum over the simulated cells (block signals' shape)
    cells: CellTable
    synapses: SynapseTable
    per_cell: np.ndarray | None
    backgrounds: list | None
    rows: ProbeStack
    window: Window
    elapsed: float
    soma_v: np.ndarray | None = None  # mean, median (mV) and spikes per cell-table row
    #: Histogram of the somatic potentials of each population's cells (soma_histogram).
    soma_counts: dict = field(default_factory=dict)
    #: Wall time (s) the ranks spent on each population's cells (their CPU cost).
    cell_seconds: dict = field(default_factory=dict)

    def soma_medians(self):
        """{population: median (mV) of its cells' somatic potentials over the window}."""
        return {post: histogram_median(counts) for post, counts in self.soma_counts.items()}


def simulate_population(
    config, settings, trains, comm, window=None, block=simulate_block, label=None, log=STDERR
):
    """Every block of cells (:func:`blocks_of`) spread over the ranks of ``comm``.

    Blocks are dealt round robin; after each round rank 0 gathers the round's blocks and
    adds them in block order, so the sums are bit-identical for any number of ranks
    and every rank takes part in every gather (no rank waits forever).

    Parameters
    ----------
    config : NetworkConfig
    settings : Settings
    trains : dict of str to SpikeTrains
    comm : mpi4py communicator
    window : Window, optional
        Default: the config's signal window with ``settings.warmup`` before it.
    block : callable
        :func:`simulate_block` (signals) or :func:`hybrid_block`.
    label : str, optional
        Name of the run in progress messages.

    Returns
    -------
    PopulationResult or None
        On rank 0; None on the other ranks.
    """
    rank, size = comm.Get_rank(), comm.Get_size()
    if window is None:
        t_start, t_stop = config.signal_window()
        window = Window.of(t_start, t_stop, config.simulation["dt"], settings.warmup)
    rows = ProbeStack(detailed_probes(config, settings.contacts))
    jobs = blocks_of(config, settings)
    n_rounds = -(-len(jobs) // size)
    started = time.monotonic()
    sums, tables, synapse_tables, per_cell, backgrounds, done = {}, [], [], [], [], {}
    soma_v, seconds, soma_counts = [], {}, {}
    for round_index in range(n_rounds):
        job = round_index * size + rank
        result = None
        if job < len(jobs):
            post, indices = jobs[job]
            try:
                result = block(config, settings, post, indices, trains, window, rows)
            except InputError as error:  # every rank stops with it, none waits forever
                result = error
        gathered = comm.gather(result, root=0)
        failed = None
        if rank == 0:
            failed = next((g for g in gathered if isinstance(g, InputError)), None)
        failed = comm.bcast(failed, root=0)
        if failed is not None:
            raise failed
        if rank != 0:
            continue
        for part in gathered:  # rank order is block order within a round
            if part is None:
                continue
            sums[part.post] = (
                part.signals if part.post not in sums else sums[part.post] + part.signals
            )
            part.synapses.cell += sum(len(t) for t in tables)
            tables.append(part.cells)
            synapse_tables.append(part.synapses)
            if part.soma_v is not None:
                soma_v.append(part.soma_v)
                soma_counts[part.post] = soma_counts.get(part.post, 0) + part.soma_counts
            seconds[part.post] = seconds.get(part.post, 0.0) + part.seconds
            if part.per_cell is not None:
                per_cell.append(part.per_cell)
                backgrounds += part.background
            done[part.post] = done.get(part.post, 0) + len(part.cells)
        if log is not None:
            progress = ", ".join(
                f"{post} {done.get(post, 0)}/{len(settings.indices(post))}"
                for post in config.postsynaptic_populations()
            )
            log.write(
                f"[hpckernels] {label or 'groundtruth (' + settings.mode() + ')'}: cells done "
                f"{progress} ({time.monotonic() - started:.1f} s)\n"
            )
            log.flush()
    if rank != 0:
        return None
    return PopulationResult(
        sums,
        concatenate_tables(tables),
        SynapseTable.concatenate(synapse_tables),
        np.concatenate(per_cell) if per_cell else None,
        backgrounds or None,
        rows,
        window,
        time.monotonic() - started,
        np.concatenate(soma_v) if soma_v else None,
        soma_counts,
        seconds,
    )


def hybrid_kernels(config, settings, trains, comm, t0, log=STDERR):
    """Hybrid-scheme kernels (Hagen et al. 2022, Fig 4) of every pathway and probe.

    Every neuron of X fires once at ``t0`` (ms, after the background's onset) through
    its synapses onto the detailed population; the kernel is the difference against
    the run without that volley (same background), scaled by N_Y / M_Y and divided by
    N_X, on the lags -tau..tau of the kernel tensor (zero before lag 0).

    Returns
    -------
    (dict of str to ndarray, PopulationResult) or None
        On rank 0 {probe: (n_post, n_pre, n_channels, n_lags)} and the run.
    """
    dt, n = config.simulation["dt"], config.n_steps_tau
    t0 = round(t0 / dt) * dt
    window = Window(0.0, t0, t0 + (n + 1) * dt, dt)
    result = simulate_population(
        config, settings, trains, comm, window, hybrid_block, "hybrid-scheme kernels", log
    )
    if result is None:
        return None
    names = list(config.populations)
    factor = settings.scales(config)
    kernels = {}
    for name, rows in result.rows.rows.items():
        tensor = np.zeros((len(names), len(names), rows.stop - rows.start, 2 * n + 1))
        for post, summed in result.signals.items():
            for x, pre in enumerate(names):
                tensor[names.index(post), x, :, n:] = (
                    factor[post] * summed[x, rows] / config.populations[pre]["size"]
                )
        kernels[name] = tensor
    return kernels, result
