"""The README's command sequence ("From your own NEST spikes to an LFP figure") runs as
written: its YAML snippet on the shipped config/two_population.yaml, NEST 3 ASCII spike
files of 9216 neurons over 2 s, then its bash block line for line; and the command
line a newcomer meets (--version, every subcommand's description, notes and flags)."""

import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from conftest import CONFIGS, REPO, hpckernels_env, run_main

README = REPO / "README.md"
SECTION = "## From your own NEST spikes to an LFP figure"


def readme_blocks():
    """The YAML snippet and the bash block of the README's own-spikes section."""
    text = README.read_text()
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(yaml|bash)\n(.*?)```", section, flags=re.S)
    snippet = next(body for kind, body in blocks if kind == "yaml")
    script = next(body for kind, body in blocks if kind == "bash")
    return yaml.safe_load(snippet), script


def write_nest_ascii(folder, populations, t_stop, seed=5):
    """NEST 3 ASCII spike recorder files (two virtual processes) of Poisson neurons."""
    rng = np.random.default_rng(seed)
    rows = []
    for (first, last), rate in populations:
        ids = np.arange(first, last + 1)
        counts = rng.poisson(rate * t_stop / 1000.0, ids.size)
        senders = np.repeat(ids, counts)
        times = np.round(rng.uniform(0.1, t_stop, senders.size), 1)
        rows.append(np.column_stack([senders, times]))
    rows = np.concatenate(rows)
    rows = rows[np.argsort(rows[:, 1], kind="stable")]
    folder.mkdir()
    header = "# NEST version: 3.10.0\n# RecordingBackendASCII version: 2\nsender\ttime_ms\n"
    for vp in (0, 1):
        part = rows[vp::2]
        lines = "".join(f"{int(s)}\t{t:.3f}\n" for s, t in part)
        (folder / f"spike_recorder-9217-{vp}.dat").write_text(header + lines)
    return rows.shape[0]


@pytest.mark.unit
@pytest.mark.slow
def test_readme_sequence_runs_verbatim(tmp_path):
    snippet, script = readme_blocks()
    data = yaml.safe_load((CONFIGS / "two_population.yaml").read_text())
    data.update(snippet)
    (tmp_path / "my_network.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    (tmp_path / "morphologies").symlink_to(CONFIGS / "morphologies")
    ranges = [tuple(snippet["spikes"]["populations"][p]["node_ids"]) for p in ("E", "I")]
    n = write_nest_ascii(
        tmp_path / "spikes", zip(ranges, (2.3, 4.9), strict=True), snippet["signals"]["t_stop"]
    )
    assert n > 30000
    env = hpckernels_env()
    result = subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with h5py.File(tmp_path / "signals.h5") as fh:
        assert fh["lfp"]["total"].shape == (13, int(1800 / 0.0625))
        assert np.std(fh["lfp"]["total"][()]) > 0
    for name in ("lfp_image.png", "lfp_traces.png", "dipole.png", "pathway_shares.png"):
        assert (tmp_path / "figures" / name).stat().st_size > 0
    assert (tmp_path / "kernels" / "E" / "I" / "lfp.h5").is_file()
    assert (tmp_path / "my_network.nwb").stat().st_size > 0


@pytest.mark.unit
def test_version_and_every_subcommand_has_a_description():
    from hpckernels import __version__
    from hpckernels.cli import build_parser

    result = subprocess.run(
        [str(Path(sys.executable).parent / "hpckernels"), "--version"],
        capture_output=True,
        text=True,
        env=hpckernels_env(),
    )
    assert result.returncode == 0 and result.stdout.strip() == f"hpckernels {__version__}"
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.choices and "kernel" in a.choices)
    for name, sub in subparsers.choices.items():
        assert sub.description and len(sub.description) > 40, name
        text = sub.format_help()
        assert "%%" not in text, name
    assert "10/90 % quantiles" in " ".join(subparsers.choices["compare"].format_help().split())


@pytest.mark.unit
def test_assemble_takes_the_files_of_kernel_o(tmp_path):
    """`kernel -o FILE` per pathway, then `assemble CONFIG FILE...` (no folder layout)."""
    from hpckernels.config import NetworkConfig
    from hpckernels.io import kernels as io_kernels

    config = NetworkConfig.from_file(CONFIGS / "two_population.yaml")
    rng = np.random.default_rng(0)
    names = []
    for pathway in config.pathways():
        results = {
            "lfp": {"kernel": rng.normal(size=(13, config.n_lags))},
            "dipole": {"kernel": rng.normal(size=(3, config.n_lags))},
        }
        path = tmp_path / f"H_{pathway.post}{pathway.pre}.h5"
        io_kernels.write_kernel_file(
            path, config, pathway.pre, pathway.post, "mean-field", results
        )
        names.append(path)
    out = tmp_path / "kernels.h5"
    result = run_main(["assemble", CONFIGS / "two_population.yaml", *names, "-o", out])
    assert result.returncode == 0, result.stderr
    assert io_kernels.read_tensor(out).probes["lfp"].kernel.shape == (2, 2, 13, config.n_lags)
    # a missing pathway names what is missing; a duplicate names both files
    out.unlink()
    result = run_main(["assemble", CONFIGS / "two_population.yaml", *names[:3], "-o", out])
    assert result.returncode == 2 and "no file has the kernels of I->I" in result.stderr
    result = run_main(["assemble", CONFIGS / "two_population.yaml", *names, names[0], "-o", out])
    assert result.returncode == 2 and "is also in" in result.stderr
    result = run_main(["assemble", CONFIGS / "two_population.yaml", "-o", out])
    assert result.returncode == 2 and "--kernels-dir" in result.stderr
    assert not out.exists()


@pytest.mark.unit
def test_signals_window_flags_replace_a_missing_t_stop(tmp_path):
    """A config without network and signals.t_stop takes --t-start/--t-stop."""
    from test_signals import make_tensor, small_config, synthetic_spikes, write_sonata

    def no_window(data):
        data.pop("signals")

    config = small_config(tmp_path, extra=no_window)
    tensor, _ = make_tensor(tmp_path, config)
    spikes = write_sonata(tmp_path / "spikes.h5", synthetic_spikes())
    out = tmp_path / "signals.h5"
    result = run_main(["signals", config, "--kernels", tensor, "--spikes", spikes, "-o", out])
    assert result.returncode == 2 and "signals.t_stop" in result.stderr
    assert "--t-stop" in run_main(["signals", "--help"]).stdout
    result = run_main(
        ["signals", config, "--kernels", tensor, "--spikes", spikes]
        + ["--t-start", "20", "--t-stop", "120", "-o", out]
    )
    assert result.returncode == 0, result.stderr
    with h5py.File(out) as fh:
        assert fh.attrs["t_start"] == 20.0 and fh.attrs["t_stop"] == 120.0
        assert fh["lfp"]["total"].shape[1] == 1600


@pytest.mark.unit
def test_groundtruth_says_it_simulates_every_cell_and_estimates_the_time(tmp_path):
    from hpckernels.commands.groundtruth import cost_note
    from hpckernels.config import NetworkConfig
    from hpckernels.validation.groundtruth import settings_from_config

    config = NetworkConfig.from_file(CONFIGS / "config.yaml")
    settings = settings_from_config(config)
    text = cost_note(config, settings, {"E": 27, "I": 11}, 8000.0, explicit=False)
    assert "every cell" in text and "--cells-per-population" in text
    assert "E 8192 of 8192" in text and "core-hours" in text
    hours = 4e-3 * 8.1 * (8192 * 27 + 1024 * 11) / 3600
    assert f"{hours:.2g} core-hours" in text
    sampled = settings_from_config(config, cells_per_population=16)
    text = cost_note(config, sampled, {"E": 27, "I": 11}, 8000.0, explicit=True)
    assert "every cell" not in text and "E 16 of 8192" in text
