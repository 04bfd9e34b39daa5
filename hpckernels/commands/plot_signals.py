"""``hpckernels plot-signals``: figures of predicted signals (and the spikes behind them)."""

import argparse
from pathlib import Path

from ..errors import InputError


def _window(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a duration in ms, got '{text}'") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a duration >= 0 ms, got {value}")
    return value


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "plot-signals",
        help="draw predicted LFP/dipole/EEG/MEG, pathway shares and spikes",
        description="Draw the signals file of 'hpckernels signals' into --output-dir. A "
        "figure whose probe type (or --spikes) is absent is skipped with a "
        "message.",
    )
    parser.add_argument("signals", help="signals HDF5 file (hpckernels signals)")
    parser.add_argument(
        "--spikes", help="SONATA spikes file (hpckernels network); needed for raster_rates.png"
    )
    parser.add_argument(
        "--output-dir", required=True, help="folder for the PNG files (created if missing)"
    )
    parser.add_argument(
        "--window",
        type=_window,
        default=500.0,
        help="length (ms) of the time window drawn, from the signals' "
        "t_start; 0: the whole signal (default 500)",
    )
    parser.add_argument(
        "--keep-mean",
        action="store_true",
        help="draw signals as stored instead of each channel's deviation "
        "from its mean over the run",
    )
    parser.set_defaults(func=run)


def run(args):
    from ..plotting import plot_signals

    output_dir = Path(args.output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise InputError("--output-dir", f"{output_dir} exists and is not a folder")
    plot_signals(
        args.signals,
        output_dir,
        args.spikes,
        window=args.window or None,
        subtract_mean=not args.keep_mean,
    )
    return 0
