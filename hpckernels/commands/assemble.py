"""``hpckernels assemble``: the reduce step, pathway kernel files -> one kernel tensor."""

import sys
from pathlib import Path

from ..errors import InputError
from . import (
    add_g_eff_option,
    add_rate_spikes_option,
    add_variant_option,
    load_config,
    output_path,
    warn,
)


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "assemble",
        help="assemble pathway kernel files into one kernel tensor",
        description="Reduce step: read the kernels of every pathway and probe of CONFIG (or "
        "the --probe ones), from the files of 'hpckernels kernel -o' (KERNEL_FILE ..., any "
        "names: each file says its pathway) or from KERNELS_DIR/<post>/<pre>/<probe>.h5 (what "
        "'kernel --output-dir KERNELS_DIR/<post>/<pre>' and the workflow write), and write "
        "the tensor (n_post, n_pre, n_channel, n_lag) per probe.",
    )
    parser.add_argument("config", help="network config (YAML)")
    parser.add_argument(
        "files",
        nargs="*",
        metavar="KERNEL_FILE",
        help="pathway kernel files (hpckernels kernel -o), e.g. H_*.h5",
    )
    parser.add_argument(
        "--kernels-dir", help="folder of pathway kernel files <post>/<pre>/<probe>.h5"
    )
    parser.add_argument("--mode", choices=["mean-field", "ensemble"], default="mean-field")
    parser.add_argument(
        "--probe", action="append", help="only this probe (repeatable; default: all probes)"
    )
    parser.add_argument("-o", "--output", required=True, help="kernel tensor (HDF5)")
    parser.add_argument(
        "--allow-stale",
        action="store_true",
        help="use kernel files computed from other inputs than the config "
        "(listed in the tensor's stale_inputs attribute) instead of "
        "refusing them",
    )
    add_g_eff_option(parser)
    add_variant_option(parser)
    add_rate_spikes_option(parser)
    parser.set_defaults(func=run)


def run(args):
    from ..io.h5 import open_h5, text
    from ..io.kernels import pathway_files, write_tensor

    if bool(args.files) == bool(args.kernels_dir):
        raise InputError("KERNEL_FILE/--kernels-dir", "give the kernel files or --kernels-dir")
    config = load_config(args.config, args.g_eff, spikes=args.spikes, variant=args.variant)
    found = pathway_files(args.files) if args.files else {}
    files = {}
    for pathway in config.pathways():
        for probe in config.probe_names(args.probe):
            key = (pathway.pre, pathway.post, probe)
            if args.files:
                if key not in found:
                    raise InputError(
                        "KERNEL_FILE",
                        f"no file has the kernels of {pathway} / {probe} (files: "
                        f"{', '.join(sorted({str(p) for p in found.values()}))})",
                    )
                files[key] = found[key]
                continue
            path = Path(args.kernels_dir) / pathway.post / pathway.pre / f"{probe}.h5"
            if not path.is_file():
                raise InputError(str(path), f"kernel file of {pathway} / {probe} is missing")
            files[key] = path

    output = output_path(args.output, inputs=files.values(), config=config)
    write_tensor(output, config, args.mode, files, allow_stale=args.allow_stale)
    if args.allow_stale:
        with open_h5(output, "kernel tensor") as fh:
            stale = fh.attrs.get("stale_inputs")
        if stale is not None:
            warn(
                f"{output} holds kernels of other inputs than {args.config} (--allow-stale): "
                f"{text(stale)}"
            )
    print(f"[hpckernels] wrote kernel tensor {output}", file=sys.stderr)
    return 0
