"""``hpckernels compare``: predictions against the ground truth, metrics and figures."""

from pathlib import Path

from ..errors import InputError
from . import add_rate_spikes_option, load_config, output_path


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "compare",
        help="metrics and figures of predictions against a ground truth",
        description="Compare predicted signals with the ground truth of 'hpckernels "
        "groundtruth' (and with its linearized reconstruction): per probe channel R^2, "
        "r_STD and E_rel, raw and after the paper's 100 Hz low-pass, their medians and "
        "10/90 % quantiles across channels, coherence up to 500 Hz, the cross-correlation "
        "of the dipole's z component; with --predicted-error the predicted E_rel next to "
        "the measured one. Writes OUT.h5 and, with --figures, the figures.",
    )
    parser.add_argument("config", help="network config (YAML)")
    parser.add_argument("--groundtruth", required=True, metavar="GT.h5")
    parser.add_argument(
        "--prediction",
        action="append",
        default=[],
        metavar="NAME=SIGNALS.h5",
        help="a prediction (hpckernels signals) and its name (repeatable)",
    )
    parser.add_argument(
        "--linearized",
        metavar="LIN.h5",
        help="linearized reconstruction (groundtruth --linearized)",
    )
    parser.add_argument(
        "--predicted-error", metavar="ERROR.h5", help="output of hpckernels predict-error"
    )
    parser.add_argument(
        "--hybrid-kernels",
        action="append",
        default=[],
        metavar="HYBRID.h5",
        help="hybrid-scheme kernels (groundtruth --hybrid-kernels [--linearized]), drawn "
        "against --kernels (repeatable)",
    )
    parser.add_argument(
        "--kernels",
        action="append",
        default=[],
        metavar="NAME=KERNELS.h5",
        help="kernel tensors to draw against the hybrid-scheme kernels (repeatable; a name "
        "given again adds a file of other probes to its tensor)",
    )
    parser.add_argument(
        "--allow-stale",
        action="store_true",
        help="take predictions made with stale kernels (listed in the output's "
        "stale_predictions attribute)",
    )
    parser.add_argument("-o", "--output", required=True, metavar="VALIDATION.h5")
    parser.add_argument("--figures", metavar="DIR", help="write the figures into DIR")
    parser.add_argument(
        "--summary", metavar="SUMMARY.md", help="write the tables of the metrics (markdown)"
    )
    add_rate_spikes_option(parser)
    parser.set_defaults(func=run)


def named(items, option, repeat=False):
    """``["a=x.h5", ...]`` -> ``{"a": "x.h5", ...}`` (with ``repeat``, ``{"a": ["x.h5",
    ...]}``: a name may be given again)."""
    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise InputError(option, f"'{item}' is not NAME=FILE")
        if repeat:
            out.setdefault(name, []).append(path)
            continue
        if name in out:
            raise InputError(option, f"the name '{name}' is given twice")
        out[name] = path
    return out


def run(args):
    from ..io.validation import check_hybrid_kernels
    from ..plotting.validation import plot_validation
    from ..steps.compare import compare_files

    config = load_config(args.config, spikes=args.spikes)
    predictions = named(args.prediction, "--prediction")
    kernel_sets = named(args.kernels, "--kernels", repeat=True)
    inputs = [
        args.config,
        args.groundtruth,
        *predictions.values(),
        *(path for paths in kernel_sets.values() for path in paths),
        *args.hybrid_kernels,
        *(p for p in (args.linearized, args.predicted_error) if p),
    ]
    output = output_path(args.output, inputs=inputs, config=config)
    summary = (
        output_path(args.summary, "--summary", inputs, config=config) if args.summary else None
    )
    figures = None
    if args.figures:
        figures = Path(args.figures)
        if figures.exists() and not figures.is_dir():
            raise InputError("--figures", f"{figures} exists and is not a folder")
    for path in args.hybrid_kernels:
        check_hybrid_kernels(path, config)
    comparison = compare_files(
        config,
        args.groundtruth,
        predictions,
        output,
        linearized=args.linearized,
        error=args.predicted_error,
        allow_stale=args.allow_stale,
        summary=summary,
    )
    if figures is not None:
        figures.mkdir(parents=True, exist_ok=True)
        written = plot_validation(
            comparison, figures, args.hybrid_kernels, kernel_sets, sources=[output]
        )
        print(f"[hpckernels] compare: figures {', '.join(p.name for p in written)} in {figures}")
    print(f"[hpckernels] compare: wrote {output}")
    return 0
