"""``hpckernels groundtruth``: signals of a detailed population of multicompartment cells
driven by the network's spikes (hybrid scheme; MPI over cells)."""

import json
import sys
import time

from ..errors import InputError
from . import add_detailed_population_options, load_config, output_path


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
    parser.set_defaults(func=run)


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
    from ..resources import require_memory
    from ..validation import groundtruth

    started = time.monotonic()
    # everything is checked before MPI starts (cells load in a child process)
    config = load_config(args.config, spikes=args.spikes)
    source = spikes.spike_source(config, args.spikes)
    output = output_path(args.output, inputs=[args.config, *source.files])
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
    check_cells(config, posts)
    t_start, t_stop = config.signal_window()
    pres = list(dict.fromkeys(c["pre"] for c in config.connections))
    trains = spikes.read_spike_trains(config, source, pres, t_start=0.0)
    n_rows = ProbeStack(groundtruth.detailed_probes(config.probes, settings.contacts)).n_rows
    n_bins = groundtruth.Window.of(
        t_start, t_stop, config.simulation["dt"], settings.warmup
    ).n_bins
    cells = sum(len(settings.indices(p)) for p in posts)
    require_memory(
        8 * n_rows * n_bins * (3 * len(posts) + 4 + (cells if settings.subset else 0)),
        "signals.t_stop",
        f"ground-truth signals of {n_rows} channels over {n_bins} bins",
    )

    from ..io import validation as validation_io
    from ..runtime import start_neuron

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
        if done is not None:
            kernels, result = done
            attrs.update(
                t0=t0,
                core_seconds=result.elapsed * comm.Get_size(),
                cell_seconds=json.dumps(result.cell_seconds),
            )
            validation_io.write_hybrid_kernels(output, config, settings, kernels, attrs)
            what = "hybrid-scheme kernels"
    else:
        result = groundtruth.simulate_population(config, settings, trains, comm)
        if result is not None:
            attrs.update(
                core_seconds=result.elapsed * comm.Get_size(),
                cell_seconds=json.dumps(result.cell_seconds),
            )
            validation_io.write_groundtruth(output, config, settings, result, attrs)
            what = f"{settings.mode()} signals"
    if comm.Get_rank() == 0:
        sample = ", ".join(
            f"{p} {len(settings.indices(p))}/{config.populations[p]['size']}" for p in posts
        )
        print(
            f"[hpckernels] groundtruth: {what} of cells {sample} on {comm.Get_size()} "
            f"rank(s): wrote {output} ({time.monotonic() - started:.1f} s)",
            file=sys.stderr,
        )
    comm.Barrier()
    return 0
