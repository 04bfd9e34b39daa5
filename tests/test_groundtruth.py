"""Ground truth (detailed population), its provenance, the linearized reconstruction and
hybrid-scheme kernels: re-simulation with plain LFPy, MPI bit-identity, small-input
limits, exact limits of the error prediction."""

import copy
import json

import h5py
import numpy as np
import pytest
import yaml
from conftest import CONFIGS, run_cli

from hpckernels.io import h5 as io_h5
from hpckernels.io import kernels as io_kernels
from hpckernels.io.spikes import SpikeTrains

BASE = yaml.safe_load((CONFIGS / "two_population.yaml").read_text())
DT = 2.0**-4
#: Signal window (ms) of the test configs: short runs keep the tests lean.
WINDOW = {"t_start": 60.0, "t_stop": 160.0, "pathways": False}


def absolute_paths(data):
    for population in data["populations"].values():
        cell = population.get("cell")
        if cell:
            cell["template"]["file"] = str(CONFIGS / cell["template"]["file"])
            cell["morphology"] = str(CONFIGS / cell["morphology"])
    return data


def write_sonata(path, populations, t_stop, seed=5):
    """Poisson spikes on the dt grid: {name: (neurons, rate)} -> SONATA file."""
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as fh:
        for name, (n, rate) in populations.items():
            steps = rng.integers(0, int(t_stop / DT), size=rng.poisson(n * rate * t_stop / 1e3))
            ids = rng.integers(0, n, size=steps.size)
            order = np.argsort(steps, kind="stable")
            group = fh.create_group(f"spikes/{name}")
            group.attrs["simulated_size"] = n
            group.create_dataset("timestamps", data=steps[order] * DT).attrs["units"] = "ms"
            group.create_dataset("node_ids", data=ids[order].astype(np.uint64))
    return path


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    """The paper's E/I network with a 100 ms window and spikes of 400 E and 100 I neurons."""
    folder = tmp_path_factory.mktemp("gt")
    data = absolute_paths(copy.deepcopy(BASE))
    data["signals"] = dict(WINDOW)
    data["groundtruth"] = {"cells_per_population": 4, "seed": 3, "warmup": 50.0}
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump(data))
    spikes = write_sonata(folder / "spikes.h5", {"E": (400, 20.0), "I": (100, 40.0)}, 200.0)
    return folder, config, spikes


def groundtruth(config, spikes, out, *extra, ranks=None):
    """``hpckernels groundtruth``: under mpiexec with ``ranks``, else in this process (the
    command as the CLI runs it, without the start-up of a new interpreter)."""
    argv = ["groundtruth", str(config), "--spikes", str(spikes), "-o", str(out), *map(str, extra)]
    if ranks is not None:
        result = run_cli(argv, ranks=ranks, timeout=600)
        assert result.returncode == 0, result.stderr
        return out
    from hpckernels import cli

    with pytest.raises(SystemExit) as done:
        cli.main(argv)
    assert done.value.code == 0
    return out


def resimulate_with_plain_lfpy(out, config, spikes, membrane, start=None):
    """Every cell of a ground truth written with ``--cells``, rebuilt with LFPy alone
    from the cell table, its synapses from the synapse table (driven by the spike file and
    the stored background trains): {row: (lfp, dipole, somatic potential)} on the file's
    time axis, with the stored per-cell signals ``stored``.

    ``membrane(cell, spec)`` inserts population ``spec``'s mechanisms (an LFPy
    custom_fun); ``start(post)``, if given, is the membrane potential (mV) per segment
    the cells of ``post`` start from (the operating point: an FInitializeHandler sets it
    before the mechanisms' INITIAL blocks)."""
    import LFPy
    import lfpykit
    from neuron import h

    data = yaml.safe_load(config.read_text())
    with h5py.File(out) as fh:
        attrs = dict(fh.attrs)
        cells = {k: fh["cells"][k][()] for k in ("index", "x", "y", "z", "rotation")}
        populations = [p.decode() if isinstance(p, bytes) else p for p in fh["cells/population"]]
        table = {k: fh["synapses"][k][()] for k in ("cell", "segment", "kind", "pre_id")}
        table.update({k: fh["synapses"][k][()] for k in ("weight", "delay")})
        offsets, bg_times = fh["background/offsets"][()], fh["background/times"][()]
        stored = {p: fh[p]["cells"][()] for p in ("lfp", "dipole")}
        z_contacts = fh["lfp/channel"][()]
    t_start = attrs["t_start"]
    t_begin = t_start - attrs["warmup_ms"]
    n_bins = stored["lfp"].shape[-1]
    skip = int(round((t_start - t_begin) / DT))
    with h5py.File(spikes) as fh:
        trains = {
            p: (fh[f"spikes/{p}/node_ids"][()], fh[f"spikes/{p}/timestamps"][()]) for p in "EI"
        }
    kinds = json.loads(attrs["synapse_kinds"])
    background_row = np.cumsum(table["kind"] == -1) - 1
    results = {}
    for row, post in enumerate(populations):
        spec = data["populations"][post]
        cell = LFPy.TemplateCell(
            templatefile=spec["cell"]["template"]["file"],
            templatename=spec["cell"]["template"]["name"],
            morphology=spec["cell"]["morphology"],
            v_init=data["simulation"]["vrest"],
            dt=DT,
            tstart=0.0,
            tstop=attrs["t_stop"] - t_begin,
            celsius=spec["cell"]["biophysics"].get("celsius", 6.3),
            delete_sections=True,
            custom_fun=[membrane],
            custom_fun_args=[{"spec": spec}],
        )
        handler = None
        if start is not None:
            values = start(post)
            segments = [seg for sec in cell.allseclist for seg in sec]

            def set_start(segments=segments, values=values):
                for seg, value in zip(segments, values, strict=True):
                    seg.v = value

            handler = h.FInitializeHandler(0, set_start)
        cell.set_rotation(x=spec["rotation"]["x"], y=spec["rotation"]["y"])
        cell.set_pos(z=spec["position"]["loc"])
        cell.set_rotation(z=cells["rotation"][row, 2])
        cell.set_pos(cells["x"][row], cells["y"][row], cells["z"][row])
        for r in np.flatnonzero(table["cell"] == row):
            kind = int(table["kind"][r])
            if kind == -1:
                b = background_row[r]
                times = bg_times[offsets[b] : offsets[b + 1]]
                synapse = spec["external"]["synapse"]
            else:
                connection = data["connections"][kind]
                assert kinds[str(kind)] == f"{connection['pre']}->{post}"
                ids, stamps = trains[connection["pre"]]
                times = stamps[ids == table["pre_id"][r]] + table["delay"][r]
                synapse = connection["synapse"]
            times = times[(times >= t_begin) & (times < attrs["t_stop"])] - t_begin
            syn = LFPy.Synapse(
                cell,
                idx=int(table["segment"][r]),
                syntype="Exp2Syn",
                weight=table["weight"][r],
                e=synapse["e"],
                tau1=synapse["tau1"],
                tau2=synapse["tau2"],
            )
            syn.set_spike_times(np.sort(times))
        zeros = np.zeros(z_contacts.size)
        lfp = lfpykit.LineSourcePotential(cell, x=zeros, y=zeros, z=z_contacts, sigma=0.3)
        dipole = lfpykit.CurrentDipoleMoment(cell)
        cell.simulate(probes=[lfp, dipole])
        window = slice(skip, skip + n_bins)
        results[row] = {
            "population": post,
            "index": int(cells["index"][row]),
            "lfp": (lfp.data[:, window], stored["lfp"][row]),
            "dipole": (dipole.data[:, window], stored["dipole"][row]),
            "somav": np.array(cell.somav),
        }
        del handler
        cell.strip_hoc_objects()
    return results


def assert_resimulated(results):
    """The per-cell signals of the file equal the plain-LFPy ones to 1e-9 of their range."""
    for row, result in results.items():
        for name in ("lfp", "dipole"):
            expected, got = result[name]
            scale = np.abs(expected).max()
            assert scale > 0
            assert np.abs(got - expected).max() <= 1e-9 * scale, (row, name)


def passive_membrane(cell, spec, e_pas):
    for sec in cell.allseclist:
        sec.insert("pas")
        sec.g_pas = spec["cell"]["biophysics"]["g_pas"]
        sec.e_pas = e_pas


@pytest.mark.unit
def test_three_cells_resimulated_with_plain_lfpy(network, mechanisms_loaded):
    """Cells rebuilt from the cell table, their synapses from the synapse table (driven by
    the spike file and the stored background trains) with LFPy alone give the per-cell
    signals of the file."""
    folder, config, spikes = network
    out = groundtruth(config, spikes, folder / "cells.h5", "--cells", "E:0", "E:2", "I:1")
    e_pas = yaml.safe_load(config.read_text())["simulation"]["vrest"]
    results = resimulate_with_plain_lfpy(
        out, config, spikes, lambda cell, spec: passive_membrane(cell, spec, e_pas)
    )
    assert [(r["population"], r["index"]) for r in results.values()] == [
        ("E", 0),
        ("E", 2),
        ("I", 1),
    ]
    assert_resimulated(results)


def assert_same_files(outputs):
    """Every dataset of the ground-truth files is the same, byte for byte."""
    with h5py.File(outputs[0]) as first:
        names = []
        first.visititems(
            lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None
        )
        assert "lfp/total" in names and "synapses/pre_id" in names
        for path in outputs[1:]:
            with h5py.File(path) as other:
                for name in names:
                    a, b = first[name][()], other[name][()]
                    assert a.dtype == b.dtype and a.shape == b.shape, name
                    if a.dtype.kind == "O":
                        assert list(a) == list(b), name
                    else:
                        assert a.tobytes() == b.tobytes(), (path.name, name)
        assert np.abs(first["lfp/total"][()]).max() > 0


@pytest.mark.slow
@pytest.mark.mpi
def test_bit_identical_for_1_2_3_ranks(network, tmp_path):
    folder, config, spikes = network
    # 3 + 3 cells: 2 blocks, one rank without work at 3 ranks
    # 1 rank: in this process (as mpiexec -n 1 runs it); 2 and 3 ranks under mpiexec
    outputs = [
        groundtruth(
            config,
            spikes,
            tmp_path / f"gt{n}.h5",
            "--cells-per-population",
            3,
            ranks=n if n > 1 else None,
        )
        for n in (1, 2, 3)
    ]
    assert_same_files(outputs)


@pytest.mark.unit
def test_tiny_weights_conductance_equals_linearized(network, tmp_path):
    """With every weight scaled by 1e-7 and spikes at the configured rates, conductance-
    based synapses (no leak) and their linearization (with the g_eff leak, from those
    rates) give the same signals to 1e-6 of the range: what remains is second order."""
    spikes = write_sonata(tmp_path / "rates.h5", {"E": (400, 2.3), "I": (100, 4.9)}, 200.0)
    data = absolute_paths(copy.deepcopy(BASE))
    data["signals"] = dict(WINDOW)
    data["groundtruth"] = {"cells_per_population": 2, "seed": 3, "warmup": 50.0}
    for connection in data["connections"]:
        connection["synapse"]["weight"] *= 1e-7
    for population in data["populations"].values():
        population["external"]["synapse"]["weight"] *= 1e-7
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(data))
    cond = groundtruth(config, spikes, tmp_path / "cond.h5")
    lin = groundtruth(config, spikes, tmp_path / "lin.h5", "--linearized")
    with h5py.File(cond) as a, h5py.File(lin) as b:
        assert a.attrs["mode"] == "conductance" and b.attrs["mode"] == "linearized"
        for probe in ("lfp", "dipole"):
            x, y = a[probe]["total"][()], b[probe]["total"][()]
            span = x.max(axis=1) - x.min(axis=1)
            active = span > 1e-6 * span.max()
            assert active.any()
            worst = (np.abs(x - y).max(axis=1)[active] / span[active]).max()
            print(f"{probe}: max |conductance - linearized| / range = {worst:.2e}")
            assert worst <= 1e-6, probe


def identical_kernel_config(tmp_path):
    """Every neuron of X connects once to every cell of Y, on the soma, with one delay:
    all single-neuron kernels are the same."""
    data = absolute_paths(copy.deepcopy(BASE))
    cell_E = data["populations"]["E"]
    data["populations"] = {
        "X": {"size": 20, "rate": 10.0},
        "Y": {k: cell_E[k] for k in ("cell", "position", "rotation")} | {"size": 6, "rate": 1.0},
    }
    data["connections"] = [
        {
            "pre": "X",
            "post": "Y",
            "probability": 1.0,
            "multapse": {"distribution": "randint", "low": 1, "high": 2},
            "delay": {"distribution": "uniform", "loc": 1.0, "scale": 1e-6},
            # fast synapse: the response has died out by tau (kernels end there)
            "synapse": data["connections"][0]["synapse"],
            "placement": {
                "sections": ["soma"],
                "densities": [{"distribution": "norm", "loc": 0.0, "scale": 100.0}],
            },
        }
    ]
    data["signals"] = dict(WINDOW)
    data["groundtruth"] = {"seed": 1, "warmup": 50.0}
    config = tmp_path / "identical.yaml"
    config.write_text(yaml.safe_dump(data))
    spikes = write_sonata(
        tmp_path / "x_spikes.h5", {"X": (20, 30.0), "Y": (6, 1.0)}, 200.0, seed=9
    )
    return config, spikes


@pytest.mark.unit
def test_identical_single_neuron_kernels_give_zero_error(tmp_path, mechanisms_loaded):
    """Predicted and measured E_rel of the population-mean-kernel prediction are 0 when all
    single-neuron kernels are equal (and for P_z the kernel method itself is exact)."""
    from conftest import load

    from hpckernels.engines import get_engine
    from hpckernels.steps.errorbars import predict_error_file
    from hpckernels.validation import groundtruth as gt

    path, spikes = identical_kernel_config(tmp_path)
    config = load(path)
    files = {}
    for name, kernel in get_engine().mean_field_kernels(config, "X", "Y", log=None).items():
        files[("X", "Y", name)] = tmp_path / f"{name}.h5"
        io_kernels.write_kernel_file(
            files[("X", "Y", name)], config, "X", "Y", "mean-field", {name: {"kernel": kernel}}
        )
    tensor = tmp_path / "tensor.h5"
    io_kernels.write_tensor(tensor, config, "mean-field", files)
    error = tmp_path / "error.h5"
    settings = gt.settings_from_config(config, linearized=True)
    predict_error_file(config, settings, tensor, [str(spikes)], error, log=None)
    lin = groundtruth(path, spikes, tmp_path / "lin.h5", "--linearized")
    with h5py.File(error) as e, h5py.File(lin) as g:
        for probe in ("lfp", "dipole"):
            measured = g[probe]["total"][()]
            predicted = e[probe]["total"][()]
            active = measured.std(axis=1) > 1e-9 * measured.std(axis=1).max()
            e_meas = (measured - predicted)[active].std(axis=1) / measured[active].std(axis=1)
            assert np.all(e_meas < 1e-6), (probe, e_meas)
            assert np.all(e[probe]["e_rel_mean_kernel"][()][active] < 1e-6)
        # P_z: the kernel method is exact here too (soma input, translation-invariant P_z)
        assert e["dipole"]["e_rel"][()][2] < 1e-6


def poisson_trains(rng, n, rate, n_bins, dt):
    """SpikeTrains of n independent Poisson neurons on the dt grid."""
    counts = rng.poisson(rate * dt / 1000.0, size=(n, n_bins))
    senders, steps = np.nonzero(counts)
    reps = counts[senders, steps]
    return SpikeTrains.from_spikes(
        np.arange(n), np.repeat(senders, reps), np.repeat(steps, reps) * dt, "test"
    )


def mip_trains(rng, n, rate, correlation, n_bins, dt):
    """Multiple interaction process (Kuhn et al. 2003): every neuron copies each spike of
    a mother Poisson train of rate rate / c with probability c (pairwise correlation c)."""
    mother = np.flatnonzero(rng.random(n_bins) < rate / correlation * dt / 1000.0)
    keep = rng.random((n, mother.size)) < correlation
    senders, which = np.nonzero(keep)
    return SpikeTrains.from_spikes(np.arange(n), senders, mother[which] * dt, "test")


@pytest.mark.unit
def test_error_prediction_against_monte_carlo():
    """phi = sum_i s_i * k_i + background with random single-neuron kernels and MIP
    spike trains: the mean measured Var(e), Var(phi) and E_rel over independent draws
    match the prediction from kernel statistics and spike statistics."""
    from hpckernels.binning import bin_index
    from hpckernels.validation import error_theory

    rng = np.random.default_rng(12)
    dt, n_bins, L = 0.5, 40000, 60
    lags = np.arange(L) * dt
    g1 = np.exp(-lags / 3.0) - np.exp(-lags / 0.5)  # two shapes per channel
    g2 = np.sin(lags / 4.0) * np.exp(-lags / 8.0)
    mean = np.array([[g1, 0.3 * g1], [0.5 * g2, g1 + g2]])  # (pop, channel, lag)
    model = mean + np.array([[0.2 * g2, 0 * g1], [0 * g1, -0.3 * g1]])  # K != kbar
    sa, sb = 0.8, 1.5  # std of the amplitudes of g1 and g2 in delta_i
    n_lags = L - 1
    deviation = np.stack(
        [
            sa**2 * error_theory.xcorr(np.stack([g1, g1]), np.stack([g1, g1]), n_lags)
            + sb**2 * error_theory.xcorr(np.stack([g2, 2 * g2]), np.stack([g2, 2 * g2]), n_lags)
        ]
        * 2
    )
    bg_kernel, bg_rate, n_bg = np.stack([g2, g1]), 50.0, 30
    background = n_bg * bg_rate * dt / 1000.0 * (bg_kernel**2).sum(axis=1)
    sizes = (40, 25)
    measured = {"error": [], "signal": [], "e_rel": []}
    predicted = []
    for _ in range(12):
        trains = {
            "A": mip_trains(rng, sizes[0], 20.0, 0.1, n_bins, dt),
            "B": poisson_trains(rng, sizes[1], 30.0, n_bins, dt),
        }
        stats = error_theory.spike_statistics(trains, ["A", "B"], 0.0, n_bins * dt, dt, n_lags)
        predicted.append(error_theory.predict_error(mean, model, deviation, background, stats))
        phi = np.zeros((2, n_bins + L - 1))
        phi_hat = np.zeros_like(phi)
        for x, name in enumerate(("A", "B")):
            pool = trains[name]
            total = np.zeros(n_bins)
            for k in range(pool.size):
                counts = np.bincount(
                    bin_index(pool.train(k), 0.0, dt).astype(int), minlength=n_bins
                )
                total += counts
                kernel = (
                    mean[x]
                    + rng.normal(0, sa) * np.stack([g1, g1])
                    + rng.normal(0, sb) * np.stack([g2, 2 * g2])
                )
                for c in range(2):
                    phi[c] += np.convolve(counts, kernel[c])
            for c in range(2):
                phi_hat[c] += np.convolve(total, model[x, c])
        for _ in range(n_bg):
            counts = rng.poisson(bg_rate * dt / 1000.0, size=n_bins)
            for c in range(2):
                phi[c] += np.convolve(counts, bg_kernel[c])
        # the window: bins whose history is complete
        phi, phi_hat = phi[:, L:n_bins], phi_hat[:, L:n_bins]
        e = phi - phi_hat
        measured["error"].append(e.var(axis=1))
        measured["signal"].append(phi.var(axis=1))
        measured["e_rel"].append(e.std(axis=1) / phi.std(axis=1))
    mean_error = np.mean(measured["error"], axis=0)
    mean_signal = np.mean(measured["signal"], axis=0)
    p_error = np.mean([p.error for p in predicted], axis=0)
    p_signal = np.mean([p.signal for p in predicted], axis=0)
    p_e_rel = np.mean([p.e_rel for p in predicted], axis=0)
    print(f"Var e predicted {p_error}, measured {mean_error}")
    print(f"Var phi predicted {p_signal}, measured {mean_signal}")
    # standard errors of the means over 12 draws are ~4 %
    assert np.allclose(p_error, mean_error, rtol=0.12), (p_error, mean_error)
    assert np.allclose(p_signal, mean_signal, rtol=0.12), (p_signal, mean_signal)
    assert np.allclose(p_e_rel, np.mean(measured["e_rel"], axis=0), rtol=0.08)
    # the correlated population matters: its count variance is many times the Poisson one
    assert predicted[0].shared.min() > 0 and stats.synchrony()[0] > 2


@pytest.mark.unit
def test_groundtruth_bad_inputs(network, tmp_path):
    folder, config, spikes = network
    result = run_cli(
        ["groundtruth", config, "--spikes", spikes, "-o", tmp_path / "o.h5", "--cells", "E:9"]
    )
    assert result.returncode == 2 and "--cells" in result.stderr, result.stderr
    assert not (tmp_path / "o.h5").exists()
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as fh:
        fh["E"], fh["I"] = np.arange(3.0), np.arange(3.0)
    data = yaml.safe_load(config.read_text())
    data["spikes"] = {"format": "hdf5", "files": [str(plain)], "populations": {"E": {}, "I": {}}}
    other = tmp_path / "plain.yaml"
    other.write_text(yaml.safe_dump(data))
    result = run_cli(["groundtruth", other, "-o", tmp_path / "o.h5"])
    assert result.returncode == 2 and "spikes.format" in result.stderr
    assert not (tmp_path / "o.h5").exists()


@pytest.mark.unit
def test_compare_writes_metrics_and_figures(network, tmp_path, mechanisms_loaded):
    """compare: metrics of a mean-field prediction and of the population's mean kernels
    against the ground truth and the linearized reconstruction, the predicted E_rel next
    to them, the metrics against all cells (not for the linearized reconstruction, which
    has the ground truth's cells), the summary tables, the figures; a ground truth of
    other settings is refused."""
    from conftest import load

    from hpckernels.engines import get_engine
    from hpckernels.steps.errorbars import predict_error_file
    from hpckernels.steps.predict import predict_signals
    from hpckernels.validation import groundtruth as gt

    folder, path, spikes = network
    config = load(path)
    files = {}
    for pathway in config.pathways():
        for name, kernel in (
            get_engine().mean_field_kernels(config, pathway.pre, pathway.post, log=None).items()
        ):
            files[(pathway.pre, pathway.post, name)] = (
                tmp_path / f"{pathway.pre}{pathway.post}_{name}.h5"
            )
            io_kernels.write_kernel_file(
                files[(pathway.pre, pathway.post, name)],
                config,
                pathway.pre,
                pathway.post,
                "mean-field",
                {name: {"kernel": kernel}},
            )
    tensor = tmp_path / "tensor.h5"
    io_kernels.write_tensor(tensor, config, "mean-field", files)
    signals = tmp_path / "signals.h5"
    predict_signals(config, tensor, [str(spikes)], signals, log=None)
    error = tmp_path / "error.h5"
    predict_error_file(
        config,
        gt.settings_from_config(config, linearized=True),
        tensor,
        [str(spikes)],
        error,
        log=None,
    )
    cond = groundtruth(path, spikes, tmp_path / "cond.h5")
    lin = groundtruth(path, spikes, tmp_path / "lin.h5", "--linearized")
    out, figures, summary = tmp_path / "validation.h5", tmp_path / "figures", tmp_path / "s.md"
    from hpckernels import cli

    with pytest.raises(SystemExit) as done:  # in this process: no interpreter start-up
        cli.main(
            ["compare", str(path), "--groundtruth", str(cond), "--linearized", str(lin)]
            + ["--prediction", f"mean-field={signals}", "--predicted-error", str(error)]
            + ["-o", str(out), "--figures", str(figures), "--summary", str(summary)]
        )
    assert done.value.code == 0
    with h5py.File(out) as fh:
        assert fh.attrs["e_rel_predicted_for"] == "mean-field"
        lfp = fh["lfp"]
        names = [io_h5.text(n) for n in lfp["prediction"][()]]
        assert names == ["linearized reconstruction", "mean-field", "population mean kernels"]
        r2 = lfp["r2"][()]  # (reference, prediction, filter, channel)
        assert np.all((r2[0] >= 0) & (r2[0] <= 1))
        assert np.all(np.isnan(r2[1, 0]))  # the linearized reconstruction against itself
        assert np.all(np.isfinite(lfp["e_rel_predicted"][()]))
        assert lfp["coherence"].shape[-1] == lfp["frequency"].size and lfp["frequency"][-1] <= 500
        assert fh["dipole"]["xcorr_z"].shape[-1] == 2 * int(20 / DT) + 1
        full = lfp["e_rel_full"][()]  # (reference, prediction, channel)
        assert full.shape == lfp["e_rel"].shape[:2] + lfp["channel"].shape
        assert np.all(np.isnan(full[:, 0]))
        # the sample's excess is variance taken from Var(pred - gt) and Var gt alike:
        # against all cells E_rel moves away from 1 (4 of 8192 cells are mostly that
        # excess: NaN where none of the variance is left)
        known = np.isfinite(full[0, 1])
        raw = lfp["e_rel"][0, 1, 0][known]
        assert known.any()
        assert np.all((full[0, 1][known] - raw) * (raw - 1.0) >= 0)
    text = summary.read_text()
    assert "## lfp (" in text and "| mean-field | " in text and "| mean-field (z) | " in text
    assert {p.name for p in figures.glob("*.png")} >= {
        "traces_lfp.png",
        "metrics_lfp.png",
        "coherence_lfp.png",
        "xcorr_dipole.png",
        "error_prediction_lfp.png",
    }
    # another groundtruth.seed: another detailed population
    data = yaml.safe_load(path.read_text())
    data["groundtruth"]["seed"] = 4
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(data))
    result = run_cli(
        [
            "compare",
            other,
            "--groundtruth",
            cond,
            "--prediction",
            f"mf={signals}",
            "-o",
            tmp_path / "x.h5",
        ]
    )
    assert result.returncode == 2 and "cond.h5" in result.stderr and "groundtruth" in result.stderr
    assert not (tmp_path / "x.h5").exists()


@pytest.mark.unit
def test_spike_trains_per_neuron(tmp_path):
    """read_spike_trains: NEST 3 ASCII (node-id ranges) and SONATA give each simulated
    neuron its own train, neurons without spikes included."""
    from conftest import load

    from hpckernels.io import spikes

    dat = tmp_path / "spikes-9-0.dat"
    dat.write_text(
        "# NEST version: 3.8\n# RecordingBackendASCII version: 2\nsender\ttime_ms\n"
        "3\t1.5\n1\t0.5\n3\t0.25\n5\t2.0\n4\t9.0\n"
    )
    data = absolute_paths(copy.deepcopy(BASE))
    data["signals"] = dict(WINDOW)
    data["spikes"] = {
        "format": "nest_ascii",
        "files": [str(dat)],
        "populations": {"E": {"node_ids": [1, 3]}, "I": {"node_ids": [4, 6]}},
    }
    config = tmp_path / "nest.yaml"
    config.write_text(yaml.safe_dump(data))
    cfg = load(config)
    trains = spikes.read_spike_trains(cfg, spikes.spike_source(cfg), ["E", "I"])
    assert list(trains["E"].node_ids) == [1, 2, 3] and list(trains["I"].node_ids) == [4, 5, 6]
    assert list(trains["E"].train(0)) == [0.5] and trains["E"].train(1).size == 0
    assert list(trains["E"].train(2)) == [0.25, 1.5]
    assert list(trains["I"].train(0)) == [9.0] and list(trains["I"].train(1)) == [2.0]
    sonata = write_sonata(tmp_path / "s.h5", {"E": (7, 200.0), "I": (3, 100.0)}, 50.0)
    del data["spikes"]
    config.write_text(yaml.safe_dump(data))
    cfg = load(config)
    trains = spikes.read_spike_trains(cfg, spikes.spike_source(cfg, [str(sonata)]), ["E", "I"])
    with h5py.File(sonata) as fh:
        ids, stamps = fh["spikes/E/node_ids"][()], fh["spikes/E/timestamps"][()]
    assert trains["E"].size == 7 and trains["I"].size == 3
    for k in range(7):
        assert np.array_equal(trains["E"].train(k), np.sort(stamps[ids == k]))


#: Population E of the E/I network with Hodgkin-Huxley channels in every section, at
#: NEURON's default temperature (given: NEURON's celsius is one setting per process,
#: and other tests' cells run at 34 degC).
HH = {
    "type": "active",
    "linearization": "frozen",
    "celsius": 6.3,
    "sections": [{"sections": ["all"], "mechanisms": {"hh": {}}}],
}


@pytest.fixture(scope="module")
def active_network(tmp_path_factory):
    """The network fixture's config with active (hh) E cells, driven hard enough to fire."""
    folder = tmp_path_factory.mktemp("active_gt")
    data = absolute_paths(copy.deepcopy(BASE))
    data["populations"]["E"]["cell"]["biophysics"] = copy.deepcopy(HH)
    data["signals"] = dict(WINDOW)
    data["groundtruth"] = {"cells_per_population": {"E": 3, "I": 2}, "seed": 3, "warmup": 50.0}
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump(data))
    spikes = write_sonata(folder / "spikes.h5", {"E": (400, 100.0), "I": (100, 10.0)}, 200.0)
    return folder, config, spikes


def hh_membrane(cell, spec):
    for sec in cell.allseclist:
        sec.insert("hh")


@pytest.mark.slow
@pytest.mark.unit
def test_active_cells_fire_and_are_resimulated_with_plain_lfpy(active_network, mechanisms_loaded):
    """An active population's ground truth is the model itself (hh channels, conductance-
    based synapses, spiking allowed, started at its operating point): its cells fire, and
    LFPy alone, from the cell and synapse tables and that starting potential, gives the
    per-cell signals of the file to 1e-9."""
    from hpckernels import cell as cellmod
    from hpckernels.config import NetworkConfig

    folder, config, spikes = active_network
    out = groundtruth(config, spikes, folder / "cells.h5", "--cells", "E:0", "E:1", "I:0")
    network = NetworkConfig.from_file(config)
    results = resimulate_with_plain_lfpy(
        out,
        config,
        spikes,
        lambda cell, spec: (
            hh_membrane(cell, spec)
            if spec["cell"]["biophysics"]["type"] == "active"
            else passive_membrane(cell, spec, network.simulation["vrest"])
        ),
        start=lambda post: cellmod.operating_point(network, post),
    )
    assert_resimulated(results)
    spikes_fired = {
        row: int(np.sum((r["somav"][1:] >= 0.0) & (r["somav"][:-1] < 0.0)))
        for row, r in results.items()
        if r["population"] == "E"
    }
    print("somatic spikes of the E cells:", spikes_fired)
    assert all(count > 0 for count in spikes_fired.values()), spikes_fired
    # the file counts them (in the window) and compare warns of them, scaled by N/M
    from hpckernels.io.validation import read_soma_spikes
    from hpckernels.steps.compare import SampledSpikesWarning, warn_sampled_spikes

    with h5py.File(out) as fh:
        stored = fh["cells/soma_spikes"][()]
        attrs = dict(fh.attrs)
        skip = int(round(attrs["warmup_ms"] / DT))
        n_bins = fh["lfp/cells"].shape[-1]
    for row, result in results.items():
        above = result["somav"][skip : skip + n_bins] >= 0.0
        assert stored[row] == np.sum(above[1:] & ~above[:-1]), row
    assert read_soma_spikes(out)["E"] == stored[:2].sum() > 0
    with pytest.warns(SampledSpikesWarning, match=r"E \d+ \(x 2730.67\)"):
        warn_sampled_spikes(out, attrs)


@pytest.mark.slow
@pytest.mark.mpi
def test_active_bit_identical_for_1_2_3_ranks(active_network, tmp_path):
    """The active ground truth is the same file at 1, 2 and 3 ranks (5 cells in 2 blocks:
    one rank without work at 3)."""
    folder, config, spikes = active_network
    outputs = [
        groundtruth(config, spikes, tmp_path / f"gt{n}.h5", ranks=n if n > 1 else None)
        for n in (1, 2, 3)
    ]
    assert_same_files(outputs)
