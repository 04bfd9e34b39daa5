"""``hpckernels paper-figure``: one figure of Hagen et al. (2022) from the run's figures."""

from ..errors import InputError
from . import load_config, output_path


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "paper-figure",
        help="a figure of Hagen et al. (2022) assembled from the run's figures",
        description="Assemble figure FIGURE of the config's paper section (named after the "
        "figure of Hagen et al. 2022 it reproduces) from the run's own figures, given in "
        "the order of the section's panels: lettered panels under the figure's title.",
    )
    parser.add_argument("config", help="network config (YAML)")
    parser.add_argument("figure", help="a key of the config's paper section, e.g. Fig05_signals")
    parser.add_argument("panels", nargs="+", help="the panels' PNG files (figures of this run)")
    parser.add_argument("-o", "--output", required=True, help="PNG file")
    parser.set_defaults(func=run)


def run(args):
    from pathlib import Path

    config = load_config(args.config, rates=False)
    figures = config.data.get("paper", {})
    if args.figure not in figures:
        raise InputError(
            args.figure,
            f"not a figure of the paper section of {config.source} "
            f"({', '.join(figures) or 'it has none'})",
        )
    spec = figures[args.figure]
    if len(args.panels) != len(spec["panels"]):
        raise InputError(
            "panels",
            f"{args.figure} has {len(spec['panels'])} panels ({', '.join(spec['panels'])}), "
            f"{len(args.panels)} given",
        )
    panels = [Path(p) for p in args.panels]
    output = output_path(args.output, inputs=panels, config=config, suffixes=(".png",))
    from ..plotting.paper import panel_provenance, paper_figure

    for panel, expected in zip(panels, spec["panels"], strict=True):
        if not panel.is_file():
            raise InputError(str(panel), "figure not found")
        if panel.name != Path(expected).name:
            raise InputError(str(panel), f"expected the panel {expected} of {args.figure}")
        # (the panels' own provenance stays in their files: the workflow reruns them on
        # what they are made of, where the whole config's hash also changes with an edit
        # that leaves them as they are, as of this paper section)
        if not panel_provenance(panel):
            raise InputError(str(panel), "not a PNG figure of hpckernels")
    paper_figure(panels, spec["title"], output, config.hash)
    print(f"[hpckernels] paper-figure: wrote {output}")
    return 0
