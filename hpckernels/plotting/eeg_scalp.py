"""EEG scalp maps (``eeg_scalp.png``, with MNE installed: ``hpckernels[mne]``).

The EEG probe's head model (``FourSphereVolumeConductor``: radii, conductivities, the
dipole's location) is linear in the current dipole moment, so the potential anywhere on
the scalp follows from the dipole probe's signal in the same signals file. The map puts
the 19 electrodes of the 10-20 system on the head model's outer sphere: their directions
are those of MNE's ``standard_1020`` montage from the centre of the sphere fitted to it,
turned so that Cz lies on the model's z axis (up the column, above the dipole) and the
nasion towards +y. The potential at these positions is drawn with
``mne.viz.plot_topomap`` at four moments: in each quarter of the window, the moment of
the largest deviation at Cz.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import InputError
from .common import MINUS_MEAN, display_scale, finish, probe_window, pyplot

#: The 19 electrodes of the 10-20 system (the ten-percent names of T3/T4/T5/T6).
ELECTRODES_1020 = (
    "Fp1",
    "Fp2",
    "F7",
    "F3",
    "Fz",
    "F4",
    "F8",
    "T7",
    "C3",
    "Cz",
    "C4",
    "T8",
    "P7",
    "P3",
    "Pz",
    "P4",
    "P8",
    "O1",
    "O2",
)


def mne_available():
    """Whether MNE can be imported (the scalp maps need it)."""
    try:
        import mne  # noqa: F401
    except ImportError:
        return False
    return True


def _mne():
    import mne

    mne.set_log_level("ERROR")
    return mne


#: Parameters of the EEG probe the scalp maps need.
HEAD_PARAMETERS = ("radii", "sigmas", "dipole_location", "dipole")


def scalp_map_reason(fh, probe):
    """Why the scalp maps of EEG probe group ``probe`` of an open signals file cannot be
    drawn (None if they can): the head model's parameters and the dipole group."""
    import json

    from ..io.h5 import text

    parameters = json.loads(text(fh[probe].attrs.get("probe_parameters", "{}")) or "{}")
    missing = [key for key in HEAD_PARAMETERS if key not in parameters]
    if missing:
        return f"the EEG probe '{probe}' has no {', '.join(missing)}"
    if parameters["dipole"] not in fh or "total" not in fh[parameters["dipole"]]:
        return f"no dipole probe group '{parameters['dipole']}'"
    return None


def montage_info():
    """An ``mne.Info`` of the 10-20 electrodes with MNE's standard positions."""
    mne = _mne()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # the montage's name may change
        montage = mne.channels.make_standard_montage("standard_1020")
    info = mne.create_info(list(ELECTRODES_1020), 1000.0, "eeg")
    info.set_montage(montage)
    return info


def electrode_directions(info):
    """Unit vectors (n, 3) of the electrodes from the centre of the fitted sphere, turned
    so that Cz is +z and the nasion lies towards +y."""
    mne = _mne()
    _, origin, _ = mne.bem.fit_sphere_to_headshape(info, dig_kinds=("eeg",), units="m")
    positions = np.array([ch["loc"][:3] for ch in info["chs"]]) - origin
    directions = positions / np.linalg.norm(positions, axis=1, keepdims=True)
    cz = directions[ELECTRODES_1020.index("Cz")]
    up = np.array([0.0, 0.0, 1.0])
    axis = np.cross(cz, up)
    sin, cos = np.linalg.norm(axis), float(cz @ up)
    if sin > 1e-12:
        k = axis / sin
        cross = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
        rotation = np.eye(3) + sin * cross + (1 - cos) * cross @ cross  # Rodrigues
        directions = directions @ rotation.T
    return directions


def scalp_matrix(parameters, directions):
    """Head-model matrix (n_electrodes, 3), mV per nA µm of the dipole (x, y, z), for
    electrodes in ``directions`` on the outer sphere of a FourSphereVolumeConductor."""
    from lfpykit import eegmegcalc

    radii = np.asarray(parameters["radii"], dtype=float)
    positions = directions * (radii[-1] - 1.0)  # µm, just inside the scalp's surface
    model = eegmegcalc.FourSphereVolumeConductor(
        positions, radii=radii, sigmas=np.asarray(parameters["sigmas"], dtype=float)
    )
    location = np.asarray(parameters["dipole_location"], dtype=float)
    return np.asarray(model.get_transformation_matrix(location))


def moments(time, signal, n=4):
    """Indices of ``n`` moments: in each of ``n`` equal parts of the window, the sample
    of the largest magnitude of ``signal``."""
    edges = np.linspace(0, time.size, n + 1).astype(int)
    return [
        int(a + np.argmax(np.abs(signal[a:b])))
        for a, b in zip(edges[:-1], edges[1:], strict=True)
        if b > a
    ]


def plot_eeg_scalp(signals_file, output, window=500.0, probe=None, subtract_mean=True):
    """Scalp maps of the EEG at the 10-20 electrodes at four moments, and the potential
    at Cz against time with the moments marked.

    ``window``, ``probe`` (default: the first FourSphereVolumeConductor probe) and
    ``subtract_mean`` as described in :mod:`hpckernels.plotting`.

    Raises
    ------
    InputError
        No dipole probe group of the head model in the signals file.
    """
    eeg, time, _, _, info = probe_window(signals_file, "eeg", probe, window, subtract_mean)
    parameters = eeg["parameters"]
    dipole_name = parameters.get("dipole")
    try:
        dipole, _, moment, _, _ = probe_window(
            signals_file, "dipole", dipole_name, window, subtract_mean
        )
    except InputError:
        raise InputError(
            str(signals_file), f"no dipole probe group '{dipole_name}' for the EEG scalp maps"
        ) from None
    mne = _mne()
    montage = montage_info()
    potential = scalp_matrix(parameters, electrode_directions(montage)) @ moment  # mV
    factor, units, _ = display_scale(potential, eeg["units"])
    potential = potential * factor
    cz = potential[ELECTRODES_1020.index("Cz")]
    picks = moments(time, cz)
    limit = float(np.max(np.abs(potential[:, picks]))) or 1.0
    plt = pyplot()
    fig = plt.figure(figsize=(10, 5.2))
    grid = fig.add_gridspec(
        2, len(picks) + 1, height_ratios=[1.5, 1], width_ratios=[1] * len(picks) + [0.08]
    )
    image = None
    for k, index in enumerate(picks):
        ax = fig.add_subplot(grid[0, k])
        image, _ = mne.viz.plot_topomap(
            potential[:, index],
            montage,
            axes=ax,
            show=False,
            vlim=(-limit, limit),
            cmap="RdBu_r",
            contours=4,
            sensors=True,
        )
        ax.set_title(f"t = {time[index]:.1f} ms", fontsize=10)
    bar = fig.colorbar(image, cax=fig.add_subplot(grid[0, -1]))
    bar.set_label(f"potential ({units})", fontsize=9)
    trace = fig.add_subplot(grid[1, :-1])
    trace.plot(time, cz, color="k", lw=0.8)
    trace.plot(time[picks], cz[picks], "o", color="C3", ms=5)
    trace.axhline(0, color="0.7", lw=0.5)
    trace.set_xlim(time[0], time[-1])
    trace.set_xlabel("time (ms)")
    trace.set_ylabel(f"Cz{MINUS_MEAN if subtract_mean else ''} ({units})", fontsize=9)
    trace.set_title("potential at Cz; red dots: the moments of the maps", fontsize=9)
    fig.suptitle(
        f"{eeg['name']} ({eeg['type']}): scalp maps at the 10-20 electrodes on the outer "
        f"sphere (r = {parameters['radii'][-1] / 1000:g} mm), from dipole '{dipole['name']}'",
        fontsize=10,
    )
    fig.subplots_adjust(left=0.08, right=0.9, top=0.86, bottom=0.11, hspace=0.35, wspace=0.1)
    return finish(fig, output, f"{eeg['name']} EEG scalp maps", [signals_file], {"": info})
