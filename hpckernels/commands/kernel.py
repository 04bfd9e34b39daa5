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
        help="kernel engine, a name of hpckernels.engines.ENGINES: linear (default) solves "
        "the linearized cell as a sparse linear system read once from NEURON (or from "
        "--basis); basis runs NEURON once per segment, then sums over the responses; "
        "neuron runs NEURON once per pathway or realization (the reference)",
    )
    parser.add_argument(
        "--basis",
        help="response file of Y ('hpckernels basis'; checked against CONFIG): no NEURON",
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
        help="--engine basis or neuron: folder of cached membrane currents (mean-field "
        "responses, per-segment basis responses), so that a probe edit needs no NEURON run",
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
        output = output_path(args.output, inputs=[args.basis] if args.basis else (), config=config)
    else:
        output = Path(args.output_dir)
        if output.exists() and not output.is_dir():
            raise InputError("--output-dir", f"{output} exists and is not a folder")
    from ..engines import ENGINES, get_engine, require_resources

    engine = get_engine(args.engine) if args.engine else get_engine()
    args.engine = engine.name
    if args.basis and not engine.reads_basis:
        readers = ", ".join(f"--engine {name}" for name, cls in ENGINES.items() if cls.reads_basis)
        raise InputError("--basis", f"is read by {readers}, not by --engine {args.engine}")
    if args.cache and not engine.uses_cache:
        raise InputError(
            "--cache",
            f"the {engine.name} engine keeps no cache (it needs no NEURON run after its "
            "response file); give it to --engine basis or neuron",
        )
    cache = None
    if args.cache and not args.basis:
        from ..io.cache import ResponseCache

        cache = ResponseCache(args.cache)
    realizations = args.realizations or config.ensemble["realizations"]
    seed = config.ensemble["seed"] if args.seed is None else args.seed
    ensemble_size = realizations if args.mode == "ensemble" else None
    basis = None
    if args.basis:
        basis = read_checked_basis(args.basis, config, args.post)
        if basis.system is not None and not basis.kinetics and not engine.writes_system:
            readers = ", ".join(f"--engine {n}" for n, cls in ENGINES.items() if cls.writes_system)
            raise InputError(
                args.basis,
                f"holds the linear system of {args.post}, no responses: read it with {readers}",
            )
        require_resources(
            engine, config, args.post, basis.n_segments, [args.pre], ensemble_size, from_file=True
        )
    else:
        segments = check_cells(config, [args.post])[args.post]
        require_resources(engine, config, args.post, segments, [args.pre], ensemble_size)

    from ..io.kernels import write_kernel_file, write_kernel_set
    from ..runtime import on_rank_zero

    if basis is None:
        from ..runtime import start_neuron

        comm = start_neuron(config)
    else:
        from ..runtime import world

        comm = world()
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

    def write():
        if args.output:
            write_kernel_file(
                output, config, args.pre, args.post, args.mode, results, extra, ensemble
            )
        else:
            write_kernel_set(
                output, config, args.pre, args.post, args.mode, results, extra, ensemble
            )
        print(
            f"[hpckernels] {args.pre}->{args.post} {args.mode} ({args.engine} engine): wrote "
            f"{output} (probes: {', '.join(probes)}; {time.monotonic() - started:.2f} s)",
            file=sys.stderr,
        )

    on_rank_zero(comm, write)
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
