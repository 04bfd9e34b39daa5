# Config validation and helpers shared by all rules. The config is validated
# against the same JSON schema the hpckernels CLI uses, then by hpckernels
# itself (references between keys, files, dt | tau), before any job starts.
import re
import shlex
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from dataclasses import asdict

from hpckernels import inputs
from hpckernels.config import NetworkConfig, load_yaml
from hpckernels.engines import get_engine
from hpckernels.errors import InputError
from hpckernels.hashing import content_hash
from hpckernels.network import network_parameters
from hpckernels.plotting import FIGURES, expected_figures
from hpckernels.plotting.common import figure_kind
from hpckernels.plotting.validation import validation_figure_names
from hpckernels.io.spikes import expand_files
from snakemake.io import report as report_item  # `report` alone is a Snakefile keyword

validate(config, schema="../schemas/config.schema.yaml", set_default=False)

if len(workflow.configfiles) != 1:
    raise WorkflowError(
        "give exactly one network config (--configfile FILE); got "
        f"{workflow.configfiles}"
    )
CONFIG_FILE = Path(workflow.configfiles[0]).resolve()
try:
    # hpckernels' own reading: a key given twice or an alias bomb is refused (Snakemake's
    # YAML reader would keep the last value of a duplicated key)
    CONFIG_DATA = load_yaml(CONFIG_FILE.read_text(), str(CONFIG_FILE))
except InputError as error:
    raise WorkflowError(str(error)) from None
if CONFIG_DATA != config:
    # the jobs read the network from the file; --config overrides would be lost
    raise WorkflowError(
        f"{CONFIG_FILE}: --config overrides are not supported; edit a copy of the "
        "config and pass it with --configfile"
    )
try:
    NETWORK = NetworkConfig(
        config, base_dir=CONFIG_FILE.parent, source=str(CONFIG_FILE)
    )
except InputError as error:
    raise WorkflowError(f"invalid network config {CONFIG_FILE}: {error}") from None

if "network" in config:
    try:
        # the memory of the node that runs NEST is checked there, not on the submit host
        network_parameters(NETWORK, check_memory=False)
    except InputError as error:
        raise WorkflowError(f"invalid network config {CONFIG_FILE}: {error}") from None

WORKFLOW_SETTINGS = config.get("workflow", {})
RUN = WORKFLOW_SETTINGS.get("run", CONFIG_FILE.stem)
if not re.fullmatch(r"[A-Za-z0-9_.-]+", RUN) or RUN in (".", ".."):
    # the run names the results folder, which every job's command line names
    raise WorkflowError(
        f"{CONFIG_FILE}: workflow.run '{RUN}' (default: the config file's name) may "
        "hold only letters, digits, '_', '.' and '-'; set workflow.run"
    )
MODE = WORKFLOW_SETTINGS.get("mode", "mean-field")
# mean-field kernels run on one rank; ensembles spread realizations over ranks
TASKS = 1 if MODE == "mean-field" else 2
HAS_NETWORK = "network" in config
HAS_SPIKES = HAS_NETWORK or "spikes" in config
NETWORK_THREADS = config.get("network", {}).get("threads", 2)
PATHWAYS = NETWORK.pathways()
PROBES = list(NETWORK.probes)
# pathways into populations with active cells get a figure of their linearization
ACTIVE_PATHWAYS = [
    p
    for p in PATHWAYS
    if NETWORK.populations[p.post]["cell"]["biophysics"]["type"] == "active"
]
RESULTS = f"results/{RUN}"
# the engine of the basis and kernel jobs (hpckernels' default)
ENGINE = get_engine()
# The rules run the hpckernels of this checkout (inside --sdm conda environments too,
# which hold only its dependencies).
HPCKERNELS = shlex.join(["python", f"{workflow.basedir}/scripts/hpckernels_cli.py"])
# The basis job of a population and the kernel jobs into it form one group: on a
# cluster each population is one submission (connected jobs of one group name become
# one group job). Small jobs run on the submit host.
POPULATION_GROUP = "population"


localrules:
    all,
    mechanisms,
    kernel_tensor,
    kernel_figure,
    signal_figures,


wildcard_constraints:
    pre="[A-Za-z][A-Za-z0-9_]*",
    post="[A-Za-z][A-Za-z0-9_]*",
    probe="[A-Za-z][A-Za-z0-9_]*",


def probe_kernel_files(wildcards):
    """The (X, Y, probe) kernel files of one probe, every pathway."""
    return [
        f"{RESULTS}/kernels/{p.post}/{p.pre}/{wildcards.probe}.h5" for p in PATHWAYS
    ]


def tensor_files():
    """The kernel tensor of every probe."""
    return [f"{RESULTS}/tensor/{probe}.h5" for probe in PROBES]


def launcher(wildcards, threads, resources):
    """How a job's command starts: its MPI ranks with `mpiexec -n N` or `srun -n N`;
    a job of one rank on this machine without (mpiexec and MPI's start-up would cost
    more than a kernel job's work)."""
    if resources.tasks == 1 and resources.mpi.startswith("mpiexec"):
        return ""
    return f"{resources.mpi} -n {int(resources.tasks)}"


def basis_inputs(wildcards):
    """Rerun trigger of a basis job: the content hash of what the response file of a
    population depends on (its cell and the placement of its inputs, with g_eff the
    mean conductances of its inputs; no probe, kinetics or delay)."""
    return ENGINE.response_hash(NETWORK, wildcards.post)


def kernel_inputs(wildcards):
    """Rerun trigger of a kernel job: the content hash of the pathway's physics and of
    its probe (resolved for the population; a head model with its dipole). With g_eff
    on, every connection into the postsynaptic population enters the hash (their mean
    conductances set the leak)."""
    return inputs.pathway_hash(
        NETWORK, wildcards.pre, wildcards.post, MODE, wildcards.probe
    )


# Rerun triggers: each rule's params hold the content hash of exactly what its command
# reads from the config (files it reads are its inputs).


def mechanism_files():
    """The mod files to compile (the package's and the config's folders)."""
    folders = [Path(workflow.basedir, "..", "mod").resolve()]
    folders += [NETWORK.path(folder) for folder in config.get("mechanisms", [])]
    return sorted(str(path) for folder in folders for path in folder.glob("*.mod"))


def mechanism_inputs(wildcards):
    """What the mechanisms command reads from the config: its mechanism folders."""
    return content_hash(config.get("mechanisms", []))


def network_inputs(wildcards):
    """The network as the network command resolves it (sizes, in-degrees, weights, ...)."""
    return content_hash(asdict(network_parameters(NETWORK, check_memory=False)))


def tensor_inputs(wildcards):
    """What assembling a probe's tensor reads: populations, pathways, the probe, kernel
    settings."""
    return content_hash(inputs.tensor_inputs(NETWORK, MODE, [wildcards.probe]))


def signals_inputs(wildcards):
    """What the signals command reads: window, settings, spike source, count scales."""
    return content_hash(inputs.signal_inputs(NETWORK))


def spike_files():
    """Spike input of the signals: the built-in network's SONATA file or the config's files."""
    if HAS_NETWORK:
        return [f"{RESULTS}/network/spikes.h5"]
    if not HAS_SPIKES:
        return []
    try:
        files = expand_files(
            config["spikes"]["files"], CONFIG_FILE.parent, "spikes.files"
        )
    except InputError as error:
        raise WorkflowError(f"{CONFIG_FILE}: {error}") from None
    return [str(path) for path in files]


# rate: measured: the jobs that use a rate (the g_eff conductances) read the network's
# spikes, so they run after the network and rerun when its spikes change
RATE_SPIKES = spike_files() if NETWORK.measured_rates else []
# (flags built with shlex: no file name reaches the shell unquoted)
RATE_FLAGS = shlex.join(["--spikes", *RATE_SPIKES]) if RATE_SPIKES else ""


SIGNAL_FIGURES = (
    expected_figures(
        [spec["type"] for spec in NETWORK.probes.values()],
        sonata=HAS_NETWORK,
        pathways=config.get("signals", {}).get("pathways", True),
    )
    if HAS_SPIKES
    else []
)


def figure_subcategory(name):
    """Report subcategory of a signal figure: the probe it draws (the first of its kind,
    as plot-signals does), or the network's spikes and pathways."""
    need = FIGURES[name]
    if need in ("spikes", "pathways"):
        return {"spikes": "network spikes", "pathways": "pathways"}[need]
    drawn = [
        p for p, spec in NETWORK.probes.items() if figure_kind(spec["type"]) == need
    ]
    return drawn[0] if drawn else need


def signal_figure_files():
    """Figures of the predicted signals, as report items with their captions."""
    return [
        report_item(
            f"{RESULTS}/figures/{name}",
            caption=f"{workflow.basedir}/report/{Path(name).stem}.rst",
            category="Signals",
            subcategory=figure_subcategory(name),
        )
        for name in SIGNAL_FIGURES
    ]


# ------------------------------------------------------------------ validation

VALIDATION = config.get("validation", {})
# kernel predictions besides the main mean-field one: folder name -> (mode, flags of
# kernel, assemble and signals, the config as these commands see it); the config's
# variants (validation.variants) in folders variant_<name>
VARIANTS = {
    "no_geff": ("mean-field", "--g-eff off", NETWORK.with_simulation(g_eff=False)),
    "ensemble": ("ensemble", "", NETWORK),
    **{
        f"variant_{name}": (
            "mean-field",
            shlex.join(["--variant", name]),
            NETWORK.variant(name),
        )
        for name in NETWORK.variants
    },
}
PREDICTION_NAMES = {
    "mean-field": None,
    "mean-field-no-geff": "no_geff",
    "ensemble": "ensemble",
    **{name: f"variant_{name}" for name in NETWORK.variants},
}
VALIDATION_VARIANTS = [
    PREDICTION_NAMES[name]
    for name in VALIDATION.get("predictions", ["mean-field"]) + NETWORK.variants
    if PREDICTION_NAMES[name]
]
GT_TASKS = VALIDATION.get("tasks", 2)
VALIDATION_DIR = f"{RESULTS}/validation"


wildcard_constraints:
    gtmode="conductance|linearized",
    variant="|".join(VARIANTS),


def validation_outputs():
    """What the target `validation` makes."""
    return [
        f"{VALIDATION_DIR}/validation.h5",
        f"{VALIDATION_DIR}/summary.md",
        f"{VALIDATION_DIR}/figures",
    ]


# ------------------------------------------------------------------ paper figures

PAPER_FIGURES = config.get("paper", {})
PAPER_CAPTIONS = Path(workflow.basedir) / "report" / "paper"
# the figures a paper figure can be made of: those of the default target and of compare
RUN_FIGURES = {
    *(f"figures/{name}" for name in SIGNAL_FIGURES),
    *(f"figures/kernels_{probe}.png" for probe in PROBES),
    *(f"figures/linearization_{p.post}_{p.pre}.png" for p in ACTIVE_PATHWAYS),
    *(f"validation/figures/{name}" for name in validation_figure_names(PROBES)),
}
for _figure, _spec in PAPER_FIGURES.items():
    if not (PAPER_CAPTIONS / f"{_figure[:5]}.rst").is_file():
        raise WorkflowError(
            f"{CONFIG_FILE}: paper.{_figure}: no caption for {_figure[:5]} "
            f"({PAPER_CAPTIONS}/{_figure[:5]}.rst)"
        )
    for _panel in _spec["panels"]:
        if _panel not in RUN_FIGURES:
            raise WorkflowError(
                f"{CONFIG_FILE}: paper.{_figure}.panels: {_panel} is not a figure this run "
                f"makes (figures: {', '.join(sorted(RUN_FIGURES))})"
            )


wildcard_constraints:
    figure="|".join(re.escape(name) for name in PAPER_FIGURES) or "no-figure",


def paper_inputs(wildcards):
    """What the target `paper` makes: the default target's outputs, the validation and
    the paper's figures of the config's paper section."""
    if "validation" not in config or not PAPER_FIGURES:
        raise WorkflowError(
            f"{CONFIG_FILE}: the target 'paper' needs a config with validation and paper "
            "sections (config/paper.yaml, config/paper_hay.yaml)"
        )
    figures = [f"{RESULTS}/paper/{name}.png" for name in PAPER_FIGURES]
    return [*rules.all.input, *validation_outputs(), *figures]


def paper_panels(wildcards):
    """The run's figures that make up a paper figure, in panel order."""
    return [f"{RESULTS}/{panel}" for panel in PAPER_FIGURES[wildcards.figure]["panels"]]


def paper_panel_inputs(wildcards):
    """What a paper figure's panels come from: the default target's figures, and the
    folder of compare's figures (an output as a whole) for its panels."""
    return sorted(
        {
            (
                f"{VALIDATION_DIR}/figures"
                if panel.startswith("validation/figures/")
                else f"{RESULTS}/{panel}"
            )
            for panel in PAPER_FIGURES[wildcards.figure]["panels"]
        }
    )


def paper_caption(wildcards, input):
    """A paper figure's report caption: what the paper shows (report/paper/FigNN.rst)
    and this run's medians (read once the validation exists)."""
    from hpckernels.steps.compare import medians_rst, read_medians

    shows = (PAPER_CAPTIONS / f"{wildcards.figure[:5]}.rst").read_text().strip()
    if not Path(input.validation).is_file():  # a dry run before the validation ran
        return shows
    got = medians_rst(read_medians(input.validation))
    return (
        f"{shows}\n\n**What hpckernels got in this run** (medians across the channels "
        f"whose ground truth varies, raw, against the ground truth):\n\n{got}\n"
    )


def variant_config(variant):
    """The config as the variant's commands see it."""
    return VARIANTS[variant][2]


def variant_flags(variant):
    """The variant's flags of kernel, assemble and signals."""
    return VARIANTS[variant][1]


def groundtruth_trigger(wildcards):
    """What groundtruth, predict-error and compare read from the config."""
    return content_hash(inputs.groundtruth_inputs(NETWORK))


def variant_pathway_inputs(wildcards):
    network = variant_config(wildcards.variant)
    mode = VARIANTS[wildcards.variant][0]
    return {
        "pathway": inputs.pathway_hash(network, wildcards.pre, wildcards.post, mode),
        "probes": {name: content_hash(NETWORK.probes[name]) for name in sorted(PROBES)},
    }


def variant_kernel_files(wildcards):
    return [
        f"{VALIDATION_DIR}/kernels_{wildcards.variant}/{p.post}/{p.pre}/{probe}.h5"
        for p in PATHWAYS
        for probe in PROBES
    ]


def prediction_arguments():
    """--prediction NAME=FILE of every prediction (compare's inputs, in order)."""
    files = {"mean-field": f"{RESULTS}/signals.h5"}
    for name, variant in PREDICTION_NAMES.items():
        if variant in VALIDATION_VARIANTS:
            files[name] = f"{VALIDATION_DIR}/signals_{variant}.h5"
    return files


def kernel_sets():
    """{name: tensor files} of every kernel prediction (mean-field: one per probe)."""
    sets = {"mean-field": tensor_files()}
    for name, variant in PREDICTION_NAMES.items():
        if variant in VALIDATION_VARIANTS:
            sets[name] = [f"{VALIDATION_DIR}/kernels_{variant}.h5"]
    return sets
