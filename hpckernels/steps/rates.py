"""Measured rates: a config whose populations have ``rate: measured`` with the rates of
the network's spikes put in (what every command that uses a rate works with)."""

from __future__ import annotations

from ..errors import InputError
from ..io import spikes


def with_measured_rates(config, spike_files=None):
    """``config`` with its ``measured`` rates replaced by the mean rates per neuron of the
    spikes in the signal window (:func:`hpckernels.io.spikes.measured_rates`); the config
    itself when no rate is measured.

    Parameters
    ----------
    config : NetworkConfig
    spike_files : list of str, optional
        Spike files (``--spikes``); default the config's ``spikes`` section.

    Raises
    ------
    InputError
        Naming the first measured population when there are no spikes to measure.
    """
    names = config.measured_rates
    if not names:
        return config
    if not spike_files and "spikes" not in config.data:
        raise InputError(
            f"populations.{names[0]}.rate",
            "measured from the network's spikes: give them with --spikes (the SONATA file "
            "of 'hpckernels network') or a spikes section",
        )
    source = spikes.spike_source(config, spike_files)
    return config.with_rates(spikes.measured_rates(config, source, names))
