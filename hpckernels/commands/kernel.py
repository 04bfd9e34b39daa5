"""``hpckernels kernel``: the kernels of one pathway X -> Y for every probe (MPI-aware)."""

import sys
import time
from pathlib import Path

from ..errors import InputError
from . import add_g_eff_option, int_at_least, load_config, output_path


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "kernel",
        help="kernels of one pathway X->Y for every probe (MPI-aware)",
        description="Compute the kernels H_YX of pathway --pre X -> --post Y for every probe "
        "of CONFIG. Run under 'mpiexec -n N' to spread ensemble realizations.",
    )
    parser.add_argument("config", help="network config (YAML)")
    parser.add_argument("--pre", required=True, help="presynaptic population X")
    parser.add_argument("--post", required=True, help="postsynaptic population Y")
    parser.add_argument("--mode", choices=["mean-field", "ensemble"], default="mean-field")
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
        help="folder of cached mean-field membrane-current "
        "responses: a probe edit then needs no NEURON run",
    )
    add_g_eff_option(parser)
    parser.set_defaults(func=run)


def run(args):
    from ..cellcheck import check_cells

    started = time.monotonic()
    # everything is checked before MPI starts: the cell loads in a child process, where
    # a broken template or morphology cannot take the ranks down
    config = load_config(args.config, args.g_eff)
    config.connection(args.pre, args.post)
    probes = config.probe_names(args.probe)
    if args.output:
        output = output_path(args.output)
    else:
        output = Path(args.output_dir)
        if output.exists() and not output.is_dir():
            raise InputError("--output-dir", f"{output} exists and is not a folder")
    cache = None
    if args.cache and args.mode == "mean-field":
        from ..kernels import ResponseCache

        cache = ResponseCache(args.cache)
    check_cells(config, [args.post])
    realizations = args.realizations or config.ensemble["realizations"]
    seed = config.ensemble["seed"] if args.seed is None else args.seed

    # mpi4py must initialise MPI before NEURON is imported
    from mpi4py import MPI

    from .. import h5io, kernels, mechanisms

    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    mechanisms.import_neuron()
    mechanisms.load_all(config, allow_compile=comm.Get_size() == 1)
    if args.mode == "mean-field":
        results, extra = None, {}
        if rank == 0:
            results = {
                name: {"kernel": kernel}
                for name, kernel in kernels.mean_field_kernels(
                    config, args.pre, args.post, probes, cache
                ).items()
            }
    else:
        results = kernels.ensemble_kernels(
            config, args.pre, args.post, realizations, seed, comm, probes
        )
        extra = {
            "realizations": realizations,
            "seed": seed,
            "std_ddof": 1,
            "mpi_ranks": comm.Get_size(),
        }
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
            h5io.write_kernel_file(
                path, config, args.pre, args.post, args.mode, arrays, extra, ensemble
            )
        print(
            f"[hpckernels] {args.pre}->{args.post} {args.mode}: wrote {output} (probes: "
            f"{', '.join(probes)}; {time.monotonic() - started:.2f} s)",
            file=sys.stderr,
        )
    comm.Barrier()
    return 0
