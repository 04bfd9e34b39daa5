"""The figures of ``hpckernels plot-signals``: which can be drawn, and drawing them.

Every figure is written atomically (:func:`~hpckernels.plotting.common.save_png`) and
carries the signals' provenance (config hash, versions) in its PNG text metadata.
Time-series figures show a window of ``window`` ms from the signals' ``t_start``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import h5py
import numpy as np

from ..errors import InputError
from ..io.h5 import OutputError, open_h5, read
from .common import (
    check_window,
    figure_kind,
    find_probe,
    probe_groups,
    scale_labels,
    types_drawn_as,
)
from .csd import plot_csd_image
from .dipole import plot_dipole
from .eeg import plot_eeg
from .eeg_scalp import mne_available, plot_eeg_scalp, scalp_map_reason
from .lfp import plot_lfp_image, plot_lfp_traces
from .meg import plot_meg
from .pathway_shares import plot_pathway_shares
from .raster_rates import plot_raster_rates, read_spikes

#: The files ``hpckernels plot-signals`` writes, and what each one needs: 'spikes'
#: (a SONATA file and the signals' rates), 'pathways' (a probe group with pathways)
#: or the figure kind of a probe type (``hpckernels.probes.types.PROBES[type].figure``).
FIGURES = {
    "raster_rates.png": "spikes",
    "lfp_image.png": "lfp",
    "lfp_traces.png": "lfp",
    "csd_image.png": "csd",
    "dipole.png": "dipole",
    "eeg.png": "eeg",
    "eeg_scalp.png": "eeg",
    "meg.png": "meg",
    "pathway_shares.png": "pathways",
}

#: Figures that need an optional package: {figure: (is it importable, what to install)}.
OPTIONAL = {"eeg_scalp.png": (mne_available, "MNE (pip install 'hpckernels[mne]')")}

#: Needs of :data:`FIGURES` that are not a probe's figure kind.
_NOT_PROBES = ("spikes", "pathways")

# figures of one probe over a time window: f(signals_file, output, window, subtract_mean=)
_TIME_SERIES = {
    "lfp_image.png": plot_lfp_image,
    "lfp_traces.png": plot_lfp_traces,
    "csd_image.png": plot_csd_image,
    "dipole.png": plot_dipole,
    "eeg.png": plot_eeg,
    "eeg_scalp.png": plot_eeg_scalp,
    "meg.png": plot_meg,
}


def _is_signals_file(fh):
    """Whether an open HDF5 file has the layout of ``hpckernels signals``: a probe
    group (``probe_type`` attribute and ``total`` dataset) or a ``rates`` group."""
    return "rates" in fh or any("total" in fh[name] for name in probe_groups(fh))


def _time_axes(fh):
    """The time axes (ms) of the rates and of every probe group of a signals file."""
    names = (["rates"] if "rates" in fh else []) + list(probe_groups(fh))
    groups = [fh[name] for name in names if isinstance(fh[name], h5py.Group)]
    return [np.asarray(read(group["time"]), dtype=float) for group in groups if "time" in group]


def _reasons(fh, spikes_file):
    """{figure: None if it can be drawn, else why not} for an open signals file."""
    groups = probe_groups(fh)
    kinds = {figure_kind(probe_type) for probe_type in groups.values()}
    has_pathways = any("pathways" in fh[name] for name in groups)
    has_rates = "rates" in fh
    reasons = {}
    for figure, need in FIGURES.items():
        if need == "spikes" and not spikes_file:
            reasons[figure] = "no --spikes file"
        elif need == "spikes":
            reasons[figure] = None if has_rates else "the signals file has no 'rates' group"
        elif need == "pathways":
            reasons[figure] = None if has_pathways else "no probe group with pathways"
        else:
            reasons[figure] = (
                None if need in kinds else f"no {' or '.join(types_drawn_as(need))} probe"
            )
        if reasons[figure] is None and figure in OPTIONAL and not OPTIONAL[figure][0]():
            reasons[figure] = f"needs {OPTIONAL[figure][1]}"
    if reasons["eeg_scalp.png"] is None:
        reasons["eeg_scalp.png"] = scalp_map_reason(fh, find_probe(fh, "eeg"))
    return reasons


def available_figures(signals_file, spikes_file=None):
    """Which of :data:`FIGURES` the inputs allow.

    Parameters
    ----------
    signals_file : str or Path
        Signals file of ``hpckernels signals``.
    spikes_file : str or Path, optional
        SONATA spikes file (not opened here).

    Returns
    -------
    dict
        {file name: None if it can be drawn, else why not (str)}.
    """
    with open_h5(signals_file, "signals") as fh:
        return _reasons(fh, spikes_file)


def expected_figures(probe_types, sonata=False, pathways=True):
    """File names :func:`plot_signals` writes for a config's probes (for a workflow's
    outputs, before the signals exist).

    Parameters
    ----------
    probe_types : iterable of str
        The ``type`` of every probe in the config.
    sonata : bool
        Whether a SONATA spikes file is passed (``--spikes``).
    pathways : bool
        Whether the signals keep per-pathway contributions.

    Returns
    -------
    list of str
        In the order of :data:`FIGURES`.
    """
    types = set(probe_types)
    kinds = {figure_kind(probe_type) for probe_type in types}
    return [
        figure
        for figure, need in FIGURES.items()
        if (
            (need == "spikes" and sonata)
            or need in kinds
            or (need == "pathways" and pathways and types)
        )
        and (figure not in OPTIONAL or OPTIONAL[figure][0]())
    ]


def plot_signals(
    signals_file, output_dir, spikes_file=None, window=500.0, subtract_mean=True, log=print
):
    """Write every figure of :data:`FIGURES` that the inputs allow into ``output_dir``.

    All inputs are checked before the first figure is written, so bad input leaves
    no figure behind.

    Parameters
    ----------
    signals_file : str or Path
        Signals file of ``hpckernels signals``.
    output_dir : str or Path
        Folder of the PNG files; created if missing.
    spikes_file : str or Path, optional
        SONATA spikes file of ``hpckernels network``, for ``raster_rates.png``.
    window : float or None
        Length (ms) of the time-series figures from the signals' ``t_start``; None or
        0: the whole signal. It must be at least one time bin of the signals.
    subtract_mean : bool
        Draw each channel's deviation from its run mean.
    log : callable
        Takes one line of progress (figures written or skipped).

    Returns
    -------
    dict
        {file name: Path written, or the reason it was skipped (str)}.

    Raises
    ------
    hpckernels.errors.InputError
        A missing or unreadable input, a file that is not a signals file, a SONATA
        file without the signals' populations, or a ``window`` shorter than a bin.
    """
    signals_file = Path(signals_file)
    with open_h5(signals_file, "signals") as fh:
        if not _is_signals_file(fh):
            raise InputError(
                str(signals_file),
                "not a signals file of 'hpckernels signals' (no probe group with "
                "'probe_type' and 'total', no 'rates' group)",
            )
        for time in _time_axes(fh):
            check_window(window, time)
        reasons = _reasons(fh, spikes_file)
        groups = probe_groups(fh)
        populations = scale_labels(fh["rates/population"]) if "rates" in fh else []
    if reasons["raster_rates.png"] is None:
        read_spikes(spikes_file, populations)  # bad spikes input fails before any figure
    elif spikes_file is not None:
        with open_h5(spikes_file, "SONATA spikes", external=True):
            pass  # a missing or broken --spikes file is an error even when unused
    for kind in dict.fromkeys(FIGURES.values()):
        if kind in _NOT_PROBES:
            continue
        matching = [name for name, probe_type in groups.items() if figure_kind(probe_type) == kind]
        if len(matching) > 1:
            log(
                f"note: {kind} figures draw probe '{matching[0]}'; not drawn: "
                f"{', '.join(matching[1:])}"
            )

    def draw(figure, output):
        if figure == "raster_rates.png":
            return plot_raster_rates(signals_file, spikes_file, output, window)
        if figure == "pathway_shares.png":
            return plot_pathway_shares(signals_file, output)
        return _TIME_SERIES[figure](signals_file, output, window, subtract_mean=subtract_mean)

    # the figures are drawn into a hidden folder and moved into place together: a
    # failure (or Ctrl-C) half-way leaves no partial set of figures behind
    output_dir = Path(output_dir)
    try:
        output_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}-", dir=output_dir.parent))
    except OSError as err:
        raise OutputError(str(output_dir), f"cannot write the figures: {err.strerror}") from None
    try:
        drawn, results = {}, {}
        for figure, reason in reasons.items():
            if reason is not None:
                log(f"skipped {figure}: {reason}")
                results[figure] = reason
                continue
            drawn[figure] = draw(figure, staging / figure)
        output_dir.mkdir(exist_ok=True)
        for figure, path in drawn.items():
            results[figure] = output_dir / Path(path).name
            os.replace(path, results[figure])
            log(f"wrote {results[figure]}")
    except OSError as err:
        raise OutputError(str(output_dir), f"cannot write the figures: {err.strerror}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {figure: results[figure] for figure in reasons}
