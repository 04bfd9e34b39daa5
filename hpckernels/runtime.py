"""Start-up of the commands: MPI only when launched by mpiexec or srun, then NEURON and the
mechanisms.

mpi4py must initialise MPI before NEURON is imported (NEURON's own MPI would otherwise
take over), and mechanisms are compiled by a single process only: under ``mpiexec``
every rank loads what ``hpckernels mechanisms`` (or the cell check) compiled before.
A process not started by an MPI launcher is a job of one rank: it gets a serial
communicator and never initialises MPI (OpenMPI's singleton start-up alone takes about
half a second, more than a kernel job's work).
"""

from __future__ import annotations

import os
import sys

#: Environment variables that MPI launchers set in every rank they start (OpenMPI's
#: mpiexec, PMIx, MPICH's hydra, srun).
LAUNCHER_VARIABLES = ("OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID")


def launched(environ=os.environ):
    """Whether this process was started by an MPI launcher (mpiexec, srun)."""
    return any(key in environ for key in LAUNCHER_VARIABLES)


def world():
    """The communicator of this process's job: ``MPI.COMM_WORLD`` under an MPI launcher,
    else a serial one (:class:`~hpckernels.engines.ensemble.SerialComm`; MPI is not
    initialised)."""
    if launched() or "mpi4py.MPI" in sys.modules:
        from mpi4py import MPI

        return MPI.COMM_WORLD
    from .engines.ensemble import SerialComm

    return SerialComm()


def start_neuron(config=None):
    """Initialise MPI (under a launcher, :func:`world`), import NEURON and load
    hpckernels' and the config's mechanisms.

    Parameters
    ----------
    config : NetworkConfig, optional
        Its ``mechanisms`` folders are loaded too.

    Returns
    -------
    communicator
        ``MPI.COMM_WORLD``, or a serial communicator outside an MPI launcher.
    """
    from . import mechanisms

    comm = world()
    mechanisms.import_neuron()
    mechanisms.load_all(config, allow_compile=comm.Get_size() == 1)
    return comm


def on_rank_zero(comm, work):
    """Run ``work()`` on rank 0 of ``comm`` (writing the output, say) and let every rank
    end as rank 0 did: an InputError there (a full disk, an unwritable file) is raised
    on every rank, so that no rank waits forever for one that has given up.

    Returns
    -------
    The result of ``work()`` on rank 0; None on the others.
    """
    from .errors import InputError

    result, error = None, None
    if comm.Get_rank() == 0:
        try:
            result = work()
        except InputError as err:
            error = err
    error = comm.bcast(error, root=0)
    if error is not None:
        raise error
    return result
