# Config validation and helpers shared by all rules. The config is validated
# against the same JSON schema the hpckernels CLI uses, then by hpckernels
# itself (references between keys, files, dt | tau), before any job starts.
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from hpckernels.config import NetworkConfig, content_hash
from hpckernels.errors import ConfigError

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
except ConfigError as error:
    raise WorkflowError(f"invalid network config {CONFIG_FILE}: {error}") from None

WORKFLOW_SETTINGS = config.get("workflow", {})
RUN = WORKFLOW_SETTINGS.get("run", CONFIG_FILE.stem)
MODE = WORKFLOW_SETTINGS.get("mode", "mean-field")
# mean-field kernels run on one rank; ensembles spread realizations over ranks
TASKS = 1 if MODE == "mean-field" else 2
PATHWAYS = NETWORK.pathways()
PROBES = list(NETWORK.probes)
RESULTS = f"results/{RUN}"


wildcard_constraints:
    pre="[A-Za-z][A-Za-z0-9_]*",
    post="[A-Za-z][A-Za-z0-9_]*",
    probe="[A-Za-z][A-Za-z0-9_]*",


def pathway_kernel_files(pre, post):
    """The (X, Y, probe) outputs of one pathway."""
    return [f"{RESULTS}/kernels/{post}/{pre}/{probe}.h5" for probe in PROBES]


def all_kernel_files():
    return [f for p in PATHWAYS for f in pathway_kernel_files(p.pre, p.post)]


def pathway_inputs(wildcards):
    """Rerun trigger of a pathway job: content hashes of its physics and its probes.

    With g_eff on, every connection into the postsynaptic population enters the
    hash (their mean conductances set the leak).
    """
    return {
        "pathway": NETWORK.pathway_hash(wildcards.pre, wildcards.post, MODE),
        "probes": {name: content_hash(NETWORK.probes[name]) for name in sorted(PROBES)},
    }
