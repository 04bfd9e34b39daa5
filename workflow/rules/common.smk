# Config validation and helpers shared by all rules. The config is validated
# against the same JSON schema the hpckernels CLI uses, then by hpckernels
# itself (references between keys, files, dt | tau), before any job starts.
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from dataclasses import asdict

from hpckernels import inputs
from hpckernels.config import NetworkConfig
from hpckernels.errors import InputError
from hpckernels.hashing import content_hash
from hpckernels.network import network_parameters
from hpckernels.plotting import expected_figures
from hpckernels.io.spikes import expand_files
from snakemake.io import report as report_item  # `report` alone is a Snakefile keyword

validate(config, schema="../schemas/config.schema.yaml", set_default=False)

if len(workflow.configfiles) != 1:
    raise WorkflowError(
        "give exactly one network config (--configfile FILE); got "
        f"{workflow.configfiles}"
    )
CONFIG_FILE = Path(workflow.configfiles[0]).resolve()
if yaml.safe_load(CONFIG_FILE.read_text()) != config:
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
# The rules run the hpckernels of this checkout (inside --sdm conda environments too,
# which hold only its dependencies).
HPCKERNELS = f"python {workflow.basedir}/scripts/hpckernels_cli.py"
# The basis job of a population and the pathway jobs into it form one group: on a
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


def pathway_kernel_files(pre, post):
    """The (X, Y, probe) outputs of one pathway."""
    return [f"{RESULTS}/kernels/{post}/{pre}/{probe}.h5" for probe in PROBES]


def all_kernel_files():
    return [f for p in PATHWAYS for f in pathway_kernel_files(p.pre, p.post)]


def basis_inputs(wildcards):
    """Rerun trigger of a basis job: the content hash of what the basis of a population
    depends on (its cell, the kinetics and placement of its inputs, the g_eff leak, the
    probes with a matrix on the cell)."""
    return inputs.basis_hash(NETWORK, wildcards.post)


def pathway_inputs(wildcards):
    """Rerun trigger of a pathway job: content hashes of its physics and its probes.

    With g_eff on, every connection into the postsynaptic population enters the
    hash (their mean conductances set the leak).
    """
    return {
        "pathway": inputs.pathway_hash(NETWORK, wildcards.pre, wildcards.post, MODE),
        "probes": {name: content_hash(NETWORK.probes[name]) for name in sorted(PROBES)},
    }


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
    """What assembling the tensor reads: populations, pathways, probes, kernel settings."""
    return content_hash(inputs.tensor_inputs(NETWORK, MODE))


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
RATE_FLAGS = f"--spikes {' '.join(RATE_SPIKES)}" if RATE_SPIKES else ""


SIGNAL_FIGURES = (
    expected_figures(
        [spec["type"] for spec in NETWORK.probes.values()],
        sonata=HAS_NETWORK,
        pathways=config.get("signals", {}).get("pathways", True),
    )
    if HAS_SPIKES
    else []
)


def signal_figure_files():
    """Figures of the predicted signals, as report items with their captions."""
    return [
        report_item(
            f"{RESULTS}/figures/{name}",
            caption=f"{workflow.basedir}/report/{Path(name).stem}.rst",
            category="Signals",
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
        f"variant_{name}": ("mean-field", f"--variant {name}", NETWORK.variant(name))
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


def paper_inputs(wildcards):
    """What the target `paper` makes: the default target's outputs and the validation."""
    if "validation" not in config:
        raise WorkflowError(
            f"{CONFIG_FILE}: the target 'paper' needs a config with a validation section "
            "(config/paper.yaml, config/paper_hay.yaml)"
        )
    return [*rules.all.input, *validation_outputs()]


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
    sets = {"mean-field": f"{RESULTS}/kernels.h5"}
    for name, variant in PREDICTION_NAMES.items():
        if variant in VALIDATION_VARIANTS:
            sets[name] = f"{VALIDATION_DIR}/kernels_{variant}.h5"
    return sets
