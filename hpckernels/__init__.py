"""hpckernels: spike-signal kernels of linearized multicompartment neurons.

Implements the linearized kernel method of Hagen et al. (2022), PLOS Comput Biol
18(8): e1010353, as an MPI-parallel, Snakemake-driven HPC workflow.
"""

__version__ = "0.1.0"
