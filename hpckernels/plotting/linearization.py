"""Where each linearization holds (``hpckernels plot-linearization``; Hagen et al. 2022,
Fig 2): somatic voltage and current-dipole responses of an active cell and of its passive,
frozen and quasi-active linearizations to a growing number of synapses of one pathway,
and the agreement (R^2) of each linearization with the active model."""

from __future__ import annotations

import numpy as np

from ..io.h5 import versions
from ..validation.linearity import VARIANTS, r_squared
from .common import finish, pyplot

#: Line style of each cell.
STYLES = {
    "active": {"color": "k", "lw": 1.6, "label": "active"},
    "passive": {"color": "C0", "lw": 1.0, "label": "passive"},
    "frozen": {"color": "C1", "lw": 1.0, "label": "frozen"},
    "quasi-active": {"color": "C2", "lw": 1.2, "ls": "--", "label": "quasi-active"},
}
#: The agreement the paper asks of a linearization (R^2).
R2_THRESHOLD = 0.999
#: Numbers of synapses activated together (default).
SYNAPSES = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)


def physiological_bound(config, pre, post):
    """(bound, text) of the somatic voltage, relative to rest (mV), that a pathway's
    conductance-based synapse cannot drive the active cell past: its reversal potential
    (inhibitory below rest, excitatory above); None for current-based synapses."""
    synapse = config.connection(pre, post)["synapse"]
    if synapse.get("current_based") or "e" not in synapse:
        return None
    e, rest = float(synapse["e"]), float(config.simulation["vrest"])
    return e - rest, f"reversal potential E = {e:g} mV"


def leaves_range(responses, synapses, bound):
    """{cell: the first number of synapses at which its somatic voltage passes ``bound``
    (mV relative to rest, towards its sign)}, for the cells that do."""
    out = {}
    for name, traces in responses.items():
        for count, trace in zip(synapses, traces, strict=True):
            extreme = np.min(trace.v_soma) if bound < 0 else np.max(trace.v_soma)
            if (extreme < bound) if bound < 0 else (extreme > bound):
                out[name] = count
                break
    return out


def plot_linearization(responses, synapses, z, output, title, config, columns=4, bound=None):
    """Draw the responses of :class:`~hpckernels.validation.linearity.ResponseComparison`.

    Parameters
    ----------
    responses : dict
        ``{"active" or a variant: [Traces per number of synapses]}``.
    synapses : sequence of float
        Number of synapses of each input (increasing).
    z : ndarray
        Depth (um) of each segment's midpoint, for the dipole moment P_z = sum z I.
    output : Path
        PNG file.
    title : str
    config : NetworkConfig
        For the provenance.
    columns : int
        Inputs whose traces are drawn (spread over the list); 1 - R^2 is drawn for all.
    bound : (float, str), optional
        The physiological range's edge of the somatic voltage relative to rest (mV) and
        what it is (:func:`physiological_bound`): shaded beyond it in the voltage panels;
        where a linear model passes it is marked in the R^2 panel.

    Returns
    -------
    Path
    """
    plt = pyplot()
    shown = sorted({int(round(i)) for i in np.linspace(0, len(synapses) - 1, columns)})
    fig = plt.figure(figsize=(3.1 * len(shown) + 0.6, 8.4))
    grid = fig.add_gridspec(3, len(shown), height_ratios=[1, 1, 1.1])
    cells = ["active", *VARIANTS]
    for column, index in enumerate(shown):
        count = synapses[index]
        top = fig.add_subplot(grid[0, column])
        middle = fig.add_subplot(grid[1, column], sharex=top)
        for name in cells:
            traces = responses[name][index]
            top.plot(traces.t, traces.v_soma, **STYLES[name])
            middle.plot(traces.t, z @ traces.imem, **STYLES[name])
        top.set_title(f"{count:g} synapse{'s' if count != 1 else ''}", fontsize=10)
        if bound is not None:
            low, high = top.get_ylim()
            edge = bound[0]
            if (edge < 0 and low < edge) or (edge > 0 and high > edge):
                top.axhspan(
                    *((low, edge) if edge < 0 else (edge, high)),
                    color="C3",
                    alpha=0.12,
                    lw=0,
                    label="beyond the physiological range",
                )
                top.axhline(edge, color="C3", lw=0.6, ls=":")
                top.set_ylim(low, high)
        middle.set_xlabel("time after the spike (ms)")
        if column == 0:
            top.set_ylabel("soma V \u2212 rest (mV)")
            middle.set_ylabel("P_z \u2212 rest (nA \u00b5m)")
            top.legend(fontsize=7, loc="best")
        for ax in (top, middle):
            ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4))
    misfit = fig.add_subplot(grid[2, :])
    for name in VARIANTS:
        style = {k: v for k, v in STYLES[name].items() if k not in ("ls", "label")}
        for quantity, marker, ls in (("v_soma", "o", "-"), ("imem", "s", ":")):
            r2 = np.array(
                [
                    r_squared(getattr(mine, quantity), getattr(active, quantity))
                    for mine, active in zip(responses[name], responses["active"], strict=True)
                ]
            )
            label = f"{name}, {'soma V' if quantity == 'v_soma' else 'membrane currents'}"
            misfit.loglog(
                synapses, np.clip(1 - r2, 1e-12, 1), marker=marker, ls=ls, label=label, **style
            )
    if bound is not None:
        linear = {
            k: v for k, v in leaves_range(responses, synapses, bound[0]).items() if k != "active"
        }
        if linear:
            first = min(linear.values())
            misfit.axvspan(first, synapses[-1], color="C3", alpha=0.08, lw=0)
            misfit.text(
                first,
                0.98,
                f" linear models beyond the {bound[1]}\n"
                f" ({', '.join(sorted(linear))}) from {first:g} synapses",
                transform=misfit.get_xaxis_transform(),
                va="top",
                ha="left",
                fontsize=8,
                color="C3",
            )
    misfit.axhline(1 - R2_THRESHOLD, color="0.5", lw=0.8)
    misfit.text(
        synapses[0], 1 - R2_THRESHOLD, f" R\u00b2 = {R2_THRESHOLD}", va="bottom", fontsize=8
    )
    misfit.set_xlabel("synapses activated together")
    misfit.set_ylabel("1 \u2212 R\u00b2 with the active model")
    misfit.legend(fontsize=7, ncol=3, loc="upper left", bbox_to_anchor=(0.0, -0.18), frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    info = {"config_hash": config.hash, **versions()}
    return finish(fig, output, title, [config.source], {"": info})


def responses_figure(config, pre, post, output, synapses=SYNAPSES):
    """Simulate the active cell of ``post`` and its linearizations driven by pathway
    ``pre`` -> ``post`` (NEURON, this process) and draw the figure."""
    from .. import cell as cellmod
    from ..validation.linearity import ResponseComparison

    synapses = sorted(synapses)
    comparison = ResponseComparison(config, pre, post)
    responses = {"active": comparison.active(synapses)}
    for name in VARIANTS:
        responses[name] = comparison.linear(name, synapses)
    cell = cellmod.build_cell(config, post, 1.0)
    z = cell.z.mean(axis=-1)
    del cell
    biophysics = config.populations[post]["cell"]["biophysics"]
    title = (
        f"{pre}\u2192{post}: {post}'s active cell and its linearizations at its operating point "
        f"({biophysics.get('operating_point', 'steady-state')})"
    )
    bound = physiological_bound(config, pre, post)
    return plot_linearization(responses, sorted(synapses), z, output, title, config, bound=bound)
