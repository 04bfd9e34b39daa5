"""The seam every kernel engine fills: :class:`~hpckernels.engines.base.Engine` and the
registry :data:`~hpckernels.engines.base.ENGINES`.

An engine computes, for the linearized cell of a postsynaptic population Y, what the
commands and the workflow ask of it:

- :meth:`Engine.population_basis`: the responses of every probe to one unit synaptic
  event on each segment a synapse can reach (:class:`~hpckernels.datatypes.PopulationBasis`),
  and :meth:`Engine.population_response`: what ``hpckernels basis`` writes for the kernel
  jobs to read (the basis itself, or what it is computed from);
- :meth:`Engine.mean_field_kernels` of a pathway X -> Y, and the moments of blocks of
  its ensemble realizations (:meth:`Engine.block_moments`, merged by
  :meth:`Engine.ensemble_kernels`); the defaults here derive both from the basis;
- :meth:`Engine.unit_membrane_currents`: every segment's membrane current after a unit
  event on each segment (what the heterogeneity of single-neuron kernels needs).

Adding an engine is one module in ``hpckernels/engines/`` with one class registered
here (``@ENGINES.register``), imported by :mod:`hpckernels.engines`.
"""

from __future__ import annotations

import contextlib
from typing import ClassVar

from ..console import STDERR
from ..errors import InputError
from ..inputs import basis_hash
from ..registry import Registry
from . import ensemble
from .pathway import BLOCK, BasisPathway

#: Kernel engines by name (``hpckernels kernel --engine``).
ENGINES = Registry("kernel engine")


class Engine:
    """A way to compute the kernels of the linearized cell of a population.

    Every method takes the config and an MPI communicator (None: this process alone);
    results are on rank 0 (None elsewhere) unless said otherwise, and bit-identical for
    any number of ranks.
    """

    name: ClassVar[str]
    #: One line for ``--help``.
    description: ClassVar[str] = ""
    #: Kernels can be computed from a basis file (``hpckernels basis``).
    reads_basis: ClassVar[bool] = True
    #: Its basis file holds the cell's linear system, not responses per probe.
    writes_system: ClassVar[bool] = False
    #: It keeps membrane currents in a response cache (``--cache``).
    uses_cache: ClassVar[bool] = True

    def population_basis(
        self,
        config,
        post,
        comm=None,
        pres=None,
        cache=None,
        everywhere=True,
        log=STDERR,
        probes=None,
    ):
        """The impulse-response basis of population ``post``.

        Parameters
        ----------
        config : NetworkConfig
        post : str
        comm : mpi4py communicator, optional
        pres : list of str, optional
            Only the kinetics and segments of the connections from these populations
            (default all connections into ``post``).
        cache : object, optional
            Membrane-current cache with ``load(key, n_lags)`` and ``store(key, imem,
            geometry, dt, columns)`` (:class:`hpckernels.io.cache.ResponseCache`).
        everywhere : bool
            Return the basis on every rank (else on rank 0, None elsewhere).
        log : file, optional
            Progress (rank 0).
        probes : list of str, optional
            Only the responses of these probes (default all; head models take their
            dipole's).

        Returns
        -------
        PopulationBasis or None
        """
        raise InputError("--engine", f"the {self.name} engine computes no basis")

    def response_hash(self, config, post):
        """Content hash of what :meth:`population_response` depends on (the rerun
        trigger of a basis job): by default the basis's inputs, probes included."""
        return basis_hash(config, post)

    def population_response(self, config, post, comm=None, cache=None, log=STDERR):
        """What ``hpckernels basis`` writes and ``hpckernels kernel --basis`` reads: by
        default the basis of every probe (:meth:`population_basis`) on rank 0, None
        elsewhere.

        Returns
        -------
        PopulationBasis or None
        """
        return self.population_basis(config, post, comm, cache=cache, everywhere=False, log=log)

    def unit_membrane_currents(self, config, post, synapse):
        """Membrane currents (nA) of every segment at lags 0..tau after one event of 1 nA
        (current-based, the kinetics of ``synapse``) on each segment in turn.

        Returns
        -------
        ndarray, shape (n_segments, n_segments, n_steps_tau + 1)
            ``[s]``: the response to an event on segment s, lag 0 subtracted.
        """
        raise NotImplementedError

    def mean_field_kernels(
        self, config, pre, post, probes=None, comm=None, cache=None, basis=None, log=STDERR
    ):
        """Mean-field kernels {probe: (n_channels, n_lags)} of pathway pre -> post.

        ``basis``: the basis of ``post`` (else computed here for this pathway alone).

        Examples
        --------
        The I -> E kernels of the shipped two-population network, on lags -tau..tau:

        >>> from hpckernels.config import NetworkConfig
        >>> from hpckernels.engines import get_engine
        >>> config = NetworkConfig.from_file("config/two_population.yaml")
        >>> kernels = get_engine().mean_field_kernels(config, "I", "E", log=None)
        >>> kernels["lfp"].shape  # 13 contacts, 2 tau / dt + 1 lags
        (13, 1601)
        """
        rank = comm.Get_rank() if comm is not None else 0
        if basis is None:
            basis = self.population_basis(config, post, comm, [pre], cache, False, log)
        if rank != 0:
            return None
        return BasisPathway(basis, config, pre, post, probes).mean_field_kernels()

    def population_mean_field(self, config, post, probes=None, log=STDERR):
        """Mean-field kernels of every pathway into ``post``, in this process.

        Returns
        -------
        dict of (str, str) to dict
            {(pre, post): {probe: kernel (n_channels, n_lags)}}.
        """
        basis = self.population_basis(config, post, None, None, None, True, log, probes)
        pres = [c["pre"] for c in config.connections_into(post)]
        return {
            (pre, post): BasisPathway(basis, config, pre, post, probes).mean_field_kernels()
            for pre in pres
        }

    def mean_field_tensor(self, config, probes=None, comm=None, log=STDERR):
        """Mean-field kernels of every pathway of the config.

        The postsynaptic populations are dealt round robin to the ranks of ``comm``, each
        computed in one process (:meth:`population_mean_field`), and gathered on rank 0:
        the same numbers for any number of ranks.

        Returns
        -------
        dict or None
            On rank 0 {(pre, post): {probe: kernel}} in the config's pathway order; None
            on the other ranks.
        """
        comm = comm or ensemble.SerialComm()
        rank, size = comm.Get_rank(), comm.Get_size()
        mine = {}
        for k, post in enumerate(config.postsynaptic_populations()):
            if k % size == rank:
                mine.update(self.population_mean_field(config, post, probes, log))
        parts = comm.gather(mine, root=0)
        if rank != 0:
            return None
        merged = {key: value for part in parts for key, value in part.items()}
        return {(p.pre, p.post): merged[p.pre, p.post] for p in config.pathways()}

    def ensemble_kernels(
        self,
        config,
        pre,
        post,
        realizations,
        seed,
        comm=None,
        probes=None,
        cache=None,
        basis=None,
        log=STDERR,
    ):
        """Mean and standard deviation (ddof 1) of the kernels of ``realizations``
        synapse realizations of pathway pre -> post (those of
        :class:`~hpckernels.engines.common.SynapseSampler`), spread over the ranks in
        fixed blocks merged in block order (:meth:`block_moments`).

        Returns
        -------
        dict or None
            On rank 0 {probe: {"kernel": mean, "std": std}}; None on the other ranks.
        """
        comm = comm or ensemble.SerialComm()
        with self.block_moments(
            config, pre, post, seed, comm, probes, cache, basis, log, realizations
        ) as (moments_of, block):
            moments = ensemble.run_blocks(
                moments_of, realizations, comm, block, f"{pre}->{post}", log
            )
        return ensemble.mean_and_std(moments)

    @contextlib.contextmanager
    def block_moments(
        self, config, pre, post, seed, comm, probes, cache, basis, log, realizations=None
    ):
        """Context manager yielding ``(moments_of, block)``: ``moments_of(indices)`` gives
        {probe: RunningMoments} of the kernels of the realizations ``indices`` (a block of
        ``block`` consecutive indices, the same whichever rank computes it). The default
        sums the basis of ``post`` (computed here when not given) in blocks of
        :data:`hpckernels.engines.pathway.BLOCK`, on the basis's modes for ensembles
        large enough to pay for them (``realizations`` in all,
        :meth:`~hpckernels.engines.pathway.BasisPathway.use_modes_for`)."""
        if basis is None:
            basis = self.population_basis(config, post, comm, [pre], cache, True, log)
        pathway = BasisPathway(basis, config, pre, post, probes)
        pathway.use_modes_for(realizations)
        yield (lambda indices: pathway.block_moments(seed, indices)), BLOCK
