"""``hpckernels plot-kernels``: draw one probe of a kernel tensor."""

from . import FIGURE_SUFFIXES, output_path


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "plot-kernels",
        help="draw a kernel tensor (pathways x channels)",
        description="Draw the kernels of one probe of a kernel tensor (from 'hpckernels "
        "assemble') as one PNG: a panel per pathway X -> Y (rows Y, columns X), each "
        "channel's kernel against the lag after the presynaptic spike, offset by the "
        "channel's depth or index, with the probe's units.",
    )
    parser.add_argument("tensor", help="kernel tensor HDF5 file (hpckernels assemble)")
    parser.add_argument("--probe", required=True, help="probe group to draw")
    parser.add_argument("-o", "--output", required=True, help="PNG file")
    parser.add_argument(
        "--shared-scale",
        action="store_true",
        help="one amplitude scale for every panel (default: each panel normalised to its maximum)",
    )
    parser.set_defaults(func=run)


def run(args):
    from ..plotting import plot_kernel_tensor

    output = output_path(args.output, inputs=[args.tensor], suffixes=FIGURE_SUFFIXES)
    plot_kernel_tensor(args.tensor, args.probe, output, shared_scale=args.shared_scale)
    return 0
