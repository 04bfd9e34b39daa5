"""Benchmark harness of hpckernels: registry, workers, machine information, shared timing
helpers and reporting. The benchmarks themselves live in ``benchmarks/bench_*.py``; the
entry point ``benchmarks/run_benchmarks.py`` imports them all and runs them.

Every benchmark writes ``benchmarks/results/<name>.json`` (numbers, target, checks,
machine and software information); the Markdown table of all available results goes to
``benchmarks/results/summary.md``, stdout and (for the default results folder) the table
between the benchmark markers of README.md.

Benchmarks report numbers and whether a target is met; an unmet target is not an error.
The exit code is 1 only if a benchmark failed to run or one of its correctness checks
(``checks``: ``{name: {"passed": bool, ...}}``) failed.

Adding a benchmark
------------------
Add a module ``benchmarks/bench_<family>.py``; the entry point imports every
``bench_*.py`` of the folder, nothing else needs editing. In it:

- ``ORDER = <int>``: where the module's benchmarks run and stand in the tables. The
  benchmarks run in increasing ``ORDER`` (10 kernel_tensor, 20 ensemble_scaling, 30
  workflow_wall_time, 40 convolution_*, 50 active_tensors, 60 validation, 70
  microcircuit_workflow, 80 basis_*), then by module name, then in the order the module
  defines them. Take a number above the existing ones; a module without ``ORDER`` comes
  after all modules that have one (``DEFAULT_ORDER``).
- ``@benchmark("name", "description")`` on ``def my_bench(ctx) -> dict``: ``ctx`` is a
  :class:`Context`. The returned dict holds at least ``summary`` (a :func:`summary_row`),
  usually ``target`` (a :func:`target_spec`) and ``checks``; everything is stored in the
  JSON file as is. ``ratio="..."`` adds what the Ratio column divides to the note under
  summary.md's table.
- Timed code runs in fresh subprocesses, so that imports, NEURON state and MPI
  initialisation of one measurement never leak into another: decorate
  ``def my_worker(args: dict) -> dict`` with ``@worker`` and call
  ``run_worker(ctx, "my_worker", {...})`` (arguments and result are JSON). Worker names
  are global across modules. Every worker process imports every ``bench_*.py`` module,
  so keep heavy imports (numpy, NEURON, mpi4py, hpckernels) inside functions.
- Shared helpers: :func:`timed_run` and :func:`concurrent_runs` (commands),
  :func:`snakemake_jobs_done`, :func:`snakemake_stage_times` and :func:`workflow_split`
  (Snakemake's log), :func:`snakemake_benchmarks` (the rules' ``benchmark:`` files),
  :func:`repeat_timed` (best-of-N in process), :func:`time_tensor`,
  :func:`mean_field_pathway` and :func:`tensor_agreement` (kernel tensors of
  ``PATHWAYS``), :func:`mpiexec` and :func:`venv_executable`, :func:`bit_identical`
  (HDF5 outputs), :func:`rel_diff`, :func:`profile_top`, :func:`profiled` and
  :func:`profile_cli_ranks` (cProfile), :func:`fmt_s` and :func:`pass_fail` (table cells).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from hpckernels.engines.neuron import PathwayModel

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
#: The script every worker process runs (``run_benchmarks.py --worker NAME``).
ENTRY_POINT = BENCH_DIR / "run_benchmarks.py"
RESULTS_DIR = BENCH_DIR / "results"
CONFIG = REPO / "config" / "two_population.yaml"
#: Position of the benchmarks of a module that sets no ``ORDER``: after all that do.
DEFAULT_ORDER = 1000
#: Distributions whose versions are recorded with every result.
PACKAGES = [
    "numpy",
    "scipy",
    "neuron",
    "LFPy",
    "LFPykit",
    "LFPykernels",
    "mpi4py",
    "h5py",
    "hpckernels",
]


# --------------------------------------------------------------------------- registry
@dataclass
class Benchmark:
    name: str
    func: object
    description: str
    ratio: str | None = None  # what the Ratio column divides (note under summary.md)
    index: int = 0  # registration order, the last sort key

    @property
    def order(self):
        """``(ORDER of the defining module, module name, registration index)``."""
        module = self.func.__globals__
        return (module.get("ORDER", DEFAULT_ORDER), module.get("__name__", ""), self.index)


_BENCHMARKS: dict[str, Benchmark] = {}


def benchmark(name, description, ratio=None):
    """Register ``func(ctx) -> dict`` as benchmark ``name`` (see the module docstring)."""

    def register(func):
        if name in _BENCHMARKS:
            raise ValueError(f"benchmark {name} registered twice")
        _BENCHMARKS[name] = Benchmark(name, func, description, ratio, len(_BENCHMARKS))
        return func

    return register


def registered():
    """The registered benchmarks in run (and table) order."""
    return sorted(_BENCHMARKS.values(), key=lambda bench: bench.order)


@dataclass
class Context:
    """What a benchmark gets: where to work and how."""

    results_dir: Path
    scratch: Path
    env: dict
    profile: bool = False
    repeats: int | None = None  # overrides each benchmark's default when set

    def say(self, text):
        print(f"[bench] {text}", file=sys.stderr, flush=True)

    def repeat_count(self, default):
        """Repetitions of a measurement: ``--repeats`` if given, else ``default``."""
        return self.repeats or default


def summary_row(hpckernels, reference, ratio, target, met, checks):
    """The Markdown table row of a benchmark (all strings except ``met``)."""
    return {
        "hpckernels": hpckernels,
        "reference": reference,
        "ratio": ratio,
        "target": target,
        "met": bool(met),
        "checks": checks,
    }


def target_spec(metric, op, value, met):
    """The ``target`` entry of a result: ``metric op value`` (e.g. speedup_best >= 10)."""
    return {"metric": metric, "op": op, "value": value, "met": bool(met)}


def fmt_s(seconds):
    """Seconds with 3 significant digits below 10 s, one decimal above."""
    return f"{seconds:.3g} s" if seconds < 10 else f"{seconds:.1f} s"


def pass_fail(passed):
    return "pass" if passed else "FAIL"


# --------------------------------------------------------------------------- environment
def bench_env():
    """Environment of every subprocess: venv first on PATH, MPI as root, no NEURON GUI,
    single-threaded BLAS."""
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env.update(
        OMPI_ALLOW_RUN_AS_ROOT="1",
        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
        NEURON_MODULE_OPTIONS="-nogui",
    )
    # one BLAS thread per process, as the CLI runs (hpckernels.cli.limit_threads): workers
    # import the library directly, and processes run side by side
    for key in ("HPCKERNELS_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[key] = "1"
    return env


def venv_executable(name):
    """Console script ``name`` of the running interpreter's environment (else on PATH)."""
    exe = Path(sys.executable).parent / name
    return str(exe) if exe.exists() else shutil.which(name)


def _run_text(cmd, **kwargs):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kwargs)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _cpu_model():
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or None


def _memory_gib():
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 2)
    return None


def machine_nproc():
    """Cores this process may run on (what ``nproc`` prints)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def machine_info():
    """Machine, software versions, date and git commit, recorded with each result."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    mpiexec_path = shutil.which("mpiexec", path=bench_env()["PATH"])
    mpi_version = _run_text([mpiexec_path, "--version"]) if mpiexec_path else None
    versions["mpiexec"] = mpi_version.splitlines()[0] if mpi_version else None
    commit = _run_text(["git", "rev-parse", "HEAD"], cwd=REPO)
    changed = _run_text(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO)
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_commit": commit,
        # results measured on a modified tree say which tracked files differ from the commit
        "git_modified": [line[3:] for line in changed.splitlines()] if changed else [],
        "hostname": platform.node(),
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "nproc": machine_nproc(),
        "cpu_count": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "versions": versions,
    }


# --------------------------------------------------------------------------- workers
WORKERS = {}


def worker(func):
    """Register a function that runs inside a fresh subprocess (see run_worker)."""
    if func.__name__ in WORKERS:
        raise ValueError(f"worker {func.__name__} registered twice")
    WORKERS[func.__name__] = func
    return func


def run_worker(ctx, name, args, timeout=3600, cmd_prefix=()):
    """Run worker ``name`` in a fresh Python process; return the dict it wrote."""
    result_path = ctx.scratch / f"{name}-{time.monotonic_ns()}.json"
    args = dict(args, result=str(result_path))
    cmd = [
        *cmd_prefix,
        sys.executable,
        str(ENTRY_POINT),
        "--worker",
        name,
        "--worker-args",
        json.dumps(args),
    ]
    proc = subprocess.run(
        cmd, cwd=REPO, env=ctx.env, capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0 or not result_path.exists():
        raise RuntimeError(
            f"worker {name} failed (exit {proc.returncode}):\n"
            f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
        )
    return json.loads(result_path.read_text())


def worker_main(name, raw_args):
    """Body of a worker process: run worker ``name``, write its result file."""
    if name not in WORKERS:
        raise SystemExit(f"unknown worker {name}; known: {', '.join(sorted(WORKERS))}")
    args = json.loads(raw_args)
    result = WORKERS[name](args)
    if result is not None:
        Path(args["result"]).write_text(json.dumps(result))


# --------------------------------------------------------------------------- timing
def timed_run(ctx, cmd, cwd, timeout):
    """Run a command in the benchmark environment; (wall time in s, CompletedProcess).

    Raises
    ------
    RuntimeError
        With the end of its output, if the command fails.
    """
    start = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=cwd, env=ctx.env, capture_output=True, text=True, timeout=timeout
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, cmd))} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        )
    return wall, proc


#: Snakemake's progress line; the last one says how many jobs ran in all.
_SNAKEMAKE_STEPS = re.compile(r"(\d+) of (\d+) steps \(\d+%\) done")


def snakemake_command(config, cores, *targets):
    """The workflow with the local profile on ``cores`` cores for a config file."""
    return [
        venv_executable("snakemake"),
        "-s",
        str(REPO / "workflow" / "Snakefile"),
        "--profile",
        str(REPO / "cluster_profiles" / "local"),
        "--configfile",
        str(config),
        "--cores",
        str(cores),
        *targets,
    ]


def snakemake_jobs_done(stderr):
    """(jobs done, jobs planned) from Snakemake's last progress line; (0, None) if none."""
    steps = _SNAKEMAKE_STEPS.findall(stderr)
    return (int(steps[-1][0]), int(steps[-1][1])) if steps else (0, None)


#: The top folder of a ``benchmark:`` file under ``results/{run}/benchmarks`` -> its rule.
BENCHMARK_RULES = {"basis": "basis", "kernels": "kernel", "validation": "validation"}


def snakemake_benchmarks(results):
    """Per rule of a workflow run, from the ``benchmark:`` files Snakemake wrote under
    ``results/benchmarks`` (one TSV per job, columns ``s``, ``max_rss``, ``cpu_time``,
    ...): ``{rule: {"jobs": n, "job_s": summed wall time, "max_job_s": the longest job,
    "cpu_s": summed CPU time, "max_rss_mb": the largest}}``."""
    rules = {}
    root = Path(results) / "benchmarks"
    for table in sorted(root.rglob("*.tsv")):
        header, row = table.read_text().splitlines()[:2]
        values = dict(zip(header.split("\t"), row.split("\t"), strict=False))
        parts = table.relative_to(root).parts
        rule = BENCHMARK_RULES.get(parts[0], table.stem) if len(parts) > 1 else table.stem
        stage = rules.setdefault(
            rule, {"jobs": 0, "job_s": 0.0, "max_job_s": 0.0, "cpu_s": 0.0, "max_rss_mb": 0.0}
        )
        seconds = float(values["s"])
        stage["jobs"] += 1
        stage["job_s"] += seconds
        stage["max_job_s"] = max(stage["max_job_s"], seconds)
        stage["cpu_s"] += float(values.get("cpu_time", "nan") or "nan")
        stage["max_rss_mb"] = max(stage["max_rss_mb"], float(values.get("max_rss", 0) or 0))
    return rules


#: A job's start (``rule NAME:`` after a time stamp, then ``jobid: N``) and end
#: (``Finished jobid: N (Rule: NAME)`` after a time stamp) in Snakemake's log.
_SNAKEMAKE_STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
_SNAKEMAKE_START = re.compile(r"^(?:local)?rule (\w+):$")
_SNAKEMAKE_JOBID = re.compile(r"^\s+jobid: (\d+)$")
_SNAKEMAKE_END = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)$")


def snakemake_stage_times(stderr):
    """Per rule of a Snakemake run, from the time stamps of its log (1 s resolution):
    ``{rule: {"jobs": n, "span_s": first start to last end, "job_s": summed job times}}``,
    in the order the rules first started."""
    stamp, rule, starts, ends = None, None, {}, {}
    for line in stderr.splitlines():
        if match := _SNAKEMAKE_STAMP.match(line):
            stamp = dt.datetime.strptime(match.group(1), "%a %b %d %H:%M:%S %Y")
        elif match := _SNAKEMAKE_START.match(line):
            rule = match.group(1)
        elif (match := _SNAKEMAKE_JOBID.match(line)) and rule is not None:
            starts[int(match.group(1))] = (rule, stamp)
            rule = None
        elif match := _SNAKEMAKE_END.match(line):
            ends[int(match.group(1))] = stamp
    stages = {}
    for jobid, (name, start) in starts.items():
        if jobid not in ends or start is None:
            continue
        stage = stages.setdefault(name, {"jobs": 0, "first": start, "last": ends[jobid]})
        stage["jobs"] += 1
        stage["job_s"] = stage.get("job_s", 0.0) + (ends[jobid] - start).total_seconds()
        stage["first"], stage["last"] = min(stage["first"], start), max(stage["last"], ends[jobid])
    origin = min((stage["first"] for stage in stages.values()), default=None)
    return {
        name: {
            "jobs": stage["jobs"],
            "span_s": (stage["last"] - stage["first"]).total_seconds(),
            "job_s": stage["job_s"],
            "start_s": (stage["first"] - origin).total_seconds(),
            "end_s": (stage["last"] - origin).total_seconds(),
        }
        for name, stage in stages.items()
    }


#: The parts of a workflow's wall time (:func:`workflow_split`): their rules.
WORKFLOW_PARTS = {
    "network": ("network",),
    "kernels": ("mechanisms", "basis", "kernel", "kernel_tensor"),
    "signals": ("signals",),
    "figures": ("kernel_figure", "signal_figures", "linearization_figure"),
}


def workflow_split(stages):
    """{part: span (s) from the first start to the last end of its rules' jobs} of
    :func:`snakemake_stage_times` (parts may overlap: jobs run side by side)."""
    out = {}
    for part, rules in WORKFLOW_PARTS.items():
        present = [stages[rule] for rule in rules if rule in stages]
        if present:
            start = min(stage["start_s"] for stage in present)
            out[part] = max(stage["end_s"] for stage in present) - start
    return out


def concurrent_runs(ctx, commands, timeout=3600):
    """Start commands together; (wall time until the last ends, the stderr of each).

    Raises
    ------
    RuntimeError
        With the end of its stderr, if a command fails.
    """
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            cmd, cwd=REPO, env=ctx.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for cmd in commands
    ]
    errors = []
    for proc in procs:
        _, err = proc.communicate(timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, proc.args))} failed:\n{err[-4000:]}")
        errors.append(err)
    return time.perf_counter() - start, errors


def repeat_timed(func, repeats):
    """Call ``func()`` ``repeats`` times; (last return value, wall times).

    The times are ``{"seconds": [...], "cold_s": first, "best_s": min}``.
    """
    seconds, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = func()
        seconds.append(time.perf_counter() - start)
    return out, {"seconds": seconds, "cold_s": seconds[0], "best_s": min(seconds)}


def mpiexec(ctx, ranks, extra=()):
    """mpiexec -n ranks; --oversubscribe only where the machine has fewer cores than ranks."""
    cmd = [shutil.which("mpiexec", path=ctx.env["PATH"]), *extra]
    if ranks > machine_nproc():
        cmd.append("--oversubscribe")
    return [*cmd, "-n", str(ranks)]


def ranks_key(ranks):
    """``1_rank``, ``2_ranks``, ...: keys of per-rank-count results."""
    return "1_rank" if ranks == 1 else f"{ranks}_ranks"


# --------------------------------------------------------------------------- comparisons
def rel_diff(actual, expected, scale=None):
    """``max |actual - expected| / scale``, ``scale`` by default ``max |expected|``
    (infinite for a zero scale)."""
    import numpy as np

    scale = float(np.abs(expected).max()) if scale is None else scale
    return float(np.abs(actual - expected).max() / scale) if scale > 0 else float("inf")


def _h5_datasets(path):
    import h5py

    out = {}
    with h5py.File(path, "r") as fh:
        fh.visititems(
            lambda name, obj: (
                out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None
            )
        )
        attrs = {key: fh.attrs[key] for key in fh.attrs}
    return out, attrs


def bit_identical(paths):
    """Compare all datasets of HDF5 files byte for byte; root attributes only reported."""
    import numpy as np

    first, first_attrs = _h5_datasets(paths[0])
    differing, attr_diffs = set(), set()
    for path in paths[1:]:
        other, attrs = _h5_datasets(path)
        for name in set(first) | set(other):
            a, b = first.get(name), other.get(name)
            same = (
                a is not None
                and b is not None
                and np.asarray(a).dtype == np.asarray(b).dtype
                and np.shape(a) == np.shape(b)
                and np.asarray(a).tobytes() == np.asarray(b).tobytes()
            )
            if not same:
                differing.add(name)
        for key in set(first_attrs) | set(attrs):
            if str(first_attrs.get(key)) != str(attrs.get(key)):
                attr_diffs.add(key)
    return {
        "passed": not differing,
        "files": [p.name for p in paths],
        "datasets_compared": len(first),
        "datasets_differing": sorted(differing),
        "root_attributes_differing": sorted(attr_diffs),
    }


# --------------------------------------------------------------------------- kernel tensors
#: The four pathways (pre, post) of the two-population networks.
PATHWAYS = [("E", "E"), ("E", "I"), ("I", "E"), ("I", "I")]


def time_tensor(pathway, args, pathways=PATHWAYS):
    """Best-of-N and cold (first) wall time of the tensor of ``pathway(pre, post) ->
    {probe: kernel}`` over ``pathways``, with per-pathway times of the best run; saves the
    last tensor to ``args["arrays"]`` (npz, keys ``<pre><post>/<probe>``) and, with
    ``args["profile"]``, profiles one more run."""
    import numpy as np

    per_pathway = []
    pathways = args.get("pathways", pathways)

    def tensor():
        out, times = {}, {}
        for pre, post in pathways:
            start = time.perf_counter()
            kernels = pathway(pre, post)
            times[f"{pre}->{post}"] = time.perf_counter() - start
            for name, kernel in kernels.items():
                out[f"{pre}->{post}/{name}"] = kernel
        per_pathway.append(times)
        return out

    arrays, timing = repeat_timed(tensor, args["repeats"])
    np.savez(args["arrays"], **arrays)
    best = timing["seconds"].index(timing["best_s"])
    result = dict(timing, per_pathway_best_s=per_pathway[best], per_pathway_cold_s=per_pathway[0])
    if args.get("profile"):
        profiled(tensor, args["profile"])
    return result


def lfpykernels_config(ctx, path=CONFIG):
    """``path`` in lfpykernels' convention, written to the scratch folder: every cell
    linearized at ``simulation.vrest`` (``operating_point: uniform``, where hpckernels'
    default is the self-consistent steady state), cell files made absolute."""
    import yaml

    data = yaml.safe_load(Path(path).read_text())
    for population in data["populations"].values():
        cell = population.get("cell")
        if not cell:
            continue
        cell["biophysics"] = {"operating_point": "uniform", **cell["biophysics"]}
        for key in ("morphology",):
            cell[key] = str((Path(path).parent / cell[key]).resolve())
        cell["template"]["file"] = str((Path(path).parent / cell["template"]["file"]).resolve())
    out = ctx.scratch / f"{Path(path).stem}_lfpykernels.yaml"
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def mean_field_pathway(config):
    """``pathway(pre, post) -> {probe: kernel}`` with hpckernels' mean-field engine (one
    PathwayModel per pathway, as the workflow's pathway jobs)."""

    def pathway(pre, post):
        with PathwayModel(config, pre, post) as model:
            return model.mean_field_kernels()

    return pathway


def tensor_agreement(mine, ref, rtol):
    """Relative difference of two kernel tensors ({"<pre>-><post>/<probe>": array}) per
    kernel; (passed, details).

    A kernel's difference is taken relative to the largest kernel of its probe in the
    tensor, not to its own maximum: where a kernel cancels (the dipole of an interneuron
    with as many dendrites up as down is ~1e-4 of a pyramidal cell's), its own maximum is
    far below the round-off of the sums it comes from. The relative difference to its own
    maximum is recorded as well.
    """
    agreement, passed = {}, set(mine) == set(ref)
    scales = {}
    for key, expected in ref.items():
        probe = key.rsplit("/", 1)[-1]
        scales[probe] = max(scales.get(probe, 0.0), float(abs(expected).max()))
    for key in sorted(ref):
        expected = ref[key]
        actual = mine[key] if key in mine else None
        if actual is None or actual.shape != expected.shape:
            agreement[key] = {
                "shape": list(expected.shape),
                "passed": False,
                "error": "missing or shape differs",
            }
            passed = False
            continue
        rel = rel_diff(actual, expected, scales[key.rsplit("/", 1)[-1]])
        ok = rel <= rtol
        passed &= ok
        agreement[key] = {
            "shape": list(expected.shape),
            "max_abs_H": float(abs(expected).max()),
            "max_abs_diff_rel": rel,
            "max_abs_diff_rel_own_max": rel_diff(actual, expected),
            "passed": ok,
        }
    return passed, agreement


# --------------------------------------------------------------------------- profiling
def profile_top(stats_path, limit=20):
    """The ``limit`` functions with the largest own time of a cProfile dump."""
    import pstats

    stats = pstats.Stats(str(stats_path))
    total = stats.total_tt
    rows = []
    for (filename, line, func), (_, ncalls, tottime, cumtime, _) in stats.stats.items():
        where = func if filename == "~" else f"{Path(filename).name}:{line}({func})"
        rows.append(
            {
                "function": where,
                "ncalls": ncalls,
                "tottime_s": round(tottime, 4),
                "cumtime_s": round(cumtime, 4),
            }
        )
    rows.sort(key=lambda row: row["tottime_s"], reverse=True)
    return {"total_s": round(total, 4), "top_by_own_time": rows[:limit]}


def profiled(func, stats_path):
    """``func()`` under cProfile, the statistics dumped to ``stats_path``."""
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        return func()
    finally:
        profiler.disable()
        profiler.dump_stats(str(stats_path))


@worker
def cli_profile(args):
    """Run the hpckernels CLI under cProfile on every MPI rank (one stats file per rank)."""
    from mpi4py import MPI

    from hpckernels import cli

    rank = MPI.COMM_WORLD.Get_rank()
    code = 0

    def run():
        nonlocal code
        try:
            cli.main(args["argv"])
        except SystemExit as exc:
            code = exc.code or 0

    profiled(run, f"{args['profile']}.rank{rank}")
    if code:
        raise SystemExit(code)
    # only rank 0 writes the result file; the parent reads every rank's stats file
    return {"exit_code": code} if rank == 0 else None


def profile_cli_ranks(ctx, ranks, argv, label):
    """cProfile summary of every rank of one ``mpiexec -n ranks hpckernels argv`` run."""
    prefix = ctx.scratch / f"{label}_profile_n{ranks}"
    run_worker(
        ctx, "cli_profile", {"argv": argv, "profile": str(prefix)}, cmd_prefix=mpiexec(ctx, ranks)
    )
    return {f"rank{rank}": profile_top(f"{prefix}.rank{rank}", limit=15) for rank in range(ranks)}


# --------------------------------------------------------------------------- reporting
COLUMNS = [
    ("Benchmark", None),
    ("hpckernels", "hpckernels"),
    ("Reference", "reference"),
    ("Ratio", "ratio"),
    ("Target", "target"),
    ("Met", "met"),
    ("Checks", "checks"),
]
README_START, README_END = "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"


def markdown_table(results):
    """Markdown table of {name: result dict} (result as written to JSON)."""
    lines = [
        "| " + " | ".join(title for title, _ in COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
    ]
    for name, result in results.items():
        row = result.get("summary")
        if row is None:
            lines.append(
                f"| {name} | error: {result.get('error', '?').splitlines()[-1]} "
                + "| " * (len(COLUMNS) - 2)
                + "|"
            )
            continue
        cells = [name] + [
            ("yes" if row[key] else "**no**") if key == "met" else row[key]
            for _, key in COLUMNS[1:]
        ]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def stored_results(results_dir):
    """{name: result} of every registered benchmark with a result file, in run order."""
    results = {}
    for bench in registered():
        path = results_dir / f"{bench.name}.json"
        if path.exists():
            results[bench.name] = json.loads(path.read_text())
    return results


def _ratio_note():
    notes = [f"{b.ratio} ({b.name})" for b in registered() if b.ratio]
    if len(notes) > 1:
        notes = [", ".join(notes[:-1]), notes[-1]]
    return "Targets are reported, not enforced" + (
        f"; ratios are {' and '.join(notes)}." if notes else "."
    )


def _load_text(machine):
    """``, load 0.4 -> 1.2`` (1-minute load average before and after), if recorded."""
    load = machine.get("load_average")
    return f", load {load[0][0]:.1f} -> {load[1][0]:.1f}" if load else ""


def summary_markdown(results_dir):
    """summary.md from every result file present (results of earlier runs included)."""
    results = stored_results(results_dir)
    lines = ["# hpckernels benchmarks", "", markdown_table(results), ""]
    for name, result in results.items():
        machine = result.get("machine", {})
        versions = machine.get("versions", {})
        commit = (machine.get("git_commit") or "?")[:10]
        modified = " (modified tree)" if machine.get("git_modified") else ""
        lines.append(
            f"- `{name}`: {machine.get('date', '?')}, commit {commit}{modified}, "
            f"{machine.get('nproc', '?')} cores ({machine.get('cpu_model', '?')}"
            f"{_load_text(machine)}), "
            f"Python {versions.get('python', '?')}, NumPy {versions.get('numpy', '?')},"
            f" NEURON {versions.get('neuron', '?')}, LFPy {versions.get('LFPy', '?')}; "
            f"details in `{name}.json`"
        )
    lines.append("")
    lines.append(_ratio_note())
    return "\n".join(lines) + "\n"


def update_readme(results_dir):
    """Replace the table between the benchmark markers of README.md with the stored results."""
    readme = REPO / "README.md"
    if not readme.exists():
        return
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        return
    results = stored_results(results_dir)
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    readme.write_text(f"{head}{README_START}\n{markdown_table(results)}\n{README_END}{tail}")


def _json_default(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _checks_passed(result):
    return all(check.get("passed", True) for check in result.get("checks", {}).values())


def run(selected, ctx):
    """Run benchmarks, write their results and the tables; exit code (1: error or failed
    check)."""
    machine = machine_info()
    results, failed = {}, False
    for bench in selected:
        ctx.say(f"running {bench.name}")
        load = os.getloadavg()
        start = time.perf_counter()
        try:
            body = bench.func(ctx)
        except Exception:
            traceback.print_exc()
            body, failed = {"error": traceback.format_exc()}, True
        result = {
            "benchmark": bench.name,
            "description": bench.description,
            # the load of the machine before and after this benchmark (1, 5, 15 min)
            "machine": dict(machine, load_average=[list(load), list(os.getloadavg())]),
            "benchmark_wall_s": time.perf_counter() - start,
            **body,
        }
        if "error" not in body:
            # only successful runs replace the stored result
            path = ctx.results_dir / f"{bench.name}.json"
            path.write_text(json.dumps(result, indent=2, default=_json_default) + "\n")
            ctx.say(f"wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
            failed |= not _checks_passed(result)
        results[bench.name] = result
    print(markdown_table(results))
    summary = ctx.results_dir / "summary.md"
    summary.write_text(summary_markdown(ctx.results_dir))
    ctx.say(f"wrote {summary}")
    if ctx.results_dir == RESULTS_DIR:
        update_readme(ctx.results_dir)
    return 1 if failed else 0
