"""Validation: how right a kernel prediction is.

- :mod:`~hpckernels.validation.groundtruth`: a detailed population of multicompartment
  cells driven by the network's spikes (the hybrid scheme), and its linearized
  reconstruction;
- :mod:`~hpckernels.validation.heterogeneity` and
  :mod:`~hpckernels.validation.error_theory`: the predicted error of a prediction from
  the spread of single-neuron kernels and the spike statistics;
- :mod:`~hpckernels.validation.metrics` and :mod:`~hpckernels.validation.comparison`:
  R^2, r_STD, E_rel, coherence of predictions against a ground truth;
- :mod:`~hpckernels.validation.linearity`: an active cell against its linearizations
  as the input grows (Hagen et al. 2022, Fig 2).
"""
