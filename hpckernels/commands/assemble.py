"""``hpckernels assemble``: the reduce step, pathway kernel files -> one kernel tensor."""

import sys
from pathlib import Path

from .. import h5io
from ..config import NetworkConfig
from ..errors import InputError
from . import output_path


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "assemble",
        help="assemble pathway kernel files into one kernel tensor",
        description="Reduce step: read KERNELS_DIR/<post>/<pre>/<probe>.h5 for every pathway "
        "and probe of CONFIG and write the tensor (n_post, n_pre, n_channel, n_lag) "
        "per probe.",
    )
    parser.add_argument("config", help="network config (YAML)")
    parser.add_argument("--kernels-dir", required=True, help="folder of pathway kernel files")
    parser.add_argument("--mode", choices=["mean-field", "ensemble"], default="mean-field")
    parser.add_argument("-o", "--output", required=True, help="kernel tensor (HDF5)")
    parser.set_defaults(func=run)


def run(args):
    config = NetworkConfig.from_file(args.config)
    output = output_path(args.output)
    files = {}
    for pathway in config.pathways():
        for probe in config.probes:
            path = Path(args.kernels_dir) / pathway.post / pathway.pre / f"{probe}.h5"
            if not path.is_file():
                raise InputError(str(path), f"kernel file of {pathway} / {probe} is missing")
            files[(pathway.pre, pathway.post, probe)] = path
    h5io.write_tensor(output, config, args.mode, files)
    print(f"[hpckernels] wrote kernel tensor {output}", file=sys.stderr)
    return 0
