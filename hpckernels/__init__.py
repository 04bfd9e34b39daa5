"""hpckernels: spike-signal kernels of linearized multicompartment neurons.

Implements the linearized kernel method of Hagen et al. (2022), PLOS Comput Biol
18(8): e1010353, as an MPI-parallel, Snakemake-driven HPC workflow.

The functions of the Python API (:mod:`hpckernels.api`: ``load_config``,
``compute_kernels``, ``compute_tensor``, ``tensor_to_xarray``, ``spikes_from_nest``,
``predict``, ``open_signals``, ``open_kernels``) are attributes of the package, imported
on first use so that ``import hpckernels`` stays cheap.
"""

__version__ = "0.1.0"

#: The functions of :mod:`hpckernels.api` offered as ``hpckernels.<name>``.
API = (
    "compute_kernels",
    "compute_tensor",
    "load_config",
    "open_kernels",
    "open_signals",
    "predict",
    "spikes_from_nest",
    "tensor_to_xarray",
)


def __getattr__(name):
    if name in API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'hpckernels' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *API])
