"""Start-up of the commands that run NEURON: MPI first, then NEURON and the mechanisms.

mpi4py must initialise MPI before NEURON is imported (NEURON's own MPI would otherwise
take over), and mechanisms are compiled by a single process only: under ``mpiexec``
every rank loads what ``hpckernels mechanisms`` (or the cell check) compiled before.
"""

from __future__ import annotations


def start_neuron(config=None):
    """Initialise MPI, import NEURON and load hpckernels' and the config's mechanisms.

    Parameters
    ----------
    config : NetworkConfig, optional
        Its ``mechanisms`` folders are loaded too.

    Returns
    -------
    mpi4py.MPI.Comm
        ``MPI.COMM_WORLD``.
    """
    from mpi4py import MPI

    from . import mechanisms

    comm = MPI.COMM_WORLD
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
