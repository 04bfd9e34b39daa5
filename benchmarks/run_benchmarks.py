#!/usr/bin/env python
"""Benchmarks of hpckernels, as ratios against the reference or a baseline.

Run from the repository root (``make bench`` does)::

    .venv/bin/python benchmarks/run_benchmarks.py            # all benchmarks
    .venv/bin/python benchmarks/run_benchmarks.py --only kernel_tensor
    .venv/bin/python benchmarks/run_benchmarks.py --list
    .venv/bin/python benchmarks/run_benchmarks.py --profile  # add cProfile summaries

This is the entry point only: it imports every ``benchmarks/bench_*.py`` module (in
sorted order; each registers its benchmarks and workers) and runs the selected
benchmarks with :mod:`harness`, which also holds the results format and how to add a
benchmark. Worker processes run this script too (``--worker NAME``), so they see every
registered worker.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import tempfile
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

import harness  # noqa: E402


def load_benchmark_modules():
    """Import every ``bench_*.py`` of this folder, in sorted order; their names."""
    names = [path.stem for path in sorted(BENCH_DIR.glob("bench_*.py"))]
    for name in names:
        importlib.import_module(name)
    return names


def _selection(parser, only):
    """The benchmarks named by ``--only`` (all if none), in run order."""
    benchmarks = harness.registered()
    if not only:
        return benchmarks
    names = [n.strip() for item in only for n in item.split(",") if n.strip()]
    unknown = sorted(set(names) - {b.name for b in benchmarks})
    if unknown:
        parser.error(
            f"unknown benchmark(s) {', '.join(unknown)}; "
            f"known: {', '.join(b.name for b in benchmarks)}"
        )
    return [b for b in benchmarks if b.name in names]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="run only this benchmark (repeatable, or comma-separated)",
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="add cProfile summaries of the hpckernels runs to the results",
    )
    parser.add_argument(
        "--repeats", type=int, help="repetitions of every measurement (default: per benchmark)"
    )
    parser.add_argument("--results-dir", type=Path, default=harness.RESULTS_DIR)
    parser.add_argument(
        "--keep-scratch",
        action="store_true",
        help="keep the temporary folder with outputs and profiles",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--worker-args", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    load_benchmark_modules()
    if args.worker:
        harness.worker_main(args.worker, args.worker_args)
        return 0
    if args.list:
        for bench in harness.registered():
            print(f"{bench.name}: {bench.description}")
        return 0
    selected = _selection(parser, args.only)
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be >= 1")

    args.results_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="hpckernels-bench-"))
    ctx = harness.Context(
        results_dir=args.results_dir,
        scratch=scratch,
        env=harness.bench_env(),
        profile=args.profile,
        repeats=args.repeats,
    )
    try:
        return harness.run(selected, ctx)
    finally:
        if args.keep_scratch:
            ctx.say(f"scratch folder kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
