"""Comparison metrics against values worked out by hand; the validation target's DAG."""

import copy

import numpy as np
import pytest
import yaml
from conftest import CONFIGS, run_snakemake

from hpckernels.validation import metrics as validation
from hpckernels.validation.error_theory import xcorr

DT = 2.0**-4


@pytest.mark.unit
def test_r2_rstd_erel_by_hand():
    gt = np.array([[1.0, 2, 3, 4], [0, 1, 0, 1], [1, 2, 3, 4]])
    pred = np.array([[2.0, 4, 6, 8], [1, 0, 1, 0], [5, 5, 5, 5]])
    # row 0: pred = 2 gt; row 1: pred = 1 - gt; row 2: a constant
    assert np.allclose(validation.r_squared(gt, pred)[:2], [1.0, 1.0])
    assert np.isnan(validation.r_squared(gt, pred)[2])
    assert np.allclose(validation.r_std(gt, pred), [2.0, 1.0, 0.0])
    # sigma(pred - gt) / sigma(gt): sigma([1, 2, 3, 4]) / same; sigma([1, -1, 1, -1]) / 0.5
    assert np.allclose(validation.e_rel(gt, pred), [1.0, 2.0, 1.0])
    # gt [1, 2, 3, 4], pred [1, 3, 2, 4]: deviations (-1.5, -.5, .5, 1.5) and
    # (-1.5, .5, -.5, 1.5), r = (2.25 - .25 - .25 + 2.25) / 5 = 0.8
    assert np.isclose(validation.r_squared([[1.0, 2, 3, 4]], [[1.0, 3, 2, 4]])[0], 0.64)
    # a ground truth without variance has no metrics
    assert np.isnan(validation.e_rel([[1.0, 1, 1]], [[1.0, 2, 3]])[0])
    assert list(validation.active_channels([[1.0, 2, 3], [1, 1, 1]])) == [True, False]


@pytest.mark.unit
def test_lowpass_coherence_and_cross_correlation():
    t = np.arange(16000) * DT  # 1 s at 16 kHz
    slow = np.sin(2 * np.pi * 10 * t / 1000)
    fast = np.sin(2 * np.pi * 1000 * t / 1000)
    filtered = validation.lowpass(np.stack([slow, fast]), DT)
    middle = slice(4000, 12000)
    # 10 Hz passes (forward-backward: 2 x 0.1 dB ripple at most); 1 kHz is gone (2 x 40 dB)
    assert np.abs(filtered[0, middle] - slow[middle]).max() < 0.03
    assert np.abs(filtered[1, middle]).max() < 1e-3
    rng = np.random.default_rng(1)
    noise = rng.normal(size=(2, 32000))
    f, same = validation.coherence(noise[:1], noise[:1], DT)
    assert f.max() <= 500 and np.allclose(same, 1.0)
    _, independent = validation.coherence(noise[:1], noise[1:], DT)
    assert independent.mean() < 0.1
    # pred(t) = gt(t - 5 ms): the cross-correlation peaks at +5 ms, with the overlap of
    # T - 80 of the T samples (biased estimate, 1/T)
    shift = int(5 / DT)
    lags, c = validation.zscore_xcorr(noise[:1, shift:], noise[:1, :-shift], DT)
    assert lags[np.argmax(c[0])] == pytest.approx(5.0)
    assert c[0].max() == pytest.approx(1 - shift / (32000 - shift), abs=0.02)
    assert lags[0] == pytest.approx(-20.0) and lags[-1] == pytest.approx(20.0)


@pytest.mark.unit
def test_xcorr_and_summary_by_hand():
    # (a x b)(u) = sum_m a(m + u) b(m), u = -2..2, by hand:
    # u=-2: a0 b2 = -1; u=-1: a0 b1 + a1 b2 = 1 - 2; u=0: 0 + 2 - 3; u=1: a1 b0 + a2 b1 = 3;
    # u=2: a2 b0 = 0
    a, b = np.array([1.0, 2, 3]), np.array([0.0, 1, -1])
    assert np.allclose(xcorr(a, b, 2), [-1.0, -1.0, -1.0, 3.0, 0.0])
    values = np.array([1.0, 2.0, 3.0, 4.0, np.nan])
    median, q10, q90 = validation.summary(values)
    assert median == 2.5 and q10 == pytest.approx(1.3) and q90 == pytest.approx(3.7)
    assert np.allclose(
        validation.summary(values, np.array([1, 1, 0, 0, 0], bool)), [1.5, 1.1, 1.9]
    )


#: Jobs of the validation of a two-population network besides its kernel predictions.
def common_jobs(n_probes):
    """The jobs of the main job and the ground truth of the two-population validation
    networks: (X, Y, probe) kernel jobs and a tensor per probe."""
    return {
        "mechanisms": 1,
        "network": 1,
        "basis": 2,
        "kernel": 4 * n_probes,
        "kernel_tensor": n_probes,
        "signals": 1,
        "groundtruth": 2,
        "hybrid_kernels": 2,
        "predict_error": 1,
    }


def dry_run_counts(workdir, config, target):
    """A dry run of ``target`` and its jobs per rule."""
    from test_workflow import job_counts

    # the target after another option: --configfile takes every file name that follows it
    result = run_snakemake(workdir, config, "-n", target)
    assert result.returncode == 0, result.stdout + result.stderr
    return result, job_counts(result.stdout)


@pytest.mark.workflow
def test_validation_target_dag(tmp_path):
    """snakemake validation: the ground truth (both cell models), hybrid kernels, the no-g_eff
    and ensemble predictions, lfpykernels' operating point (a variant), the predicted
    error and compare, on top of the main job."""
    data = copy.deepcopy(yaml.safe_load((CONFIGS / "validation.yaml").read_text()))
    for population in data["populations"].values():
        cell = population["cell"]
        cell["template"]["file"] = str(CONFIGS / cell["template"]["file"])
        cell["morphology"] = str(CONFIGS / cell["morphology"])
    config = tmp_path / "validation.yaml"
    config.write_text(yaml.safe_dump(data))
    _, counts = dry_run_counts(tmp_path, config, "validation")
    assert counts == common_jobs(4) | {  # lfp, dipole, eeg, meg
        "validation_pathway_kernels": 12,
        "validation_tensor": 3,
        "validation_signals": 3,
        "compare": 1,
        "validation": 1,
    }, counts


@pytest.mark.workflow
def test_paper_target_dag(tmp_path):
    """snakemake paper with config/paper.yaml: the default target's jobs and the
    validation with one kernel set per variant (5) and without g_eff; rate: measured puts
    the network's spikes into every job that uses a rate, so they run after the network."""
    result, counts = dry_run_counts(tmp_path, CONFIGS / "paper.yaml", "paper")
    assert counts == common_jobs(3) | {
        "kernel_figure": 3,
        "linearization_figure": 4,
        "signal_figures": 1,
        "validation_pathway_kernels": 24,
        "validation_tensor": 6,
        "validation_signals": 6,
        "compare": 1,
        "paper_figure": 5,
        "paper": 1,
    }, counts
    commands = [line for line in result.stdout.splitlines() if "hpckernels_cli.py" in line]
    spikes = "--spikes results/paper/network/spikes.h5"
    for command in ("basis", "kernel", "assemble", "plot-linearization", "compare"):
        using = [line for line in commands if f"hpckernels_cli.py {command} " in line]
        assert using and all(spikes in line for line in using), command
    assert sum("--variant lin_uniform" in line for line in commands) == 4 + 1 + 1
    figures = [line for line in commands if "hpckernels_cli.py paper-figure " in line]
    names = [line.split(" paper-figure ", 1)[1].split()[1] for line in figures]
    assert sorted(names) == sorted(yaml.safe_load((CONFIGS / "paper.yaml").read_text())["paper"])
    assert any("results/paper/validation/figures/traces_lfp.png" in line for line in figures)


@pytest.mark.workflow
def test_paper_figure_panels_are_figures_of_the_run(tmp_path):
    """A paper figure made of a figure the run does not make is refused before any job,
    naming the key."""
    data = copy.deepcopy(yaml.safe_load((CONFIGS / "paper.yaml").read_text()))
    data["mechanisms"] = [str(CONFIGS / m) for m in data["mechanisms"]]
    for population in data["populations"].values():
        cell = population["cell"]
        cell["template"]["file"] = str(CONFIGS / cell["template"]["file"])
        cell["morphology"] = str(CONFIGS / cell["morphology"])
    data["paper"]["Fig07_coherence"]["panels"][2] = "validation/figures/coherence_eeg.png"
    config = tmp_path / "paper.yaml"
    config.write_text(yaml.safe_dump(data))
    result = run_snakemake(tmp_path, config, "-n", "paper")
    assert result.returncode != 0
    assert (
        "paper.Fig07_coherence.panels: validation/figures/coherence_eeg.png is not a figure"
        in result.stdout + result.stderr
    )
