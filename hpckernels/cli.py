"""Command line: ``hpckernels <command> ...``.

Commands (one module each in :mod:`hpckernels.commands`): ``validate``,
``mechanisms``, ``kernel``, ``assemble``, ``network``, ``signals``, ``groundtruth``,
``predict-error``, ``compare``, ``plot-kernels``, ``plot-signals``; ``hpckernels
<command> --help`` describes each.

Bad input ends with one line on stderr naming the key or file and what is allowed,
exit code 2, and no output file.

Each process runs BLAS with ``HPCKERNELS_THREADS`` threads (default 1): the commands are
parallel across MPI ranks (or Snakemake jobs), and a thread pool per rank would
oversubscribe the cores. Snakemake sets ``OPENBLAS_NUM_THREADS`` and friends to a rule's
threads, which for an MPI rule are its ranks, so they are overridden here. FFTs
(scipy.fft, numpy.fft) run on one thread unless asked.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
import warnings

from .commands import COMMANDS
from .errors import HpckernelsWarning, InputError

EXIT_BAD_INPUT = 2
#: Exit code after Ctrl-C (128 + SIGINT), as a shell reports it.
EXIT_INTERRUPTED = 130
#: Files of the package (their warnings are hpckernels' own).
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_default_showwarning = warnings.showwarning
#: Environment variable with the BLAS threads of each process (default 1).
THREADS_VARIABLE = "HPCKERNELS_THREADS"
#: Thread-pool sizes read by OpenBLAS and MKL when they are loaded (they take precedence
#: over OMP_NUM_THREADS, which is left alone: NEST warns when it is set).
THREAD_POOL_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def limit_threads(environ=os.environ):
    """Set the BLAS thread pools to ``HPCKERNELS_THREADS`` (default 1); has an effect
    only before numpy is imported. Returns the number of threads.

    Raises
    ------
    InputError
        ``HPCKERNELS_THREADS`` is not a positive integer.
    """
    text = environ.get(THREADS_VARIABLE, "1").strip()
    if not text.isdigit() or int(text) < 1:
        raise InputError(THREADS_VARIABLE, f"expected a positive integer, got '{text}'")
    for key in THREAD_POOL_VARIABLES:
        environ[key] = text
    return int(text)


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``hpckernels: error: ...`` and exit code 2."""

    def error(self, message):
        """Print ``message`` as one line and exit with code 2."""
        if _rank() == 0:
            print(
                f"hpckernels: error: {' '.join(message.split())} (see {self.prog} --help)",
                file=sys.stderr,
            )
        sys.exit(EXIT_BAD_INPUT)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """hpckernels' warnings as one line ``hpckernels: warning: ...`` (rank 0 only); other
    packages' as Python shows them."""
    if issubclass(category, HpckernelsWarning) or filename.startswith(_PACKAGE_DIR):
        if _rank() == 0:
            print(f"hpckernels: warning: {message}", file=sys.stderr)
        return
    _default_showwarning(message, category, filename, lineno, file, line)


def build_parser():
    """The argument parser with every subcommand."""
    parser = Parser(
        prog="hpckernels",
        description="Spike-signal kernels of linearized multicompartment neurons "
        "(Hagen et al. 2022) and the extracellular signals they predict from "
        "spiking network activity.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"hpckernels {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"hpckernels.commands.{name}").add_parser(sub)
    return parser


def main(argv=None):
    """Run one command; exit code 0 on success, 2 on bad input, 1 on a failure."""
    # no GUI: keeps NEURON from warning about a missing DISPLAY on every rank
    os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")
    try:
        limit_threads()
    except InputError as exc:
        print(f"hpckernels: error: {exc}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    warnings.showwarning = _show_warning
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
    except InputError as exc:
        if _rank() == 0:
            print(f"hpckernels: error: {' '.join(str(exc).split())}", file=sys.stderr)
        code = EXIT_BAD_INPUT
    except KeyboardInterrupt:
        if _rank() == 0:
            print("hpckernels: interrupted (no output written)", file=sys.stderr)
        code = EXIT_INTERRUPTED
    except Exception:
        # an unexpected failure on one rank must not leave the others waiting
        traceback.print_exc()
        _abort_if_parallel(1)
        code = 1
    sys.exit(code)


#: Environment variables with the process's MPI rank, set by mpiexec or srun before
#: MPI starts (errors found before MPI_Init are printed by rank 0 only).
RANK_VARIABLES = ("OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID")


def _rank():
    if "mpi4py.MPI" in sys.modules:
        return sys.modules["mpi4py.MPI"].COMM_WORLD.Get_rank()
    for key in RANK_VARIABLES:
        if os.environ.get(key, "").isdigit():
            return int(os.environ[key])
    return 0


def _abort_if_parallel(code):
    if "mpi4py.MPI" in sys.modules:
        comm = sys.modules["mpi4py.MPI"].COMM_WORLD
        if comm.Get_size() > 1:
            comm.Abort(code)


if __name__ == "__main__":
    main()
