"""``hpckernels groundtruth``: signals of a detailed population of multicompartment cells
driven by the network's spikes (hybrid scheme; MPI over cells)."""

import json
import sys
import time

from ..errors import InputError
from . import (
    add_detailed_population_options,
    add_window_options,
    load_config,
    note,
    output_path,
)


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "groundtruth",
        help="ground truth: a detailed population driven by the network's spikes (MPI)",
        description="Simulate every postsynaptic population as its own multicompartment "
        "cells (all N_Y, or M per population scaled by N_Y / M), each driven by the spikes "
        "of the network neurons it is connected to and by Poisson background, and write "
        "the summed signals at the probes that measure what the config's probes model, "
        "with the cell and synapse tables. Conductance-based synapses and no g_eff leak; "
        "--linearized gives the kernel method's cells instead. Run under 'mpiexec -n N'.",
    )
    parser.add_argument("config", help="network config (YAML)")
    add_detailed_population_options(parser)
    parser.add_argument("-o", "--output", required=True, metavar="OUT.h5")
    parser.add_argument(
        "--linearized",
        action="store_true",
        help="linearized reconstruction: the same cells, synapses and spikes with "
        "the kernel engines' linearized cells with current-based synapses linearized at "
        "their operating point",
    )
    parser.add_argument(
        "--cells",
        nargs="+",
        metavar="POP:INDEX",
        help="simulate only these cells and write their per-cell signals and inputs",
    )
    parser.add_argument(
        "--hybrid-kernels",
        action="store_true",
        help="write hybrid-scheme kernels instead: every neuron of X fires once at --t0 on "
        "top of the background (kernel-tensor layout)",
    )
    parser.add_argument(
        "--t0",
        type=float,
        help="volley time (ms) of --hybrid-kernels (default groundtruth.warmup)",
    )
    add_window_options(parser)
    parser.set_defaults(func=run)


#: Core-seconds per segment and simulated second of a detailed cell driven by the
#: network (ball-and-sticks cells of config/validation.yaml on the benchmark machine:
#: E 3.4e-3, I 5.1e-3; benchmarks/results/validation_cost.json): for the estimate only.
CORE_S_PER_SEGMENT_SECOND = 4e-3


def cost_note(config, settings, segments, t_stop, explicit):
    """One line saying how many cells run (and whether by default) and roughly how long."""
    cells = {p: len(settings.indices(p)) for p in segments}
    simulated = (t_stop + settings.warmup) / 1000.0
    core_s = CORE_S_PER_SEGMENT_SECOND * simulated * sum(cells[p] * segments[p] for p in cells)
    sample = ", ".join(f"{p} {cells[p]} of {config.populations[p]['size']}" for p in cells)
    every = all(cells[p] == config.populations[p]["size"] for p in cells)
    why = (
        "every cell: groundtruth.cells_per_population is not set (--cells-per-population M "
        "simulates M per population, signals scaled by N/M)"
        if every and not explicit
        else "cells"
    )
    return (
        f"simulating {why}: {sample}, {simulated:g} s each; about "
        f"{core_s / 3600:.2g} core-hours ({core_s:.0f} core-s at ~{CORE_S_PER_SEGMENT_SECOND:g} "
        "core-s per segment and simulated second, measured on ball-and-sticks cells)"
    )


def parse_cells(items):
    """``["E:0", "E:3", "I:1"]`` -> ``{"E": [0, 3], "I": [1]}``."""
    if items is None:
        return None
    subset = {}
    for item in items:
        post, _, index = item.partition(":")
        if not post or not index.isdigit():
            raise InputError("--cells", f"'{item}' is not POP:INDEX (e.g. E:0)")
        subset.setdefault(post, [])
        if int(index) not in subset[post]:
            subset[post].append(int(index))
    return {post: sorted(indices) for post, indices in subset.items()}


def run(args):
    from ..cellcheck import check_cells
    from ..hashing import file_sha256
    from ..io import spikes
    from ..probes import ProbeStack
    from ..resources import detailed_run_seconds, require_memory, require_work
    from ..validation import groundtruth

    started = time.monotonic()
    # everything is checked before MPI starts (cells load in a child process)
    config = load_config(args.config, window=args, spikes=args.spikes)
    source = spikes.spike_source(config, args.spikes)
    output = output_path(args.output, inputs=source.files, config=config)
    settings = groundtruth.settings_from_config(
        config,
        args.cells_per_population,
        args.seed,
        args.linearized,
        parse_cells(args.cells),
    )
    if args.hybrid_kernels and settings.subset is not None:
        raise InputError("--cells", "not with --hybrid-kernels (kernels need every cell)")
    posts = config.postsynaptic_populations()
    segments = check_cells(config, posts)
    t_start, t_stop = config.signal_window()
    # every cell is one NEURON run over the window and its warm-up (hybrid-scheme
    # kernels: one with the background only, and one per presynaptic population)
    dt = config.simulation["dt"]
    steps = (t_stop - t_start + settings.warmup) / dt
    if args.hybrid_kernels:
        runs = 1 + len(config.populations)
        steps = runs * (settings.warmup + 2 * config.simulation["tau"]) / dt
    cells = {p: len(settings.indices(p)) for p in posts}
    core_seconds = sum(cells[p] * detailed_run_seconds(segments[p], steps) for p in posts)
    require_work(core_seconds, "groundtruth.cells_per_population", f"{sum(cells.values())} cells")
    sample = ", ".join(f"{p} {cells[p]} of {config.populations[p]['size']}" for p in posts)
    print(
        f"[hpckernels] groundtruth: cells {sample} (groundtruth.cells_per_population, "
        f"--cells-per-population); about {core_seconds / 3600:.2g} core-hours estimated",
        file=sys.stderr,
    )
    pres = list(dict.fromkeys(c["pre"] for c in config.connections))
    trains = spikes.read_spike_trains(config, source, pres, t_start=0.0)
    spikes.check_recording(
        {name: trains[name].times for name in pres}, t_start, t_stop, source.recording_end
    )
    n_rows = ProbeStack(groundtruth.detailed_probes(config, settings.contacts)).n_rows
    n_bins = groundtruth.Window.of(
        t_start, t_stop, config.simulation["dt"], settings.warmup
    ).n_bins
    cells = sum(len(settings.indices(p)) for p in posts)
    require_memory(
        8 * n_rows * n_bins * (3 * len(posts) + 4 + (cells if settings.subset else 0)),
        "signals.t_stop",
        f"ground-truth signals of {n_rows} channels over {n_bins} bins",
    )

    explicit = args.cells_per_population is not None or "cells_per_population" in config.data.get(
        "groundtruth", {}
    )
    if settings.subset is None:
        note(cost_note(config, settings, segments, t_stop, explicit))

    from ..io import validation as validation_io
    from ..runtime import on_rank_zero, start_neuron

    comm = start_neuron(config)
    attrs = {
        "spike_files": json.dumps([str(p) for p in source.files]),
        "spike_sha256": json.dumps([file_sha256(p) for p in source.files]),
        "spike_format": source.format.name,
        "mpi_ranks": comm.Get_size(),
    }
    if args.hybrid_kernels:
        t0 = settings.warmup if args.t0 is None else args.t0
        if not t0 >= 0:
            raise InputError("--t0", f"{t0} ms; the volley time must be >= 0")
        done = groundtruth.hybrid_kernels(config, settings, trains, comm, t0)
        what = "hybrid-scheme kernels"
    else:
        done = groundtruth.simulate_population(config, settings, trains, comm)
        what = f"{settings.mode()} signals"

    def write():
        result = done[1] if args.hybrid_kernels else done
        attrs.update(
            core_seconds=result.elapsed * comm.Get_size(),
            cell_seconds=json.dumps(result.cell_seconds),
        )
        if args.hybrid_kernels:
            attrs.update(t0=t0)
            validation_io.write_hybrid_kernels(output, config, settings, done[0], attrs)
        else:
            validation_io.write_groundtruth(output, config, settings, result, attrs)
        sample = ", ".join(
            f"{p} {len(settings.indices(p))}/{config.populations[p]['size']}" for p in posts
        )
        print(
            f"[hpckernels] groundtruth: {what} of cells {sample} on {comm.Get_size()} "
            f"rank(s): wrote {output} ({time.monotonic() - started:.1f} s)",
            file=sys.stderr,
        )

    on_rank_zero(comm, write)
    return 0
