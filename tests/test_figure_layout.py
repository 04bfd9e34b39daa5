"""Figures a reviewer accepts: every figure of hpckernels is checked as it is saved, with
the boxes matplotlib's renderer gives: no text smaller than 7 pt, no text overlapping
another, no text cut off at the figure's edge, and no legend on the data. Plus the
linearization figure's physiological range and the units and keys the figures promise."""

import re

import numpy as np
import pytest
import test_figures
from matplotlib.lines import Line2D
from matplotlib.text import Text
from test_figures import make_spikes, write_signals

from hpckernels.plotting import common

pytestmark = pytest.mark.unit

#: Smallest text (points).
MIN_POINTS = 7.0
#: Pixels two boxes may share (anti-aliasing).
SLACK = 1.0

inputs = test_figures.inputs
microcircuit_files = test_figures.microcircuit_files


def _texts(fig):
    """The texts a drawn figure shows: tick labels only of the ticks in view (matplotlib
    keeps label objects of ticks outside the axes' limits, which it does not draw)."""
    ticks, drawn = set(), []
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for axis in (ax.xaxis, ax.yaxis):
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                ticks.update((id(tick.label1), id(tick.label2)))
            for tick in axis._update_ticks():
                drawn += [label for label in (tick.label1, tick.label2) if label.get_visible()]
    out = []
    for text in fig.findobj(Text):
        if id(text) in ticks or not text.get_visible():
            continue
        if text.axes is not None and not text.axes.get_visible():
            continue
        out.append(text)
    return [t for t in out + drawn if t.get_text().strip()]


def _dense(points, n=20):
    """The points of a polyline with ``n`` more along each segment (display units)."""
    if len(points) < 2:
        return points
    steps = np.linspace(0.0, 1.0, n, endpoint=False)
    starts, ends = points[:-1], points[1:]
    fill = starts[:, None, :] + steps[None, :, None] * (ends - starts)[:, None, :]
    return np.vstack([fill.reshape(-1, 2), points[-1:]])


def _overlap(a, b):
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return width > SLACK and height > SLACK


def layout_problems(fig):
    """What is wrong with a drawn figure's text and legends (a list of sentences)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    problems = []
    texts = _texts(fig)
    boxes = [t.get_window_extent(renderer) for t in texts]
    frame = fig.bbox
    for text, box in zip(texts, boxes, strict=True):
        if re.search(r"\bum\d?\b|nA/um", text.get_text()):
            problems.append(f"{text.get_text()!r}: µm, not um")
        if text.get_fontsize() < MIN_POINTS:
            problems.append(f"{text.get_text()!r}: {text.get_fontsize():g} pt")
        if (
            box.x0 < frame.x0 - 2
            or box.x1 > frame.x1 + 2
            or box.y0 < frame.y0 - 2
            or box.y1 > frame.y1 + 2
        ):
            problems.append(f"{text.get_text()!r} is cut off at the figure's edge")
    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            if _overlap(boxes[i], boxes[j]):
                problems.append(f"{texts[i].get_text()!r} overlaps {texts[j].get_text()!r}")
    lines = [
        line
        for ax in fig.axes
        for line in ax.get_lines()
        if line.get_visible() and line.get_label() and not line.get_label().startswith("_child")
    ]
    for legend in [ax.get_legend() for ax in fig.axes] + list(fig.legends):
        if legend is None:
            continue
        frame = legend.get_window_extent(renderer)
        for line in lines:
            if isinstance(line, Line2D) and line.get_xydata().size:
                xy = line.get_xydata()
                points = _dense(line.get_transform().transform(xy[np.isfinite(xy).all(axis=1)]))
                if line.get_clip_on() and line.axes is not None:
                    # what lies outside the axes is clipped, not drawn
                    clip = line.axes.bbox
                    points = points[
                        (points[:, 0] >= clip.x0)
                        & (points[:, 0] <= clip.x1)
                        & (points[:, 1] >= clip.y0)
                        & (points[:, 1] <= clip.y1)
                    ]
                inside = (
                    (points[:, 0] > frame.x0)
                    & (points[:, 0] < frame.x1)
                    & (points[:, 1] > frame.y0)
                    & (points[:, 1] < frame.y1)
                )
                if inside.any():
                    problems.append(f"the legend covers the data of {line.get_label()!r}")
                    break
    return problems


@pytest.fixture
def checked(monkeypatch):
    """Every figure saved while the fixture is active: {file name: problems}."""
    found = {}
    save = common.save_png

    def checking_save(fig, path, metadata):
        found[str(path).rsplit("/", 1)[-1]] = layout_problems(fig)
        return save(fig, path, metadata)

    monkeypatch.setattr(common, "save_png", checking_save)
    return found


def assert_clean(found, expected):
    assert set(expected) <= set(found), sorted(found)
    bad = {name: problems for name, problems in found.items() if problems}
    assert not bad, "\n".join(f"{n}: {'; '.join(p[:6])}" for n, p in bad.items())


@pytest.mark.slow
def test_signal_figures(inputs, tmp_path, checked):
    from hpckernels.plotting import plot_signals

    folder, _ = inputs
    plot_signals(
        folder / "signals.h5", tmp_path, spikes_file=folder / "spikes.h5", log=lambda line: None
    )
    assert_clean(checked, test_figures.FIGURES)


@pytest.mark.slow
def test_eight_population_figures(microcircuit_files, tmp_path, checked):
    from hpckernels.plotting import plot_kernel_tensor, plot_signals

    folder = microcircuit_files
    plot_signals(
        folder / "signals.h5", tmp_path, spikes_file=folder / "spikes.h5", log=lambda line: None
    )
    plot_kernel_tensor(folder / "kernels.h5", "lfp", tmp_path / "kernels_lfp.png")
    plot_kernel_tensor(
        folder / "kernels.h5", "lfp", tmp_path / "kernels_shared.png", shared_scale=True
    )
    assert_clean(checked, ["pathway_shares.png", "kernels_lfp.png", "kernels_shared.png"])


@pytest.mark.slow
def test_validation_figures(tmp_path, checked):
    """The figures of compare on synthetic ground truth, linearized reconstruction and two
    predictions that nearly overlap (mean-field and ensemble)."""
    from hpckernels.io.signals import SignalFile
    from hpckernels.plotting.validation import plot_validation
    from hpckernels.validation.comparison import LINEARIZED, compare

    files = {}
    for name, seed in (("gt", 7), ("lin", 8), ("mean-field", 9), ("ensemble", 9)):
        spikes = make_spikes(np.random.default_rng(seed))
        write_signals(tmp_path / f"{name}.h5", spikes)
        files[name] = SignalFile(tmp_path / f"{name}.h5")
    lin = files.pop("lin")
    gt = files.pop("gt")
    comparison = compare(gt, lin, {LINEARIZED: lin, **files})
    (tmp_path / "figures").mkdir()
    written = plot_validation(comparison, tmp_path / "figures")
    names = [p.name for p in written]
    assert {"traces_lfp.png", "metrics_lfp.png", "coherence_lfp.png", "xcorr_dipole.png"} <= set(
        names
    )
    assert_clean(checked, names)


def test_linearization_marks_the_physiological_range(tmp_path, checked):
    """Linear models pass the inhibitory reversal potential at 1000 synapses (-450 mV in
    the paper's Fig 2); the active cell saturates before it: the voltage panels shade
    the range beyond it, the R^2 panel marks from where the linear models leave it."""
    from conftest import CONFIGS, load

    from hpckernels.plotting.linearization import (
        leaves_range,
        physiological_bound,
        plot_linearization,
    )
    from hpckernels.validation.linearity import Traces

    config = load(CONFIGS / "two_population.yaml")
    bound = physiological_bound(config, "I", "E")
    assert bound[0] == -80.0 - (-65.0)
    synapses = [1.0, 10.0, 100.0, 1000.0]
    t = np.linspace(0, 40, 200)
    shape = np.exp(-t / 10) - np.exp(-t / 2)
    z = np.linspace(0, 800, 20)

    def traces(v):
        return Traces(t, v * shape / shape.max(), np.outer(np.ones(20), shape) * v * 1e-3)

    responses = {
        "active": [traces(-0.45 * n / (1 + 0.05 * n)) for n in synapses],
        **{name: [traces(-0.45 * n) for n in synapses] for name in ("passive", "frozen")},
        "quasi-active": [traces(-0.44 * n) for n in synapses],
    }
    assert leaves_range(responses, synapses, bound[0]) == {
        "passive": 100.0,
        "frozen": 100.0,
        "quasi-active": 100.0,
    }
    plot_linearization(
        responses, synapses, z, tmp_path / "lin.png", "I\u2192E", config, bound=bound
    )
    assert_clean(checked, ["lin.png"])


def test_the_checker_finds_overlaps_small_text_and_covered_data():
    plt = common.pyplot()
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1], label="data")
    ax.legend(loc="center")
    ax.text(0.1, 0.9, "first label", fontsize=9)
    ax.text(0.1, 0.9, "second label", fontsize=9)
    ax.text(0.5, 0.1, "tiny", fontsize=5)
    ax.set_ylabel("depth (um)")
    problems = " | ".join(layout_problems(fig))
    plt.close(fig)
    assert "'first label' overlaps 'second label'" in problems
    assert "'tiny': 5 pt" in problems
    assert "'depth (um)': µm, not um" in problems
    assert "the legend covers the data of 'data'" in problems


def test_csd_is_in_one_unit_with_a_source_sink_key(inputs, tmp_path):
    from PIL import Image

    from hpckernels.plotting.csd import plot_csd_image

    folder, _ = inputs
    plt = common.pyplot()
    captured = {}
    save = common.save_png

    def keep(fig, path, metadata):
        captured["texts"] = [t.get_text() for t in _texts(fig)]
        return save(fig, path, metadata)

    common.save_png = keep
    try:
        plot_csd_image(folder / "signals.h5", tmp_path / "csd.png")
    finally:
        common.save_png = save
    texts = captured["texts"]
    assert "source" in texts and "sink" in texts
    assert any("\u00b5A/mm\u00b3" in t for t in texts)
    assert not any("nA/um3" in t or " um" in t for t in texts)
    assert Image.open(tmp_path / "csd.png").size[0] > 500
    plt.close("all")
