"""File layouts: every file hpckernels reads or writes, over plain data types.

- :mod:`~hpckernels.io.h5`: atomic writes, dimension scales, units, provenance;
- :mod:`~hpckernels.io.kernels`: pathway kernel files and kernel tensors;
- :mod:`~hpckernels.io.basis`: population bases;
- :mod:`~hpckernels.io.cache`: membrane-current caches;
- :mod:`~hpckernels.io.signals`: predicted signals and the output-format registry
  (:data:`~hpckernels.io.signals.SIGNAL_FORMATS`);
- :mod:`~hpckernels.io.spikes`: spike readers (:data:`~hpckernels.io.spikes.SPIKE_FORMATS`,
  NWB Units tables included) and SONATA output;
- :mod:`~hpckernels.io.nwb`: a run as one NWB file (pynwb);
- :mod:`~hpckernels.io.validation`: ground truths, hybrid-scheme kernels, comparisons.

Nothing here imports an engine or the validation; physics modules import nothing here.
"""
