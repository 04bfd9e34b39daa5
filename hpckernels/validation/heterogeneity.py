"""Single-neuron kernels of the detailed population: their mean and their spread.

The kernel k_i of one simulated presynaptic neuron i of X is what its synapses onto
the detailed population's cells (:mod:`hpckernels.validation.groundtruth`, linearized: the
kernel cell's membrane and current-based synapses) add to every probe channel, scaled
by N_Y / M_Y. The cell is linear and the same in every cell (only moved and rotated),
so one event on segment s of cell j contributes ``y_js = M_j R_s``: the cell's
membrane-current response R_s to an event on s
(:meth:`~hpckernels.engines.base.Engine.unit_membrane_currents`) through the probe
matrix M_j of cell j at its place.

Given the cells' layout (positions, rotations: shared by all presynaptic neurons),
neuron i is connected to cell j A_ij times (E A = a1 = E[K] / N_sim with K ~
Binomial(N_X, C) connections drawn among the N_sim simulated neurons, E A(A - 1) = a2),
each connection with m synapses (E m = m1, E m(m - 1) = m2), each on a segment drawn
from cell j's placement pmf p_j and with a delay from the rounded delay distribution.
Then, with ybar_j = sum_s p_j(s) y_js delayed, and (x) the lag correlation of
:func:`hpckernels.validation.error_theory.xcorr`::

    kbar = w sum_j a1 m1 ybar_j                                      (mean kernel)
    D    = w^2 sum_j [a1 (m1 sum_s p_j(s) y_js (x) y_js + m2 ybar_j (x) ybar_j)
                      + (a2 - a1^2) m1^2 ybar_j (x) ybar_j]           (E delta (x) delta)

exactly (cells draw their inputs independently; delays do not change y (x) y). The
background of cell j (n_ext synapses placed by area, Poisson at nu_ext) adds the
variance w^2 n_ext nu_ext dt sum_s area_j(s) ``|y_js|^2`` per channel.

The heterogeneity and background terms are sums over the M cells of independent
contributions, times w^2 = (N / M)^2: in expectation N^2 / M times a cell's, N / M times
what all N cells of the population would give. A sample of M cells therefore carries
the excess (1 - M / N) of them over the whole population
(``KernelStatistics.sample_deviation_xcorr``, ``sample_background``): what ``compare``
removes to estimate the metrics against all N cells.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.stats as st
from scipy import fft as sfft

from .. import cell as cellmod
from .. import distributions
from ..console import STDERR
from ..datatypes import EXTERNAL
from ..engines import get_engine
from ..engines.common import kinetics_label
from ..probes import ProbeStack
from ..synapses import synapse_model
from . import groundtruth
from .error_theory import power_xcorr, xcorr


@dataclass
class KernelStatistics:
    """Mean and spread of the single-neuron kernels of every presynaptic population.

    Attributes
    ----------
    names : list of str
        Presynaptic populations (config order).
    mean : ndarray (n_pop, n_rows, 2 n_steps + 1)
        kbar_X per simulated neuron of X on lags 0..2 tau (a response of tau after a
        delay of up to tau), summed over the postsynaptic populations (rows: the
        detailed probes of :func:`~hpckernels.validation.groundtruth.detailed_probes`).
    deviation_xcorr : ndarray (n_pop, n_rows, 4 n_steps + 1)
        D_X on lags -2 tau..2 tau.
    background : ndarray (n_rows,)
        Variance of the background's contribution per bin.
    rows : ProbeStack
    sample_deviation_xcorr : ndarray (n_pop, n_rows, 4 n_steps + 1)
        The part of D_X that the sample has beyond the whole population: each
        postsynaptic population's share times 1 - M_Y / N_Y.
    sample_background : ndarray (n_rows,)
        The same part of the background variance.
    """

    names: list
    mean: np.ndarray
    deviation_xcorr: np.ndarray
    background: np.ndarray
    rows: object
    sample_deviation_xcorr: np.ndarray = None
    sample_background: np.ndarray = None


def connection_moments(config, connection, n_simulated):
    """(a1, a2, m1, m2): connections of one simulated presynaptic neuron to one cell
    (mean and factorial moment) and synapses per connection (idem)."""
    n_full = int(config.populations[connection["pre"]]["size"])
    c = connection["probability"]
    mean_k = n_full * c
    a1 = mean_k / n_simulated
    # draws with replacement only where K exceeds the simulated neurons
    k = np.arange(n_simulated + 1, n_full + 1)
    a2 = float(np.sum(st.binom.pmf(k, n_full, c) * k * (k - 1))) / n_simulated**2
    counts, pmf = distributions.multapse_pmf(connection["multapse"])
    return a1, a2, float(np.sum(pmf * counts)), float(np.sum(pmf * counts * (counts - 1)))


def unit_responses(config, post, engine=None):
    """The membrane currents of the linearized cell of ``post`` after one synapse of each
    connection into it (and of its background) on each segment in turn: the unit
    responses of ``engine`` (default: the default engine's), once per synapse kind,
    times the synapse's linearized peak current on each segment.

    Returns
    -------
    weights : dict
        {connection index or EXTERNAL: (n_seg,) peak current (nA) per segment, and the
        key of its unit responses}.
    units : dict
        {key: U (n_seg, n_seg, n_steps + 1)}: connections of one synapse kind share them.
    """
    engine = engine or get_engine()
    vrest = None
    synapses = {k: c["synapse"] for k, c in enumerate(config.connections) if c["post"] == post}
    external = config.populations[post].get("external")
    if external and external["count"] > 0 and external["rate"] > 0:
        synapses[EXTERNAL] = external["synapse"]
    weights, units = {}, {}
    for k, spec in synapses.items():
        if vrest is None:
            linearized = cellmod.build_linearized_cell(config, post, 0.0)
            vrest = linearized.vrest
            linearized.close()
        model = synapse_model(spec)
        key = kinetics_label(model)
        if key not in units:
            units[key] = engine.unit_membrane_currents(config, post, spec)
        weights[k] = (model.linearized_weight(vrest), key)
    return weights, units


def kernel_statistics(config, settings, simulated_sizes, log=STDERR):
    """Mean and spread of single-neuron kernels of the detailed population of ``settings``.

    Parameters
    ----------
    config : NetworkConfig
    settings : groundtruth.Settings
        Sample sizes and seed (the layout of the cells).
    simulated_sizes : dict of str to int
        Simulated neurons N_sim per presynaptic population.

    Returns
    -------
    KernelStatistics
    """
    started = time.monotonic()
    dt, n = config.simulation["dt"], config.n_steps_tau
    names = list(config.populations)
    rows = ProbeStack(groundtruth.detailed_probes(config, settings.contacts))
    # kernels on lags 0..2n: responses of n steps after delays of up to n steps, whole
    # (then delays do not change a synapse's auto-correlation)
    length = 2 * n + 1
    mean = np.zeros((len(names), rows.n_rows, length))
    deviation = np.zeros((len(names), rows.n_rows, 2 * length - 1))
    background = np.zeros(rows.n_rows)
    sample_deviation, sample_background = np.zeros_like(deviation), np.zeros_like(background)
    n_fft = sfft.next_fast_len(2 * length)
    for post in config.postsynaptic_populations():
        w = config.populations[post]["size"] / settings.cells[post]
        share_deviation, share_background = np.zeros_like(deviation), np.zeros_like(background)
        weights, units = unit_responses(config, post)
        into = [(k, c) for k, c in enumerate(config.connections) if c["post"] == post]
        moments = {k: connection_moments(config, c, simulated_sizes[c["pre"]]) for k, c in into}
        delays = {k: distributions.delay_step_pmf(c["delay"], dt, n)[: n + 1] for k, c in into}
        external = config.populations[post].get("external") or {"count": 0, "rate": 0}
        lam = round(external["count"]) * external["rate"] * dt / 1000.0
        indices = settings.indices(post)
        table = groundtruth.draw_cells(config, post, indices, settings.seed)
        cell = cellmod.build_cell(config, post, 1.0)
        try:
            reference = [getattr(cell, k).copy() for k in ("x", "y", "z", "somapos")]
            for j in range(len(indices)):
                for key, value in zip(("x", "y", "z", "somapos"), reference, strict=True):
                    getattr(cell, key)[...] = value
                _, _, xyz, rotation = table.row(j)
                groundtruth.position_cell(
                    cell, xyz, rotation, config.populations[post].get("rotation", {})
                )
                M = rows.matrix(cellmod.geometry(cell))
                # M U_s once per synapse kind: (n_seg, n_rows, n + 1)
                projected = {
                    key: np.einsum("ck,skl->scl", M, unit, optimize=True)
                    for key, unit in units.items()
                }
                for k, connection in into:
                    x = names.index(connection["pre"])
                    a1, a2, m1, m2 = moments[k]
                    pmf = cellmod.placement_pmf(cell, connection["placement"], 0.0)
                    # y[s] = M R_s, R_s = w_s U_s
                    weight, key = weights[k]
                    y = weight[:, None, None] * projected[key]
                    ybar = np.einsum("s,scl->cl", pmf, y)
                    delayed = sfft.rfft(ybar, n_fft) * sfft.rfft(delays[k], n_fft)
                    ybar = sfft.irfft(delayed, n_fft)[:, :length]
                    power = np.einsum("s,scf->cf", pmf, np.abs(sfft.rfft(y, n_fft)) ** 2)
                    own = power_xcorr(power, n_fft, length - 1)
                    pair = xcorr(ybar, ybar, length - 1)
                    mean[x] += w * a1 * m1 * ybar
                    share_deviation[x] += w**2 * (
                        a1 * (m1 * own + m2 * pair) + (a2 - a1**2) * m1**2 * pair
                    )
                if EXTERNAL in weights and lam > 0:
                    area = cell.area / cell.area.sum()
                    weight, key = weights[EXTERNAL]
                    y = weight[:, None, None] * projected[key]
                    share_background += w**2 * lam * np.einsum("s,scl->c", area, y**2)
        finally:
            cell.strip_hoc_objects()
        deviation += share_deviation
        background += share_background
        excess = 1.0 - 1.0 / w  # 1 - M_Y / N_Y
        sample_deviation += excess * share_deviation
        sample_background += excess * share_background
        if log is not None:
            print(
                f"[hpckernels] single-neuron kernels onto {post}: {len(indices)} cells "
                f"({time.monotonic() - started:.1f} s)",
                file=log,
            )
    return KernelStatistics(
        names, mean, deviation, background, rows, sample_deviation, sample_background
    )
