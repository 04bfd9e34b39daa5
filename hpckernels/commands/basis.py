"""``hpckernels basis``: the impulse-response basis of one population (MPI-aware)."""

import sys
import time

from . import add_rate_spikes_option, load_config, output_path


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "basis",
        help="responses of a population's cell to unit events on each segment (MPI-aware)",
        description="Simulate the linearized cell of --post Y once per segment and synapse "
        "kinetics of its inputs (one unit event at lag 0), project the membrane currents "
        "onto every probe of CONFIG and write them: 'hpckernels kernel --basis FILE' then "
        "computes any pathway into Y, mean-field or ensemble, without NEURON. Run under "
        "'mpiexec -n N' to spread the segment runs over N ranks.",
    )
    parser.add_argument("config", help="network config (YAML)")
    parser.add_argument("--post", required=True, help="postsynaptic population Y")
    parser.add_argument("-o", "--output", required=True, help="basis file (HDF5)")
    parser.add_argument(
        "--cache",
        help="folder of cached per-segment membrane currents: a probe edit then needs no "
        "NEURON run (bases up to 512 MiB)",
    )
    add_rate_spikes_option(parser)
    parser.set_defaults(func=run)


def run(args):
    from ..cellcheck import check_cells
    from ..engines import get_engine, require_basis_memory
    from ..errors import ConfigError
    from ..io.cache import ResponseCache

    started = time.monotonic()
    config = load_config(args.config, spikes=args.spikes)
    if not config.connections_into(args.post):
        posts = sorted({c["post"] for c in config.connections})
        raise ConfigError(
            "--post",
            f"no connection into '{args.post}'; postsynaptic populations are {', '.join(posts)}",
        )
    output = output_path(args.output)
    cache = ResponseCache(args.cache) if args.cache else None
    segments = check_cells(config, [args.post])[args.post]
    require_basis_memory(config, args.post, segments)

    from ..io.basis import write_basis
    from ..runtime import start_neuron

    comm = start_neuron(config)
    basis = get_engine().population_basis(config, args.post, comm, cache=cache, everywhere=False)
    if comm.Get_rank() == 0:
        write_basis(output, config, basis)
        columns = ", ".join(f"{k.label}: {k.columns.size}" for k in basis.kinetics.values())
        print(
            f"[hpckernels] basis of {args.post} ({columns} segments; {comm.Get_size()} "
            f"rank(s)): wrote {output} ({time.monotonic() - started:.2f} s)",
            file=sys.stderr,
        )
    comm.Barrier()
    return 0
