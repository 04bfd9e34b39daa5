"""``hpckernels basis``: the impulse-response basis of one population (MPI-aware)."""

import sys
import time

from . import add_rate_spikes_option, load_config, output_path


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "basis",
        help="the response file of a population's cell: what its kernels are computed from",
        description="Write what the kernels of every pathway into --post Y are computed "
        "from, so that 'hpckernels kernel --basis FILE' computes any of them, mean-field or "
        "ensemble, for any probe, without NEURON. With the linear engine (default) that is "
        "Y's linearized cell as a linear system (read from NEURON once; no probe enters "
        "it); with --engine basis, the responses of every probe of CONFIG to unit events "
        "on each segment (one NEURON run each; run under 'mpiexec -n N' to spread them "
        "over N ranks).",
    )
    parser.add_argument("config", help="network config (YAML)")
    parser.add_argument("--post", required=True, help="postsynaptic population Y")
    parser.add_argument("-o", "--output", required=True, help="response file (HDF5)")
    parser.add_argument(
        "--engine",
        help="kernel engine (a name of hpckernels.engines.ENGINES, default linear) whose "
        "kernel jobs read the file",
    )
    parser.add_argument(
        "--cache",
        help="--engine basis: folder of cached per-segment membrane currents, so that a "
        "probe edit needs no NEURON run (bases up to 512 MiB)",
    )
    add_rate_spikes_option(parser)
    parser.set_defaults(func=run)


def run(args):
    from ..cellcheck import check_cells
    from ..engines import get_engine, require_resources
    from ..errors import ConfigError, InputError
    from ..io.cache import ResponseCache

    started = time.monotonic()
    config = load_config(args.config, spikes=args.spikes)
    if not config.connections_into(args.post):
        posts = sorted({c["post"] for c in config.connections})
        raise ConfigError(
            "--post",
            f"no connection into '{args.post}'; postsynaptic populations are {', '.join(posts)}",
        )
    output = output_path(args.output, config=config)
    cache = ResponseCache(args.cache) if args.cache else None
    engine = get_engine(args.engine) if args.engine else get_engine()
    if args.cache and not engine.uses_cache:
        raise InputError(
            "--cache",
            f"the {engine.name} engine keeps no cache: its response file holds no probe, "
            "so a probe edit needs no new one",
        )
    segments = check_cells(config, [args.post])[args.post]
    require_resources(engine, config, args.post, segments)

    from ..io.basis import write_basis
    from ..runtime import on_rank_zero, start_neuron

    comm = start_neuron(config)
    basis = engine.population_response(config, args.post, comm, cache=cache)

    def write():
        write_basis(output, config, basis)
        what = (
            f"linear system of {basis.system.n_nodes} nodes"
            if basis.system is not None and not basis.kinetics
            else ", ".join(f"{k.label}: {k.columns.size}" for k in basis.kinetics.values())
            + " segments"
        )
        print(
            f"[hpckernels] basis of {args.post} ({what}; {engine.name} engine, "
            f"{comm.Get_size()} rank(s)): wrote {output} ({time.monotonic() - started:.2f} s)",
            file=sys.stderr,
        )

    on_rank_zero(comm, write)
    return 0
