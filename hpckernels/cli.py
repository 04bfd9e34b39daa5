"""Command line: ``hpckernels kernel|mechanisms|validate ...``.

Bad input ends with one line on stderr naming the key or file and what is
allowed, exit code 2, and no output file.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback
from pathlib import Path

from .commands import output_path
from .errors import InputError

EXIT_BAD_INPUT = 2

#: Subcommand modules in hpckernels/commands/ (each has add_parser(subparsers)).
COMMAND_MODULES = ("network", "signals", "plots")


def _int_at_least(minimum):
    """argparse type: an integer >= minimum."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got '{text}'")
        return value
    return parse


def build_parser():
    parser = argparse.ArgumentParser(
        prog="hpckernels",
        description="Spike-signal kernels of linearized multicompartment neurons "
                    "(Hagen et al. 2022), mean-field or as MPI synapse ensembles.")
    sub = parser.add_subparsers(dest="command", required=True)

    kernel = sub.add_parser(
        "kernel", help="kernels of one pathway X->Y for every probe (MPI-aware)",
        description="Compute the kernels H_YX of pathway --pre X -> --post Y for every probe "
                    "of CONFIG. Run under 'mpiexec -n N' to spread ensemble realizations.")
    kernel.add_argument("config", help="network config (YAML)")
    kernel.add_argument("--pre", required=True, help="presynaptic population X")
    kernel.add_argument("--post", required=True, help="postsynaptic population Y")
    kernel.add_argument("--mode", choices=["mean-field", "ensemble"], default="mean-field")
    kernel.add_argument("--realizations", type=_int_at_least(1),
                        help="ensemble size R (default: config ensemble.realizations)")
    kernel.add_argument("--seed", type=_int_at_least(0),
                        help="base seed (default: config ensemble.seed)")
    kernel.add_argument("--probe", action="append",
                        help="only this probe (repeatable; default: all probes)")
    where = kernel.add_mutually_exclusive_group(required=True)
    where.add_argument("-o", "--output", help="output HDF5 file (one group per probe)")
    where.add_argument("--output-dir", help="write one file per probe, DIR/<probe>.h5")
    kernel.add_argument("--cache", help="folder of cached mean-field membrane-current "
                                        "responses: a probe edit then needs no NEURON run")
    kernel.set_defaults(func=cmd_kernel)

    assemble = sub.add_parser(
        "assemble", help="assemble pathway kernel files into one kernel tensor",
        description="Reduce step: read KERNELS_DIR/<post>/<pre>/<probe>.h5 for every pathway "
                    "and probe of CONFIG and write the tensor (n_post, n_pre, n_channel, n_lag) "
                    "per probe.")
    assemble.add_argument("config")
    assemble.add_argument("--kernels-dir", required=True)
    assemble.add_argument("--mode", choices=["mean-field", "ensemble"], default="mean-field")
    assemble.add_argument("-o", "--output", required=True)
    assemble.set_defaults(func=cmd_assemble)

    plot = sub.add_parser("plot-kernels", help="draw a kernel tensor (pathways x channels)")
    plot.add_argument("tensor", help="kernel tensor HDF5 file")
    plot.add_argument("--probe", required=True)
    plot.add_argument("-o", "--output", required=True, help="PNG file")
    plot.set_defaults(func=cmd_plot_kernels)

    mech = sub.add_parser("mechanisms", help="compile the NMODL mechanisms in mod/ (once)")
    mech.set_defaults(func=cmd_mechanisms)

    validate = sub.add_parser("validate", help="validate a config and list its pathways")
    validate.add_argument("config")
    validate.set_defaults(func=cmd_validate)
    for name in COMMAND_MODULES:
        importlib.import_module(f"hpckernels.commands.{name}").add_parser(sub)
    return parser


def cmd_mechanisms(args):
    from . import mechanisms

    target = mechanisms.compile_mechanisms(quiet=False)
    print(target)
    return 0


def cmd_validate(args):
    from .config import NetworkConfig

    config = NetworkConfig.from_file(args.config)
    print(f"{args.config}: valid; pathways: {', '.join(map(str, config.pathways()))}; "
          f"probes: {', '.join(config.probes)}")
    return 0


def cmd_kernel(args):
    # mpi4py must initialise MPI before NEURON is imported
    from mpi4py import MPI

    from . import distributions, engine, ensemble, io, mechanisms
    from .config import NetworkConfig

    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    started = time.monotonic()

    config = NetworkConfig.from_file(args.config)
    index = config.connections.index(config.connection(args.pre, args.post))
    if args.output:
        output = output_path(args.output)
    else:
        output = Path(args.output_dir)
        if rank == 0:
            output.mkdir(parents=True, exist_ok=True)
    names = args.probe or list(config.probes)
    for name in names:
        if name not in config.probes:
            raise InputError("--probe", f"unknown probe '{name}'; probes are "
                                        f"{', '.join(config.probes)}")
    if args.probe:
        config.data["probes"] = {name: config.probes[name] for name in names}
    realizations = args.realizations or config.ensemble["realizations"]
    seed = config.ensemble["seed"] if args.seed is None else args.seed
    if args.mode == "ensemble":
        low = distributions.frozen(config.connection(args.pre, args.post)["delay"]).support()[0]
        if low < 0:
            raise InputError(f"connections[{index}].delay",
                             f"support starts at {low} ms; ensemble delays must be >= 0")

    mechanisms.load_mechanisms(allow_compile=comm.Get_size() == 1)
    label = f"{args.pre}->{args.post}"
    if args.mode == "mean-field":
        results = None
        if rank == 0:
            kernels = _mean_field(config, args.pre, args.post, args.cache, label)
            results = {name: {"kernel": k} for name, k in kernels.items()}
        extra = {}
    else:
        with engine.PathwayModel(config, args.pre, args.post) as model:
            matrices = model.transformation_matrices()
            moments = ensemble.ensemble_kernels(model, matrices, realizations, seed, comm,
                                                label=label)
        results = None if moments is None else {
            name: {"kernel": m.mean, "std": m.std(ddof=1)} for name, m in moments.items()}
        extra = {"realizations": realizations, "seed": seed, "std_ddof": 1,
                 "mpi_ranks": comm.Get_size()}
    if rank == 0:
        if args.output:
            io.write_kernel_file(output, config, args.pre, args.post, args.mode, results, extra)
        else:
            for name, arrays in results.items():
                io.write_kernel_file(output / f"{name}.h5", config, args.pre, args.post,
                                     args.mode, {name: arrays}, extra)
        print(f"[hpckernels] {label} {args.mode}: wrote {output} (probes: {', '.join(names)}; "
              f"{time.monotonic() - started:.2f} s)", file=sys.stderr)
    comm.Barrier()
    return 0


def _mean_field(config, pre, post, cache, label):
    """Mean-field kernels, reusing a cached membrane-current response when there is one."""
    from . import engine, io

    cached = io.response_cache_path(cache, config, pre, post) if cache else None
    stored = io.read_response(cached) if cached and cached.is_file() else None
    if stored is not None:
        print(f"[hpckernels] {label}: membrane currents from cache {cached} (no NEURON run)",
              file=sys.stderr)
        return engine.project_mean_field(config, pre, post, *stored)
    with engine.PathwayModel(config, pre, post) as model:
        response = model.mean_field_response()
        geometry = model.geometry
    if cached:
        cached.parent.mkdir(parents=True, exist_ok=True)
        io.write_response(cached, response.imem, geometry, config.simulation["dt"],
                          config.pathway_hash(pre, post, "mean-field"))
    return engine.project_mean_field(config, pre, post, response.imem, geometry)


def cmd_assemble(args):
    from . import io
    from .config import NetworkConfig

    config = NetworkConfig.from_file(args.config)
    output = output_path(args.output)
    files = {}
    for pathway in config.pathways():
        for probe in config.probes:
            path = Path(args.kernels_dir) / pathway.post / pathway.pre / f"{probe}.h5"
            if not path.is_file():
                raise InputError(str(path), f"kernel file of {pathway} / {probe} is missing")
            files[(pathway.pre, pathway.post, probe)] = path
    io.write_tensor(output, config, args.mode, files)
    print(f"[hpckernels] wrote kernel tensor {output}", file=sys.stderr)
    return 0


def cmd_plot_kernels(args):
    from . import figures

    source = Path(args.tensor)
    if not source.is_file():
        raise InputError(str(source), "kernel tensor file not found")
    output = output_path(args.output)
    figures.plot_kernel_tensor(source, args.probe, output)
    return 0


def main(argv=None):
    # no GUI: keeps NEURON from warning about a missing DISPLAY on every rank
    os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
    except InputError as exc:
        if _rank() == 0:
            print(f"hpckernels: error: {exc}", file=sys.stderr)
        code = EXIT_BAD_INPUT
    except Exception:
        # an unexpected failure on one rank must not leave the others waiting
        traceback.print_exc()
        _abort_if_parallel(1)
        code = 1
    sys.exit(code)


def _rank():
    if "mpi4py.MPI" in sys.modules:
        return sys.modules["mpi4py.MPI"].COMM_WORLD.Get_rank()
    return 0


def _abort_if_parallel(code):
    if "mpi4py.MPI" in sys.modules:
        comm = sys.modules["mpi4py.MPI"].COMM_WORLD
        if comm.Get_size() > 1:
            comm.Abort(code)


if __name__ == "__main__":
    main()
