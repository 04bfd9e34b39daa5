"""``hpckernels signals``: predicted signals of every probe from spikes and a kernel tensor."""

from . import add_g_eff_option, add_variant_option, add_window_options, load_config, output_path


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "signals",
        help="predict LFP/EEG/MEG... from spikes and a kernel tensor",
        description="Convolve the spike counts of every population with the kernel tensor "
        "KERNELS (from 'hpckernels assemble') and write the signal of every probe, "
        "summed over pathways and per pathway, chunk by chunk in bounded memory. "
        "Spikes: the config's 'spikes' section (format, files, populations), or "
        "without one the SONATA file of 'hpckernels network'.",
    )
    parser.add_argument("config", help="network config (YAML)")
    parser.add_argument(
        "--kernels",
        required=True,
        nargs="+",
        metavar="KERNELS.h5",
        help="kernel tensor (hpckernels assemble), or one file per probe",
    )
    parser.add_argument(
        "--spikes",
        nargs="+",
        metavar="FILE",
        help="spike files (override spikes.files; required without a "
        "spikes section: the SONATA file of 'hpckernels network')",
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="SIGNALS.h5",
        help="output HDF5 file (written atomically)",
    )
    parser.add_argument(
        "--allow-stale",
        action="store_true",
        help="use a kernel tensor computed from other inputs than the config (recorded in "
        "the output's stale_kernels attribute) instead of refusing it",
    )
    add_window_options(parser)
    add_g_eff_option(parser)
    add_variant_option(parser)
    parser.set_defaults(func=run)


def run(args):
    from ..steps.predict import predict_signals

    config = load_config(
        args.config, args.g_eff, window=args, spikes=args.spikes, variant=args.variant
    )
    output = output_path(args.output, inputs=[*args.kernels, *(args.spikes or [])], config=config)
    predict_signals(config, args.kernels, args.spikes, output, allow_stale=args.allow_stale)
    return 0
