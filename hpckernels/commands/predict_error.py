"""``hpckernels predict-error``: error bars of a kernel prediction without a ground truth."""

from . import add_detailed_population_options, add_window_options, load_config, output_path


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "predict-error",
        help="predicted E_rel of a kernel prediction, from kernel heterogeneity and spikes",
        description="Predict, per probe channel, the relative error E_rel of the signals of "
        "kernel tensor KERNELS against the linearized reconstruction of the detailed "
        "population of the config's groundtruth settings, from the mean and spread of its "
        "single-neuron kernels and the spike statistics (rates, auto-covariances, "
        "population count covariances). No ground truth is simulated.",
    )
    parser.add_argument("config", help="network config (YAML)")
    parser.add_argument(
        "--kernels",
        required=True,
        nargs="+",
        metavar="KERNELS.h5",
        help="kernel tensor (hpckernels assemble), or one file per probe",
    )
    add_detailed_population_options(parser)
    parser.add_argument("-o", "--output", required=True, metavar="ERROR.h5")
    add_window_options(parser)
    parser.set_defaults(func=run)


def run(args):
    from ..cellcheck import check_cells
    from ..io import spikes
    from ..validation import groundtruth

    config = load_config(args.config, window=args, spikes=args.spikes)
    source = spikes.spike_source(config, args.spikes)
    output = output_path(args.output, inputs=[*args.kernels, *source.files], config=config)
    settings = groundtruth.settings_from_config(
        config, args.cells_per_population, args.seed, linearized=True
    )
    check_cells(config, config.postsynaptic_populations())

    from ..runtime import start_neuron
    from ..steps.errorbars import predict_error_file

    start_neuron(config)
    predict_error_file(config, settings, args.kernels, args.spikes, output)
    return 0
