"""Spike raster and population rates (``raster_rates.png``).

Inputs: the ``rates`` group of a signals file and the SONATA spikes file of
``hpckernels network`` (``/spikes/<population>/timestamps`` and ``node_ids``,
attributes ``simulated_size`` and ``population_size`` on ``/spikes/<population>``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import InputError
from ..io.h5 import open_h5, read
from ..io.spikes import read_sonata_populations
from .common import check_window, finish, provenance, pyplot, scale_labels, time_step


def read_spikes(spikes_file, names):
    """The SONATA populations behind a signals file's rates, and the file's provenance.

    Parameters
    ----------
    spikes_file : str or Path
        SONATA spikes file.
    names : sequence of str
        Populations (those of the signals' ``rates/population``).

    Returns
    -------
    populations : dict of str to hpckernels.spikes.SonataPopulation
        Times in ms; ``simulated_size`` is ``population_size`` when the file has none.
    info : dict
        Provenance of the spikes file.
    """
    populations = read_sonata_populations(spikes_file, names)
    for name, population in populations.items():
        # rates per neuron need the full population size the counts were scaled to
        if population.population_size is None:
            raise InputError(f"{spikes_file}:/spikes/{name}", "attribute population_size missing")
        if population.simulated_size is None:
            populations[name] = dataclasses.replace(
                population, simulated_size=population.population_size
            )
    with open_h5(spikes_file, "SONATA spikes", external=True) as fh:
        info = provenance(fh.attrs)
    return populations, info


def population_rates(counts, population_sizes, dt, bin_width=1.0):
    """Rates (spikes/s per neuron) in bins of about ``bin_width`` ms.

    Parameters
    ----------
    counts : ndarray (n_populations, n_times)
        Spikes per bin of width dt, scaled to the full population.
    population_sizes : sequence of int
        Neurons of each full population.
    dt : float
        Bin width of ``counts`` (ms).
    bin_width : float
        Width of the summed bins (ms); rounded to a whole number of dt.

    Returns
    -------
    rates : ndarray (n_populations, n_bins)
        counts summed over k = round(bin_width / dt) bins / population size / (k dt / 1000)
        (spikes/s per neuron).
    k : int
        Bins of ``counts`` per rate bin.
    """
    k = max(1, int(round(bin_width / dt)))
    n_bins = counts.shape[1] // k
    summed = counts[:, : n_bins * k].reshape(counts.shape[0], n_bins, k).sum(axis=2)
    sizes = np.asarray(population_sizes, dtype=float)[:, None]
    return summed / sizes / (k * dt / 1000.0), k


def plot_raster_rates(
    signals_file, spikes_file, output, window=500.0, max_neurons=200, bin_width=2.0
):
    """Spike raster (top) and population rates (bottom) in the first ``window`` ms
    from the signals' t_start.

    The raster shows at most ``max_neurons`` neurons per population, evenly spaced in
    node id. Rates are the signals' ``rates/counts`` (spikes per bin, scaled to the full
    population) summed over ``bin_width`` ms bins, divided by the SONATA
    ``population_size`` and the bin width: spikes/s per neuron. The legend gives each
    population's mean rate over the whole signal.

    Parameters
    ----------
    signals_file, spikes_file : str or Path
        Signals file (with a ``rates`` group) and SONATA spikes file.
    output : str or Path
        PNG file.
    window : float or None
        Length (ms) drawn; None or 0: the whole signal. Shorter than one bin of the
        signals raises InputError.
    max_neurons : int
        Neurons per population in the raster.
    bin_width : float
        Width (ms) of the rate bins.

    Returns the path of the PNG (``output``).
    """
    plt = pyplot()
    with open_h5(signals_file, "signals") as fh:
        if "rates" not in fh:
            raise InputError(str(signals_file), "no 'rates' group")
        rates_group = fh["rates"]
        counts = np.asarray(read(rates_group["counts"]), dtype=float)
        names = scale_labels(rates_group["population"])
        time = np.asarray(read(rates_group["time"]), dtype=float)
        t_start = fh.attrs.get("t_start")
        dt = time_step(time, fh.attrs)
        info = provenance(fh.attrs)
    check_window(window, time)
    spikes, spike_info = read_spikes(spikes_file, names)
    sizes = [spikes[name].population_size for name in names]
    rates, k = population_rates(counts, sizes, dt, bin_width)
    bin_times = time[: rates.shape[1] * k].reshape(-1, k)[:, 0]
    mean_rates = counts.sum(axis=1) / np.asarray(sizes) / (counts.shape[1] * dt / 1000.0)
    t0 = time[0] if t_start is None else float(t_start)
    t1 = t0 + window if window else time[-1] + dt

    # many populations (the 8 of the microcircuit): taller, legend beside the rates
    many = len(names) > 4
    fig, (ax_raster, ax_rate) = plt.subplots(
        2,
        1,
        figsize=(11, 9) if many else (9, 6.5),
        sharex=True,
        gridspec_kw={"height_ratios": [2.2, 1.3] if many else [2.2, 1]},
    )
    row, ticks, tick_labels = 0, [], []
    for i, name in enumerate(names):
        population = spikes[name]
        times, ids = population.times, population.node_ids
        simulated = population.simulated_size
        # node ids are 0-based per population, or offset by the population's first id
        base = 0 if ids.size == 0 or ids.max() < simulated else int(ids.min())
        n_show = min(simulated, max_neurons)
        shown = base + np.unique(np.linspace(0, simulated - 1, n_show).round().astype(int))
        keep = np.isin(ids, shown) & (times >= t0) & (times < t1)
        rows = row + np.searchsorted(shown, ids[keep])
        ax_raster.plot(times[keep], -rows, "|", ms=2.5, mew=0.6, color=f"C{i}")
        ticks.append(-(row + len(shown) / 2))
        tick_labels.append(
            f"{name}\n{len(shown)} of {simulated}"
            if many
            else f"{name}\n{len(shown)} of {simulated}\nsimulated"
        )
        row += len(shown)
        if i < len(names) - 1:
            ax_raster.axhline(-row + 0.5, color="0.6", lw=0.5)
        ax_rate.plot(
            bin_times,
            rates[i],
            lw=0.8,
            color=f"C{i}",
            label=f"{name}: mean {mean_rates[i]:.3g} spikes/s (N = {population.population_size})",
        )
    ax_raster.set_yticks(ticks)
    ax_raster.set_yticklabels(tick_labels, fontsize=8)
    ax_raster.set_ylim(-row - 0.5, 0.5)
    ax_raster.set_ylabel("neuron (subsample)")
    ax_raster.set_title(
        f"spike raster, {t0:g}\u2013{t1:g} ms (SONATA node ids evenly subsampled)",
        fontsize=10,
    )
    ax_rate.set_xlim(t0, t1)
    ax_rate.set_xlabel("time (ms)")
    ax_rate.set_ylabel("rate\n(spikes/s per neuron)")
    ax_rate.set_title(
        f"population rates in {k * dt:g} ms bins (counts scaled to the full population)",
        fontsize=10,
    )
    ax_rate.set_ylim(bottom=0)
    if many:
        ax_rate.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    else:
        # beside the rates, off the data
        ax_rate.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return finish(
        fig,
        output,
        "spike raster and population rates",
        [signals_file, spikes_file],
        {"signals": info, "spikes": spike_info},
    )
