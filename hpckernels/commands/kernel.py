"""``hpckernels kernel``: the kernels of one pathway X -> Y for every probe (MPI-aware)."""

import sys
import time
from pathlib import Path

from ..errors import InputError
from . import (
    add_g_eff_option,
    add_rate_spikes_option,
    add_variant_option,
    int_at_least,
    load_config,
    output_path,
)


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "kernel",
        help="kernels of one pathway X->Y for every probe (MPI-aware)",
        description="Compute the kernels H_YX of pathway --pre X -> --post Y for every probe "
        "of CONFIG. Run under 'mpiexec -n N' to spread the basis runs and ensemble "
        "realizations over N ranks.",
    )
    parser.add_argument("config", help="network config (YAML)")
    parser.add_argument("--pre", required=True, help="presynaptic population X")
    parser.add_argument("--post", required=True, help="postsynaptic population Y")
    parser.add_argument("--mode", choices=["mean-field", "ensemble"], default="mean-field")
    parser.add_argument(
        "--engine",
        help="kernel engine, a name of hpckernels.engines.ENGINES: basis (default) computes "
        "Y's responses to unit events on each segment once (or reads them with --basis), "
        "then sums over them; neuron runs NEURON once per pathway or realization (the "
        "reference)",
    )
    parser.add_argument(
        "--basis",
        help="basis file of Y ('hpckernels basis'; checked against CONFIG): no NEURON run",
    )
    parser.add_argument(
        "--realizations",
        type=int_at_least(2),
        help="ensemble size R >= 2 (default: config ensemble.realizations)",
    )
    parser.add_argument(
        "--seed", type=int_at_least(0), help="base seed (default: config ensemble.seed)"
    )
    parser.add_argument(
        "--probe", action="append", help="only this probe (repeatable; default: all probes)"
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("-o", "--output", help="output HDF5 file (one group per probe)")
    where.add_argument("--output-dir", help="write one file per probe, DIR/<probe>.h5")
    parser.add_argument(
        "--cache",
        help="folder of cached membrane currents (mean-field responses, per-segment basis "
        "responses): a probe edit then needs no NEURON run",
    )
    add_g_eff_option(parser)
    add_variant_option(parser)
    add_rate_spikes_option(parser)
    parser.set_defaults(func=run)


def run(args):
    from ..cellcheck import check_cells

    started = time.monotonic()
    # everything is checked before MPI starts: the cell loads in a child process, where
    # a broken template or morphology cannot take the ranks down
    config = load_config(args.config, args.g_eff, spikes=args.spikes, variant=args.variant)
    config.connection(args.pre, args.post)
    probes = config.probe_names(args.probe)
    if args.output:
        output = output_path(args.output, inputs=[args.basis] if args.basis else ())
    else:
        output = Path(args.output_dir)
        if output.exists() and not output.is_dir():
            raise InputError("--output-dir", f"{output} exists and is not a folder")
    from ..engines import ENGINES, get_engine, require_basis_memory

    engine = get_engine(args.engine) if args.engine else get_engine()
    args.engine = engine.name
    if args.basis and not engine.reads_basis:
        readers = ", ".join(f"--engine {name}" for name, cls in ENGINES.items() if cls.reads_basis)
        raise InputError("--basis", f"is read by {readers}, not by --engine {args.engine}")
    cache = None
    if args.cache and not args.basis:
        from ..io.cache import ResponseCache

        cache = ResponseCache(args.cache)
    basis = None
    if args.basis:
        basis = read_checked_basis(args.basis, config, args.post)
    else:
        segments = check_cells(config, [args.post])[args.post]
        if engine.reads_basis:
            require_basis_memory(config, args.post, segments, [args.pre])
    realizations = args.realizations or config.ensemble["realizations"]
    seed = config.ensemble["seed"] if args.seed is None else args.seed

    from ..io.kernels import write_kernel_file

    if basis is None:
        from ..runtime import start_neuron

        comm = start_neuron(config)
    else:
        from mpi4py import MPI

        comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    extra = {"engine": args.engine}
    if basis is not None:
        extra["basis_hash"] = basis.basis_hash
    if args.mode == "mean-field":
        results = engine.mean_field_kernels(
            config, args.pre, args.post, probes, comm, cache, basis
        )
        if results is not None:
            results = {name: {"kernel": kernel} for name, kernel in results.items()}
    else:
        results = engine.ensemble_kernels(
            config, args.pre, args.post, realizations, seed, comm, probes, cache, basis
        )
        extra.update(
            {
                "realizations": realizations,
                "seed": seed,
                "std_ddof": 1,
                "mpi_ranks": comm.Get_size(),
            }
        )
    ensemble = {"realizations": realizations, "seed": seed}
    if rank == 0:
        files = (
            {output: results}
            if args.output
            else {output / f"{name}.h5": {name: arrays} for name, arrays in results.items()}
        )
        if not args.output:
            output.mkdir(parents=True, exist_ok=True)
        for path, arrays in files.items():
            write_kernel_file(
                path, config, args.pre, args.post, args.mode, arrays, extra, ensemble
            )
        print(
            f"[hpckernels] {args.pre}->{args.post} {args.mode} ({args.engine} engine): wrote "
            f"{output} (probes: {', '.join(probes)}; {time.monotonic() - started:.2f} s)",
            file=sys.stderr,
        )
    comm.Barrier()
    return 0


def read_checked_basis(path, config, post):
    """The basis of ``post`` in ``path``, refused (InputError naming the file and what
    differs) unless it was computed from this config."""
    from ..io.basis import basis_file_differences, read_basis

    basis, attrs = read_basis(path)
    found = basis_file_differences(attrs, config, post)
    if found:
        raise InputError(
            str(path),
            f"not the basis of {post} of this config: {'; '.join(found[:3])} "
            "(compute it again with 'hpckernels basis')",
        )
    return basis
