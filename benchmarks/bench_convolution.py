"""convolution_throughput and convolution_memory: spike counts through kernel tensors with
hpckernels.convolution (chunked overlap-add FFT)."""

from __future__ import annotations

import time

from harness import (
    benchmark,
    fmt_s,
    pass_fail,
    rel_diff,
    repeat_timed,
    run_worker,
    summary_row,
    target_spec,
    worker,
)

ORDER = 40  # position in the run order and the tables (harness docstring)
#: Network of config/config.yaml: populations, sizes and mean rates (spikes/s).
CONV_POPULATIONS = {"E": (8192, 2.3), "I": (1024, 4.9)}
#: Channels of the probes lfp (GaussCylinderPotential), dipole and eeg (5 electrodes).
CONV_CHANNELS = {"lfp": 13, "dipole": 3, "eeg": 5}
CONV_DT = 1 / 16  # ms
CONV_TAU = 50.0  # ms: 1601 lags
#: Agreement of the FFT path with np.convolve: max |diff| <= CONV_RTOL * max |reference|.
CONV_RTOL = 1e-10


def _conv_kernels(seed=0):
    """Synthetic 2x2 tensors per probe, every lag (negative ones too) nonzero."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n_lags = 2 * int(round(CONV_TAU / CONV_DT)) + 1
    n_pop = len(CONV_POPULATIONS)
    return {name: rng.normal(size=(n_pop, n_pop, n, n_lags)) for name, n in CONV_CHANNELS.items()}


def _n_pathways():
    return len(CONV_POPULATIONS) ** 2


def _max_rss_mib():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _np_convolve(counts, kernels, sum_post_first=False):
    """Per channel np.convolve(counts, kernel, 'same'): the 'same' window is the convention
    of hpckernels.convolution (lag 0 on the spike's bin). {probe: (total, per pathway)};
    ``sum_post_first``: one convolution per (pre, channel) of the kernels summed over
    postsynaptic populations (linearity), no per-pathway signals."""
    import numpy as np

    out = {}
    for name, h in kernels.items():
        n_post, n_pre, n_ch, _ = h.shape
        if sum_post_first:
            hs = h.sum(axis=0)
            total = np.zeros((n_ch, counts.shape[1]))
            for x in range(n_pre):
                for c in range(n_ch):
                    total[c] += np.convolve(counts[x], hs[x, c], "same")
            out[name] = (total, None)
            continue
        per = np.empty((n_post, n_pre, n_ch, counts.shape[1]))
        for y in range(n_post):
            for x in range(n_pre):
                for c in range(n_ch):
                    per[y, x, c] = np.convolve(counts[x], h[y, x, c], "same")
        out[name] = (per.sum(axis=(0, 1)), per)
    return out


@worker
def convolution_throughput_run(args):
    """Time 10 s of Poisson network spikes through every pathway and channel: the FFT path
    of hpckernels.convolution vs np.convolve per pathway and channel (imports not timed)."""
    import numpy as np

    from hpckernels.binning import population_counts
    from hpckernels.convolution import compute_signals

    rng = np.random.default_rng(1)
    duration = args["duration_ms"]
    times = {
        name: np.sort(rng.uniform(0.0, duration, rng.poisson(n * rate * duration / 1e3)))
        for name, (n, rate) in CONV_POPULATIONS.items()
    }
    names = list(CONV_POPULATIONS)
    start = time.perf_counter()
    counts = population_counts(times, names, 0.0, duration, CONV_DT)
    binning_s = time.perf_counter() - start
    kernels = _conv_kernels()

    repeats, ref_repeats = args["repeats"], args["reference_repeats"]
    fft_total, t_total = repeat_timed(
        lambda: compute_signals(counts, kernels, pathways=False), repeats
    )
    fft_per, t_per = repeat_timed(lambda: compute_signals(counts, kernels, pathways=True), repeats)
    ref, t_ref = repeat_timed(lambda: _np_convolve(counts, kernels), ref_repeats)
    _, t_ref_linear = repeat_timed(lambda: _np_convolve(counts, kernels, True), ref_repeats)

    agreement = {}
    for name, (total, per) in ref.items():
        scale = float(np.abs(total).max())
        agreement[name] = {
            "total_rel": rel_diff(fft_total.total[name], total),
            "total_from_pathways_run_rel": rel_diff(fft_per.total[name], total),
            "pathways_rel": rel_diff(fft_per.pathways[name], per),
            "pathways_sum_to_total_rel": rel_diff(
                fft_per.pathways[name].sum(axis=(0, 1)), fft_per.total[name], scale
            ),
        }
    n_conv = sum(h.shape[0] * h.shape[1] * h.shape[2] for h in kernels.values())
    return {
        "n_bins": int(counts.shape[1]),
        "spikes": {k: int(v.size) for k, v in times.items()},
        "binning_s": binning_s,
        "np_convolve_calls": n_conv,
        "hpckernels_total": t_total,
        "hpckernels_pathways": t_per,
        "np_convolve_per_pathway": t_ref,
        "np_convolve_post_summed": t_ref_linear,
        "agreement": agreement,
    }


@benchmark(
    "convolution_throughput",
    "10 s of Poisson network spikes (E 8192 x 2.3 spikes/s, I 1024 x 4.9 spikes/s, "
    "dt = 1/16 ms: 160000 bins) through a 2x2 kernel tensor per probe with 13 + 3 + 5 "
    "channels (lfp, dipole, eeg; 1601 lags, synthetic values): hpckernels.convolution "
    "(chunked overlap-add FFT, default blocks) vs np.convolve per pathway and channel "
    "(84 calls), in a fresh process; spike binning not timed.",
)
def convolution_throughput(ctx):
    repeats = ctx.repeat_count(5)
    ctx.say(f"convolution_throughput: best of {repeats} (np.convolve best of 2)")
    run = run_worker(
        ctx,
        "convolution_throughput_run",
        {"duration_ms": 10_000.0, "repeats": repeats, "reference_repeats": 2},
    )
    ref = run["np_convolve_per_pathway"]["best_s"]
    total = run["hpckernels_total"]["best_s"]
    per = run["hpckernels_pathways"]["best_s"]
    linear = run["np_convolve_post_summed"]["best_s"]
    n_conv = run["np_convolve_calls"]
    n_linear = n_conv // len(CONV_POPULATIONS)
    speedup = ref / total
    target = 50.0
    worst = max(v for a in run["agreement"].values() for v in a.values())
    passed = worst <= CONV_RTOL
    result = dict(run)
    result.update(
        {
            "speedup_total": speedup,
            "speedup_with_pathways": ref / per,
            "speedup_total_vs_post_summed_reference": linear / total,
            "target": target_spec("speedup_total", ">=", target, speedup >= target),
            "checks": {
                "agreement_with_np_convolve": {
                    "passed": passed,
                    "rtol": CONV_RTOL,
                    "max_rel_diff": worst,
                }
            },
        }
    )
    result["summary"] = summary_row(
        hpckernels=f"total {fmt_s(total)}; with {n_conv} pathway signals {fmt_s(per)}",
        reference=f"np.convolve x{n_conv} {fmt_s(ref)} "
        f"(post-summed kernels, x{n_linear}: {fmt_s(linear)})",
        ratio=f"total {speedup:.0f}x (vs post-summed {linear / total:.0f}x); "
        f"with pathways {ref / per:.0f}x",
        target=f">= {target:g}x (total, best of {repeats})",
        met=speedup >= target,
        checks=f"agree with np.convolve: {pass_fail(passed)} "
        f"(max |diff| = {worst:.1e} max|ref|, tol {CONV_RTOL:g})",
    )
    return result


@worker
def convolution_memory_run(args):
    """Peak RSS of streaming ``duration_ms`` of Poisson counts, generated block by block,
    through hpckernels.convolution.iter_signals; outputs reduced to checksums and dropped."""
    import numpy as np

    from hpckernels.convolution import default_chunk_size, iter_signals

    kernels = _conv_kernels()
    n_lags = next(iter(kernels.values())).shape[-1]
    chunk = args.get("chunk_size") or default_chunk_size(n_lags)
    n_bins = int(round(args["duration_ms"] / CONV_DT))
    lam = np.array([[n * rate * CONV_DT / 1e3] for n, rate in CONV_POPULATIONS.values()])
    import scipy.fft  # noqa: F401  (imported by iter_signals anyway: part of the baseline)

    baseline = _max_rss_mib()  # after imports and kernels

    def pieces(rng):
        for start in range(0, n_bins, chunk):
            yield rng.poisson(lam, size=(len(lam), min(chunk, n_bins - start))).astype(np.float64)

    start = time.perf_counter()
    checksum, n_out = {name: 0.0 for name in kernels}, 0
    for block in iter_signals(
        pieces(np.random.default_rng(2)), kernels, chunk_size=chunk, pathways=args["pathways"]
    ):
        n_out += block.size
        for name, total in block.total.items():
            checksum[name] += float(total.sum())
    seconds = time.perf_counter() - start
    peak = _max_rss_mib()
    # output rows of a block: the total and, with pathways, each pathway's contribution
    n_rows = sum(CONV_CHANNELS.values()) * (1 + _n_pathways() if args["pathways"] else 1)
    return {
        "n_bins": n_bins,
        "n_out": n_out,
        "chunk_size": chunk,
        "output_block_mib": n_rows * chunk * 8 / 2**20,
        "pathways": args["pathways"],
        "seconds": seconds,
        "baseline_mib": baseline,
        "peak_mib": peak,
        "peak_above_baseline_mib": peak - baseline,
        "checksum": checksum,
    }


@benchmark(
    "convolution_memory",
    "Peak memory (ru_maxrss of a fresh process minus its value after imports and "
    "kernels) of streaming 10 min vs 1 min of Poisson counts of 2 populations "
    "(dt = 1/16 ms: 9.6e6 vs 9.6e5 bins each, generated block by block) through a 2x2 "
    "tensor with 13 + 3 + 5 channels and 1601 lags, per-pathway signals on and off; "
    "output blocks reduced to checksums (the CLI appends them to HDF5 instead).",
)
def convolution_memory(ctx):
    runs = {}
    for pathways in (True, False):
        for minutes in (1, 10):
            key = f"{minutes}_min_{'pathways' if pathways else 'total'}"
            ctx.say(f"convolution_memory: {key}")
            runs[key] = run_worker(
                ctx,
                "convolution_memory_run",
                {"duration_ms": minutes * 60_000.0, "pathways": pathways},
            )
    checks = {}
    for key, run in runs.items():
        checks[f"{key}_all_bins_out"] = {"passed": run["n_out"] == run["n_bins"]}
    ratio = {
        kind: runs[f"10_min_{kind}"]["peak_above_baseline_mib"]
        / max(runs[f"1_min_{kind}"]["peak_above_baseline_mib"], 1e-9)
        for kind in ("pathways", "total")
    }
    # bounded: 10x the duration may not cost more than 1.25x the peak (+ 8 MiB of noise)
    bounded = all(
        runs[f"10_min_{k}"]["peak_above_baseline_mib"]
        <= 1.25 * runs[f"1_min_{k}"]["peak_above_baseline_mib"] + 8.0
        for k in ("pathways", "total")
    )
    ten, one = runs["10_min_pathways"], runs["1_min_pathways"]
    # what holding the whole 10-min output in memory would take, for scale
    n_ch = sum(CONV_CHANNELS.values())
    full_mib = ten["n_bins"] * n_ch * 8 * (1 + _n_pathways()) / 2**20
    return {
        "runs": runs,
        "peak_ratio_10_over_1_min": ratio,
        "whole_10_min_output_in_memory_mib": full_mib,
        "target": target_spec("peak_ratio_10_over_1_min", "<=", 1.25, bounded),
        "checks": checks,
        "summary": summary_row(
            hpckernels=f"10 min: +{ten['peak_above_baseline_mib']:.0f} MiB with pathways "
            f"({fmt_s(ten['seconds'])}), "
            f"+{runs['10_min_total']['peak_above_baseline_mib']:.0f} MiB total only",
            reference=f"1 min: +{one['peak_above_baseline_mib']:.0f} MiB with pathways, "
            f"+{runs['1_min_total']['peak_above_baseline_mib']:.0f} MiB total only "
            f"(whole 10-min output: {full_mib / 1024:.1f} GiB)",
            ratio=f"{ratio['pathways']:.2f}x with pathways, {ratio['total']:.2f}x total only",
            target="10 min / 1 min peak <= 1.25x (bounded by the chunk size)",
            met=bounded,
            checks="all bins streamed: " + pass_fail(all(c["passed"] for c in checks.values())),
        ),
    }
