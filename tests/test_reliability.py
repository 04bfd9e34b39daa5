"""No silently wrong result, round two (issue 15): probes and spikes checked against the
config, outputs that never replace an input, data integrity, one-line errors on faults,
resource guards. Every case ends in one line naming the key or file, exit code 2, no
output, and every input file unchanged (by checksum)."""

import copy
import hashlib
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from conftest import CONFIGS, hpckernels_env, run_cli, run_main
from test_bad_input import assert_bad
from test_cli import set_in

pytestmark = pytest.mark.unit

BASE = yaml.safe_load((CONFIGS / "two_population.yaml").read_text())
T_STOP = 1000.0


# ------------------------------------------------------------------------- helpers
def checksums(folder):
    """{file: SHA-256} of every file below ``folder``."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(Path(folder).rglob("*"))
        if p.is_file()
    }


class Net:
    """A self-contained copy of the two-population network (config, morphologies) in a
    folder, with spikes; every test checks that none of its files changes."""

    def __init__(self, folder, edit=None, name="config.yaml"):
        self.folder = Path(folder)
        shutil.copytree(CONFIGS / "morphologies", self.folder / "morphologies")
        data = copy.deepcopy(BASE)
        data["signals"] = {"t_stop": T_STOP}
        if edit is not None:
            edit(data)
        self.config = self.folder / name
        self.config.write_text(yaml.safe_dump(data))
        self.spikes = write_spikes(self.folder / "spikes.h5")

    def edited(self, edit, name):
        """Another config in the same folder, ``edit`` applied."""
        data = yaml.safe_load(self.config.read_text())
        edit(data)
        path = self.folder / name
        path.write_text(yaml.safe_dump(data))
        return path


def write_spikes(path, names=("E", "I"), t_stop=T_STOP, n=3000, attrs=None):
    """SONATA spikes of 50 neurons per population over [0, t_stop) ms."""
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as fh:
        fh.attrs.update(attrs or {})
        for name in names:
            times = np.sort(rng.uniform(0, t_stop, n))
            fh[f"spikes/{name}/timestamps"] = times
            fh[f"spikes/{name}/node_ids"] = rng.integers(0, 50, times.size)
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory, mechanisms_loaded):
    """The network, its kernels (--output-dir per pathway), tensor and signals."""
    net = Net(tmp_path_factory.mktemp("net"))
    out = tmp_path_factory.mktemp("out")
    for pre, post in (("E", "E"), ("E", "I"), ("I", "E"), ("I", "I")):
        result = run_main(
            [
                "kernel",
                net.config,
                "--pre",
                pre,
                "--post",
                post,
                "--output-dir",
                out / "kernels" / post / pre,
            ]
        )
        assert result.returncode == 0, result.stderr
    tensor = out / "kernels.h5"
    result = run_main(["assemble", net.config, "--kernels-dir", out / "kernels", "-o", tensor])
    assert result.returncode == 0, result.stderr
    signals = out / "signals.h5"
    result = run_main(
        ["signals", net.config, "--kernels", tensor, "--spikes", net.spikes, "-o", signals]
    )
    assert result.returncode == 0, result.stderr
    return net, out, tensor, signals


def without_progress(result):
    """The result with the progress lines (``[hpckernels] ...``) of its stderr left out:
    a command may report work done before it fails."""
    kept = [line for line in result.stderr.splitlines() if not line.startswith("[hpckernels]")]
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout, "\n".join(kept) + "\n"
    )


def refused(args, *fragments, outputs=(), unchanged=()):
    """Run a command in this process; assert one line with every fragment, exit code 2,
    no ``outputs`` and every file below the ``unchanged`` folders as it was."""
    before = {str(folder): checksums(folder) for folder in unchanged}
    result = run_main([str(a) for a in args])
    assert_bad(without_progress(result), *fragments, outputs=[Path(o) for o in outputs])
    for folder, sums in before.items():
        assert checksums(folder) == sums, f"an input below {folder} changed"
    return result


# ------------------------------------------------ 1. probes are part of what is checked
@pytest.mark.parametrize(
    "edit,fragment",
    [
        (set_in(["probes", "lfp", "sigma"], 0.6), "lfp.sigma: 0.3 in the file, 0.6 in the config"),
        (set_in(["probes", "lfp", "z"], {"start": 1000.0, "stop": -200.0, "num": 7}), "lfp"),
        (
            set_in(
                ["probes", "lfp"],
                {
                    "type": "GaussCylinderCSD",
                    "z": {"start": 1000.0, "stop": -200.0, "num": 13},
                    "h": 100.0,
                    "R": 150.0,
                    "sigma_z": 75.0,
                },
            ),
            "lfp.type: GaussCylinderPotential in the file, GaussCylinderCSD in the config",
        ),
    ],
    ids=["sigma", "contacts", "type"],
)
def test_assemble_and_signals_refuse_kernels_of_another_probe(built, tmp_path, edit, fragment):
    net, out, tensor, _ = built
    config = net.edited(edit, "probe_edit.yaml")
    refused(
        ["assemble", config, "--kernels-dir", out / "kernels", "-o", tmp_path / "t.h5"],
        str(out / "kernels"),
        fragment,
        outputs=[tmp_path / "t.h5"],
        unchanged=[net.folder, out],
    )
    refused(
        ["signals", config, "--kernels", tensor, "--spikes", net.spikes, "-o", tmp_path / "s.h5"],
        str(tensor),
        "lfp",
        outputs=[tmp_path / "s.h5"],
        unchanged=[net.folder, out],
    )


# --------------------------------------------------------- 2. staleness travels along
def test_allow_stale_does_not_launder(built, tmp_path):
    """A tensor assembled with --allow-stale keeps the stale kernels' own hashes: signals
    refuse it without --allow-stale; with it, the signals record it and compare refuses
    such a prediction unless told."""
    net, out, _, _ = built
    config = net.edited(set_in(["connections", 0, "synapse", "weight"], 0.0002), "stale.yaml")
    stale = tmp_path / "stale.h5"
    result = run_main(
        ["assemble", config, "--kernels-dir", out / "kernels", "-o", stale, "--allow-stale"]
    )
    assert result.returncode == 0 and "--allow-stale" in result.stderr
    refused(
        ["signals", config, "--kernels", stale, "--spikes", net.spikes, "-o", tmp_path / "s.h5"],
        str(stale),
        "connection.synapse.weight",
        outputs=[tmp_path / "s.h5"],
    )
    signals = tmp_path / "s.h5"
    result = run_main(
        [
            "signals",
            config,
            "--kernels",
            stale,
            "--spikes",
            net.spikes,
            "-o",
            signals,
            "--allow-stale",
        ]
    )
    assert result.returncode == 0, result.stderr
    with h5py.File(signals) as fh:
        assert "connection.synapse.weight" in fh.attrs["stale_kernels"]
    from hpckernels.config import NetworkConfig
    from hpckernels.errors import InputError
    from hpckernels.io.signals import SignalFile
    from hpckernels.steps.compare import check_prediction

    cfg = NetworkConfig.from_file(config)
    with pytest.raises(InputError, match="stale kernels"):
        check_prediction(SignalFile(signals, "mf"), cfg)
    assert check_prediction(SignalFile(signals, "mf"), cfg, allow_stale=True)


def test_compare_refuses_a_prediction_of_another_configs_kernels(built):
    from hpckernels.config import NetworkConfig
    from hpckernels.errors import InputError
    from hpckernels.io.signals import SignalFile
    from hpckernels.steps.compare import check_prediction

    net, _, _, signals = built
    check_prediction(SignalFile(signals, "mf"), NetworkConfig.from_file(net.config))
    other = net.edited(set_in(["connections", 1, "probability"], 0.06), "other.yaml")
    with pytest.raises(InputError, match="kernels of another config"):
        check_prediction(SignalFile(signals, "mf"), NetworkConfig.from_file(other))
    with pytest.raises(InputError, match="kernels of another config"):
        check_prediction(
            SignalFile(signals, "mf"),
            NetworkConfig.from_file(net.edited(set_in(["simulation", "tau"], 40.0), "t.yaml")),
        )


# ------------------------------------------------------- 3. outputs never replace inputs
@pytest.mark.parametrize("target", ["config", "morphology", "device"])
@pytest.mark.parametrize("command", ["kernel", "basis", "signals", "network"])
def test_an_output_is_never_an_input(built, target, command):
    """-o naming the config, a morphology it names, or a device: refused before any work,
    and nothing it names changes."""
    net, out, tensor, _ = built
    config = net.config
    if command == "network":
        config = net.folder / "network.yaml"
        if not config.exists():
            data = yaml.safe_load((CONFIGS / "config.yaml").read_text())
            config.write_text(yaml.safe_dump(data))
    path = {
        "config": config,
        "morphology": net.folder / "morphologies" / "BallAndSticks_E.hoc",
        "device": Path("/dev/null"),
    }[target]
    args = {
        "kernel": ["kernel", config, "--pre", "I", "--post", "E", "-o", path],
        "basis": ["basis", config, "--post", "E", "-o", path],
        "signals": ["signals", config, "--kernels", tensor, "--spikes", net.spikes, "-o", path],
        "network": ["network", config, "-o", path],
    }[command]
    fragment = "not a regular file" if target == "device" else "is also an input file"
    refused(args, "-o/--output", fragment, unchanged=[net.folder, out])


def test_the_spikes_are_not_an_output_of_signals(built, tmp_path):
    net, out, tensor, _ = built
    refused(
        ["signals", net.config, "--kernels", tensor, "--spikes", net.spikes, "-o", net.spikes],
        "is also an input file",
        unchanged=[net.folder, out],
    )
    refused(
        ["signals", net.config, "--kernels", tensor, "--spikes", net.spikes, "-o", tensor],
        "is also an input file",
        unchanged=[net.folder, out],
    )


# ---------------------------------------------------------- 4. spikes checked against the run
def spikes_section(files, populations=None, **extra):
    return set_in(
        ["spikes"],
        {
            "format": "sonata",
            "files": files,
            "populations": populations or {"E": {}, "I": {}},
            **extra,
        },
    )


@pytest.mark.parametrize(
    "files,fragment",
    [(["spikes.h5", "spikes.h5"], "given twice"), (["spikes.h5", "spik*.h5"], "given twice")],
    ids=["listed twice", "overlapping globs"],
)
def test_a_spike_file_never_counts_twice(built, tmp_path, files, fragment):
    net, out, tensor, _ = built
    config = net.edited(spikes_section(files), "twice.yaml")
    refused(
        ["signals", config, "--kernels", tensor, "-o", tmp_path / "s.h5"],
        "spikes.files",
        fragment,
        outputs=[tmp_path / "s.h5"],
        unchanged=[net.folder, out],
    )


@pytest.mark.parametrize(
    "populations",
    [
        {"E": {"sonata_population": "E"}, "I": {"sonata_population": "E"}},
        {"E": {"node_ids": [0, 30]}, "I": {"sonata_population": "E", "node_ids": [20, 49]}},
    ],
    ids=["one population twice", "overlapping node ids"],
)
def test_two_populations_never_read_the_same_spikes(built, tmp_path, populations):
    net, out, tensor, _ = built
    config = net.edited(spikes_section(["spikes.h5"], populations), "shared.yaml")
    refused(
        ["signals", config, "--kernels", tensor, "-o", tmp_path / "s.h5"],
        "spikes.populations.I",
        "reads the same spikes as population E",
        outputs=[tmp_path / "s.h5"],
        unchanged=[net.folder, out],
    )


@pytest.mark.parametrize(
    "extra,fragment",
    [
        ({"t_stop": 800.0}, "after the end of the recording (800 ms)"),
        ({}, "the spikes end at"),
    ],
    ids=["known end", "spikes stop early"],
)
def test_a_window_past_the_recording_is_refused(built, tmp_path, extra, fragment):
    net, out, tensor, _ = built
    write_spikes(net.folder / "short.h5", t_stop=600.0 if not extra else T_STOP)
    config = net.edited(spikes_section(["short.h5"], **extra), "short.yaml")
    refused(
        ["signals", config, "--kernels", tensor, "-o", tmp_path / "s.h5"],
        "signals.t_stop",
        fragment,
        outputs=[tmp_path / "s.h5"],
        unchanged=[net.folder, out],
    )


@pytest.mark.parametrize("size", [10**9, 9000])
def test_a_sample_larger_than_its_population_is_refused(built, tmp_path, size):
    net, out, tensor, _ = built
    config = net.edited(
        spikes_section(["spikes.h5"], {"E": {"simulated_size": size}, "I": {}}), "size.yaml"
    )
    refused(
        ["signals", config, "--kernels", tensor, "-o", tmp_path / "s.h5"],
        "spikes.populations.E",
        f"{size} simulated neurons",
        outputs=[tmp_path / "s.h5"],
        unchanged=[net.folder, out],
    )


def test_spikes_of_another_network_are_refused(tmp_path):
    """The SONATA file of `hpckernels network` records its network's hash."""
    from hpckernels.config import NetworkConfig
    from hpckernels.errors import InputError
    from hpckernels.inputs import network_hash
    from hpckernels.io.spikes import spike_source

    config = NetworkConfig.from_file(CONFIGS / "config.yaml")
    ours = write_spikes(tmp_path / "ours.h5", attrs={"network_hash": network_hash(config)})
    assert spike_source(config, [str(ours)]).files
    data = copy.deepcopy(config.data)
    data["network"]["seed"] += 1
    other = NetworkConfig(data, base_dir=CONFIGS, source="other")
    with pytest.raises(InputError, match="spikes of another network"):
        spike_source(other, [str(ours)])
    data["network"]["J"]["E"]["E"] *= 2
    with pytest.raises(InputError, match="network_hash differs"):
        spike_source(NetworkConfig(data, base_dir=CONFIGS, source="other"), [str(ours)])


def test_a_population_whose_node_ids_mostly_never_fire_gets_a_warning(tmp_path):
    from hpckernels.config import NetworkConfig
    from hpckernels.io.spikes import SpikeWarning, read_spike_trains, spike_source

    data = copy.deepcopy(BASE)
    path = write_spikes(tmp_path / "s.h5")
    data["spikes"] = {
        "format": "sonata",
        "files": [str(path)],
        "populations": {"E": {"node_ids": [0, 999]}, "I": {"node_ids": [0, 49]}},
    }
    config = NetworkConfig(data, base_dir=CONFIGS, source="c")
    with pytest.warns(SpikeWarning, match="only 50 of the 1000 neurons of population E"):
        read_spike_trains(config, spike_source(config), ["E", "I"])


# ------------------------------------------------------------------- 5. config values
def yaml_text_cases():
    base = (CONFIGS / "two_population.yaml").read_text()
    return {
        "top-level key twice": (
            base + "\nsimulation: {dt: 0.1, tau: 50.0, vrest: -65.0}\n",
            "key 'simulation' appears twice",
        ),
        "population twice": (
            base.replace("populations:\n", "populations:\n  I: {size: 10, rate: 1.0}\n", 1),
            "key 'I' appears twice",
        ),
    }


@pytest.mark.parametrize("case", ["top-level key twice", "population twice"])
def test_a_key_given_twice_is_refused(tmp_path, case):
    text, fragment = yaml_text_cases()[case]
    path = tmp_path / "config.yaml"
    path.write_text(text)
    refused(["validate", path], str(path), fragment)


CONFIG_VALUES = {
    "negative conductance weight": (
        set_in(["connections", 0, "synapse", "weight"], -0.0002),
        "connections[0].synapse.weight",
        "a conductance is > 0",
    ),
    "negative background weight": (
        set_in(["populations", "E", "external", "synapse", "weight"], -0.0002),
        "populations.E.external.synapse.weight",
        "a conductance is > 0",
    ),
    "negative sigma": (
        set_in(["probes", "lfp", "sigma"], -0.3),
        "probes.lfp.sigma",
        "minimum of 0",
    ),
    "point source sigma": (
        set_in(
            ["probes", "point"],
            {"type": "PointSourcePotential", "x": [0.0], "y": [0.0], "z": [0.0], "sigma": -0.3},
        ),
        "probes.point.sigma",
        "> 0",
    ),
    "eeg sigma 0": (
        set_in(
            ["probes", "eeg"],
            {
                "type": "FourSphereVolumeConductor",
                "dipole": "dipole",
                "dipole_location": [0.0, 0.0, 78000.0],
                "radii": [79000.0, 80000.0, 85000.0, 90000.0],
                "sigmas": [0.3, 0.0, 0.015, 0.3],
                "r_electrodes": [[0.0, 0.0, 89999.0]],
            },
        ),
        "probes.eeg.sigmas",
        "> 0",
    ),
    "negative anisotropic sigma": (
        set_in(
            ["probes", "electrode"],
            {
                "type": "RecExtElectrode",
                "x": [0.0],
                "y": [0.0],
                "z": [0.0],
                "sigma": [0.3, -0.3, 0.3],
            },
        ),
        "probes.electrode.sigma",
        "> 0",
    ),
    "multapse mass below 1": (
        set_in(
            ["connections", 0, "multapse"], {"distribution": "norm", "loc": -5.0, "scale": 1.0}
        ),
        "connections[0].multapse",
        "lies below 1 synapse",
    ),
    "multapse mass above 99": (
        set_in(
            ["connections", 0, "multapse"], {"distribution": "uniform", "loc": 1.0, "scale": 200.0}
        ),
        "connections[0].multapse",
        "lies above 99 synapses",
    ),
    "vrest 1e308": (set_in(["simulation", "vrest"], 1e308), "simulation.vrest", "maximum"),
    "weight 1e308": (
        set_in(["connections", 1, "synapse", "weight"], 1e308),
        "connections[1].synapse.weight",
        "maximum",
    ),
    "probe named rates": (
        lambda d: d["probes"].update(rates=d["probes"].pop("lfp")),
        "probes.rates",
        "reserved",
    ),
    "z_min above z_max": (
        lambda d: d["connections"][0]["placement"].update(z_min=500.0, z_max=100.0),
        "connections[0].placement.z_min",
        "not below placement.z_max",
    ),
    "size 1e400": (
        set_in(["populations", "E", "size"], float("inf")),
        "populations.E.size",
        "not a finite number",
    ),
}


@pytest.mark.parametrize("case", sorted(CONFIG_VALUES))
def test_config_values_are_refused(tmp_path, case):
    edit, key, fragment = CONFIG_VALUES[case]
    net = Net(tmp_path / "net", edit)
    refused(["validate", net.config], key, fragment, unchanged=[net.folder])


def test_numbers_hash_by_value_and_say_which_key_differs(tmp_path):
    """tau: 50 and tau: 50.0 are the same config; an edit names its key."""
    from hpckernels.config import NetworkConfig
    from hpckernels.inputs import pathway_hash, pathway_inputs
    from hpckernels.io.h5 import differences

    a = NetworkConfig(copy.deepcopy(BASE), base_dir=CONFIGS, source="a")
    data = copy.deepcopy(BASE)
    data["simulation"]["tau"] = int(data["simulation"]["tau"])
    data["populations"]["E"]["external"]["count"] = 450.0
    b = NetworkConfig(data, base_dir=CONFIGS, source="b")
    assert pathway_hash(a, "I", "E") == pathway_hash(b, "I", "E")
    data["connections"][2]["synapse"]["tau2"] = 9.5
    c = NetworkConfig(data, base_dir=CONFIGS, source="c")
    found = differences(pathway_inputs(a, "I", "E"), pathway_inputs(c, "I", "E"))
    assert found == ["connection.synapse.tau2: 9.0 in the file, 9.5 in the config"]


@pytest.mark.parametrize("layout", ["kernel file", "tensor"])
def test_no_output_with_non_finite_values_is_written(tmp_path, layout):
    """Whatever produced them, NaN or infinite kernels never reach a file."""
    from hpckernels.config import NetworkConfig
    from hpckernels.errors import InputError
    from hpckernels.io.kernels import write_kernel_file

    config = NetworkConfig.from_file(CONFIGS / "two_population.yaml")
    kernel = np.zeros((13, config.n_lags))
    kernel[3, 5] = np.nan if layout == "tensor" else np.inf
    out = tmp_path / "k.h5"
    with pytest.raises(InputError, match="not finite"):
        write_kernel_file(out, config, "I", "E", "mean-field", {"lfp": {"kernel": kernel}})
    assert not out.exists() and not list(tmp_path.iterdir())


# ------------------------------------------------------------------ 6. data integrity
def tamper(path, action):
    """Change an output file behind hpckernels' back (h5py, r+)."""
    with h5py.File(path, "r+") as fh:
        action(fh)


@pytest.mark.parametrize(
    "action,fragment",
    [
        (
            lambda fh: fh["lfp/kernel"].write_direct(fh["lfp/kernel"][()] * 1000),
            "data were changed",
        ),
        (lambda fh: fh.attrs.modify("pathway_hash", "0" * 64), "checksum mismatch"),
        (lambda fh: fh.attrs.modify("hpckernels_version", "0.0.1"), "checksum mismatch"),
        (lambda fh: fh.attrs.modify("hpckernels_format", 1), "layout version 1"),
        (
            lambda fh: [fh.attrs.__delitem__(k) for k in ("checksum", "hpckernels_format")],
            "has no checksum",
        ),
    ],
    ids=["data x1000", "forged hash", "another version", "another layout", "no checksum"],
)
def test_an_edited_kernel_file_is_refused(built, tmp_path, action, fragment):
    net, out, _, _ = built
    kernels = tmp_path / "kernels"
    shutil.copytree(out / "kernels", kernels)
    tamper(kernels / "E" / "I" / "lfp.h5", action)
    refused(
        ["assemble", net.config, "--kernels-dir", kernels, "-o", tmp_path / "t.h5"],
        "lfp.h5",
        fragment,
        outputs=[tmp_path / "t.h5"],
        unchanged=[net.folder, kernels],
    )


@pytest.mark.parametrize("target", ["tensor", "signals"])
def test_edited_tensors_and_signals_are_refused(built, tmp_path, target):
    net, out, tensor, signals = built
    copy_ = tmp_path / f"{target}.h5"
    shutil.copy(tensor if target == "tensor" else signals, copy_)
    dataset = "lfp/kernel" if target == "tensor" else "lfp/total"
    tamper(copy_, lambda fh: fh[dataset].write_direct(fh[dataset][()] + 1e-3))
    if target == "tensor":
        args = [
            "signals",
            net.config,
            "--kernels",
            copy_,
            "--spikes",
            net.spikes,
            "-o",
            tmp_path / "s.h5",
        ]
    else:
        args = ["plot-signals", copy_, "--output-dir", tmp_path / "figs"]
    refused(
        args, str(copy_), "data were changed", outputs=[tmp_path / "s.h5"], unchanged=[net.folder]
    )
    assert not (tmp_path / "figs").exists()


# ---------------------------------------------------- 8. hangs, crashes and tracebacks
def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for k, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[k]
        lines.append(f"{name}: &{name} [{','.join([f'*{prev}'] * 10)}]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    refused(["validate", path], str(path), "expands to more than")
    path.write_text("simulation: &s {dt: 0.1, inner: *s}\n")
    refused(["validate", path], str(path))


def tmpfs(mount, options):
    """Mount a tmpfs with ``options`` at a new folder ``mount`` (root only: the tests run
    as root here and in CI); yields the folder, unmounted after."""
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


@pytest.fixture
def tiny_disk(tmp_path):
    """A 96 KiB tmpfs: a full disk."""
    yield from tmpfs(tmp_path / "tiny", "size=96k")


@pytest.fixture
def read_only(tmp_path):
    """A read-only folder, also for root (a read-only tmpfs)."""
    yield from tmpfs(tmp_path / "ro", "ro,size=64k")


@pytest.mark.parametrize("command", ["kernel", "assemble", "signals"])
def test_a_full_disk_is_one_line(built, tiny_disk, command):
    net, out, tensor, _ = built
    output = tiny_disk / "out.h5"
    args = {
        "kernel": ["kernel", net.config, "--pre", "I", "--post", "E", "-o", output],
        "assemble": ["assemble", net.config, "--kernels-dir", out / "kernels", "-o", output],
        "signals": [
            "signals",
            net.config,
            "--kernels",
            tensor,
            "--spikes",
            net.spikes,
            "-o",
            output,
        ],
    }[command]
    result = run_cli(args)  # a process of its own: a crash of HDF5 would show as rc 139
    assert_bad(without_progress(result), str(output), "No space left on device", outputs=[output])
    assert not list(tiny_disk.iterdir())


@pytest.mark.parametrize("command", ["kernel", "plot-signals"])
def test_a_read_only_folder_is_one_line(built, read_only, command):
    net, out, _, signals = built
    if command == "kernel":
        args = ["kernel", net.config, "--pre", "I", "--post", "E", "-o", read_only / "k.h5"]
        fragment = "is not writable"
    else:
        args = ["plot-signals", signals, "--output-dir", read_only / "figures"]
        fragment = "Read-only file system"
    result = run_cli(args)
    assert_bad(without_progress(result), fragment)
    assert not list(read_only.iterdir())


def test_plot_signals_leaves_no_partial_figure_folder(built, tiny_disk):
    _, _, _, signals = built
    output = tiny_disk / "figures"
    result = run_cli(["plot-signals", signals, "--output-dir", output])
    assert_bad(without_progress(result), "No space left on device")
    assert not list(tiny_disk.iterdir())


def test_ctrl_c_is_one_line(built, tmp_path):
    net, out, tensor, _ = built
    output = tmp_path / "k.h5"
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "hpckernels"),
            "kernel",
            str(net.config),
            "--pre",
            "I",
            "--post",
            "E",
            "--mode",
            "ensemble",
            "--realizations",
            "20000",
            "-o",
            str(output),
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=hpckernels_env(),
        # a test run started in the background inherits SIGINT ignored; a user's shell
        # delivers it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.5)
        if process.poll() is not None:
            break
        process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    lines = [line for line in stderr.splitlines() if not line.startswith("[hpckernels]")]
    assert process.returncode == 130 and lines == [
        "hpckernels: interrupted (no output written)"
    ], stderr
    assert not output.exists() and not list(tmp_path.glob(".k.tmp-*"))


@pytest.mark.parametrize("name", ["x.h5", "figure"])
def test_a_figure_needs_a_figure_file_name(built, tmp_path, name):
    _, _, tensor, _ = built
    refused(
        ["plot-kernels", tensor, "--probe", "lfp", "-o", tmp_path / name],
        "-o/--output",
        ".png, .pdf, .svg",
        outputs=[tmp_path / name],
    )


@pytest.mark.parametrize(
    "args,fragment",
    [(["--mode", "bogus"], "invalid choice"), (["--realizations", "x"], "expected an integer")],
)
def test_a_bad_option_value_is_one_line(built, tmp_path, args, fragment):
    net, _, _, _ = built
    refused(
        ["kernel", net.config, "--pre", "I", "--post", "E", *args, "-o", tmp_path / "k.h5"],
        fragment,
        outputs=[tmp_path / "k.h5"],
    )


# ------------------------------------------------------------------ 9. resource guards
def test_work_beyond_the_budget_is_refused_up_front(built, tmp_path, monkeypatch):
    net, _, _, _ = built
    out = tmp_path / "k.h5"
    refused(
        [
            "kernel",
            net.config,
            "--pre",
            "I",
            "--post",
            "E",
            "--mode",
            "ensemble",
            "--realizations",
            str(10**15),
            "-o",
            out,
        ],
        "ensemble.realizations",
        "core-hours",
        outputs=[out],
    )
    monkeypatch.setenv("HPCKERNELS_MAX_CORE_HOURS", "1e-6")
    refused(
        ["kernel", net.config, "--pre", "I", "--post", "E", "-o", out],
        "simulation.dt",
        "HPCKERNELS_MAX_CORE_HOURS",
        outputs=[out],
    )


@pytest.mark.parametrize(
    "edit,args,key",
    [
        (set_in(["simulation", "dt"], 1e-6), [], "simulation.dt"),
        (
            lambda d: (
                d["populations"]["E"].update(size=10**10),
                d["connections"][2].update(probability=1.0),
            ),
            ["--mode", "ensemble", "--realizations", "2"],
            "populations.E.size",
        ),
    ],
    ids=["tiny dt", "huge population ensemble"],
)
def test_memory_beyond_the_machine_is_refused_up_front(tmp_path, edit, args, key):
    net = Net(tmp_path / "net", edit)
    out = tmp_path / "k.h5"
    refused(
        ["kernel", net.config, "--pre", "I", "--post", "E", *args, "-o", out],
        key,
        "of memory",
        outputs=[out],
        unchanged=[net.folder],
    )


def test_signals_beyond_memory_or_disk_are_refused(built, tmp_path):
    net, out, tensor, _ = built
    lay = h5py.VirtualLayout(shape=(2 * 10**10,), dtype="f8")  # 149 GiB claimed
    with h5py.File(net.folder / "virtual.h5", "w") as fh:
        fh.create_virtual_dataset("E", lay, fillvalue=0.0)
        fh["I"] = np.arange(10.0)
    section = {
        "format": "hdf5",
        "files": ["virtual.h5"],
        "populations": {"E": {"dataset": "E"}, "I": {"dataset": "I"}},
    }
    config = net.edited(set_in(["spikes"], section), "virtual.yaml")
    refused(
        ["signals", config, "--kernels", tensor, "-o", tmp_path / "s.h5"],
        "virtual.h5:/E",
        "of memory",
        outputs=[tmp_path / "s.h5"],
        unchanged=[net.folder],
    )
    config = net.edited(set_in(["signals"], {"t_stop": T_STOP, "chunk_size": 10**13}), "c.yaml")
    refused(
        ["signals", config, "--kernels", tensor, "--spikes", net.spikes, "-o", tmp_path / "s.h5"],
        "signals.chunk_size",
        "of memory",
        outputs=[tmp_path / "s.h5"],
        unchanged=[net.folder],
    )
    long = 1e12
    config = net.edited(
        lambda d: (
            d.update(signals={"t_stop": long}),
            d.update(
                spikes={
                    "format": "sonata",
                    "files": ["spikes.h5"],
                    "populations": {"E": {}, "I": {}},
                    "t_stop": long,
                }
            ),
        ),
        "long.yaml",
    )
    refused(
        ["signals", config, "--kernels", tensor, "-o", tmp_path / "s.h5"],
        "not enough free disk space",
        outputs=[tmp_path / "s.h5"],
        unchanged=[net.folder],
    )


# ---------------------------------------------------------- 10. multi-file outputs as a set
def test_a_kernel_set_is_complete_or_absent(tmp_path, monkeypatch):
    """--output-dir writes a pathway's probe files as a set: a failure while writing the
    second leaves neither."""
    from hpckernels.config import NetworkConfig
    from hpckernels.io import kernels as io_kernels

    config = NetworkConfig.from_file(CONFIGS / "two_population.yaml")
    results = {
        "lfp": {"kernel": np.zeros((13, config.n_lags))},
        "dipole": {"kernel": np.zeros((3, config.n_lags))},
    }
    write = io_kernels.write_kernel_file
    calls = []

    def second_fails(path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return write(path, *args, **kwargs)

    monkeypatch.setattr(io_kernels, "write_kernel_file", second_fails)
    folder = tmp_path / "set"
    with pytest.raises(KeyboardInterrupt):
        io_kernels.write_kernel_set(folder, config, "I", "E", "mean-field", results)
    assert list(folder.iterdir()) == []
    monkeypatch.setattr(io_kernels, "write_kernel_file", write)
    io_kernels.write_kernel_set(folder, config, "I", "E", "mean-field", results)
    assert sorted(p.name for p in folder.iterdir()) == ["dipole.h5", "lfp.h5"]
