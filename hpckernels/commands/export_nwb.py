"""``hpckernels export-nwb``: a run's predicted signals, spikes and kernels as one NWB file."""

from . import add_window_options, load_config, output_path


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "export-nwb",
        help="write a run's signals, spikes and kernels as one NWB file",
        description="Write the predicted signals of SIGNALS (from 'hpckernels signals') as "
        "one NWB 2 file: potentials as ElectricalSeries under processing/ecephys with an "
        "electrodes table (contact positions in µm, probe), CSD, current dipole moment, "
        "EEG and MEG as TimeSeries in SI units, per-pathway signals when present, the "
        "network's spikes as a Units table (column population), the kernel tensor and the "
        "config as provenance. Session and subject metadata: the config's nwb section. "
        "Needs pynwb (pip install 'hpckernels[nwb]').",
    )
    parser.add_argument("config", help="network config (YAML) the signals were computed from")
    parser.add_argument(
        "--signals", required=True, metavar="SIGNALS.h5", help="signals (hpckernels signals)"
    )
    parser.add_argument(
        "--kernels",
        nargs="+",
        metavar="KERNELS.h5",
        help="the kernel tensor of the signals (hpckernels assemble; one file or one per "
        "probe, as given to signals), stored as provenance",
    )
    parser.add_argument(
        "--spikes",
        nargs="+",
        metavar="FILE",
        help="spike files of the network (default: spikes.files of the config, else the "
        "files the signals were computed from)",
    )
    parser.add_argument(
        "-o", "--output", required=True, metavar="RUN.nwb", help="NWB file (written atomically)"
    )
    add_window_options(parser)
    parser.set_defaults(func=run)


def run(args):
    from ..steps.export_nwb import export_nwb

    config = load_config(args.config, window=args)
    inputs = [args.config, args.signals, *(args.kernels or []), *(args.spikes or [])]
    output = output_path(args.output, inputs=inputs)
    export_nwb(config, args.signals, output, args.kernels, args.spikes)
    return 0
