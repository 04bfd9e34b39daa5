"""``hpckernels plot-kernels``: draw one probe of a kernel tensor."""

from . import FIGURE_SUFFIXES, output_path


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "plot-kernels", help="draw a kernel tensor (pathways x channels)"
    )
    parser.add_argument("tensor", help="kernel tensor HDF5 file (hpckernels assemble)")
    parser.add_argument("--probe", required=True, help="probe group to draw")
    parser.add_argument("-o", "--output", required=True, help="PNG file")
    parser.set_defaults(func=run)


def run(args):
    from ..plotting import plot_kernel_tensor

    output = output_path(args.output, inputs=[args.tensor], suffixes=FIGURE_SUFFIXES)
    plot_kernel_tensor(args.tensor, args.probe, output)
    return 0
