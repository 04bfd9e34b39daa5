"""config/README.md, every config key, generated from the schema (the Snakemake workflow
catalog shows it as the workflow's configuration page).

The text is the configuration reference of the docs site (:func:`schema_reference.
schema_to_rst`) turned into GitHub Markdown: sections, tables, literals and links. Run
``python docs/_ext/config_readme.py`` (``make config-readme``) after a schema edit;
``tests/test_catalog.py`` checks that the committed file is the generated one.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from schema_reference import schema_to_rst  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "hpckernels" / "schemas" / "config.schema.yaml"
OUTPUT = REPO / "config" / "README.md"

HEADER = """# Configuration

<!-- generated from hpckernels/schemas/config.schema.yaml by docs/_ext/config_readme.py
     (make config-readme); do not edit by hand -->

A run is one YAML file: `config/config.yaml` is the main job (the workflow's default),
the other files here are shipped networks (`config/two_population.yaml`,
`config/microcircuit.yaml`, `config/validation.yaml`, ...), and `.test/config/config.yaml`
is the small one CI runs end to end. Give another with
`snakemake --profile cluster_profiles/local --configfile my_network.yaml`; the commands
take it as their first argument. The workflow and the `hpckernels` commands validate it
against the same schema, `hpckernels/schemas/config.schema.yaml`; a guide with examples
is `docs/configuration.md`. Every key:

"""

_HEADINGS = {"-": "##", "~": "###", "^": "####"}


def _inline(text):
    """reST inline markup of schema_reference as Markdown."""
    text = re.sub(r":ref:`([^<`]+?) <([^>]+)>`", lambda m: f"[{m[1].strip()}](#{m[2]})", text)
    parts = re.split(r"(``[^`]+``)", text)
    out = []
    for part in parts:
        if part.startswith("``") and part.endswith("``"):
            out.append(f"`{part[2:-2]}`")
        else:
            out.append(re.sub(r"\\(.)", r"\1", part))
    return "".join(out)


def _cell(text):
    return _inline(text).replace("|", "\\|")


def rst_to_markdown(lines):
    """The reST lines of :func:`schema_to_rst` as Markdown lines."""
    out, i = [], 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        label = re.match(r"\.\. _([^:]+):$", line)
        if label:
            out.append(f'<a id="{label[1]}"></a>')
            i += 1
            continue
        if line == ".. list-table::":
            i += 1
            while i < len(lines) and lines[i].startswith("   :"):
                i += 1
            rows = []
            while i < len(lines) and (lines[i].startswith("   ") or lines[i] == ""):
                if lines[i].startswith("   * - "):
                    rows.append([lines[i][7:]])
                elif lines[i].startswith("     - "):
                    rows[-1].append(lines[i][7:])
                elif lines[i] == "" and rows and i + 1 < len(lines):
                    if not lines[i + 1].startswith("   "):
                        break
                i += 1
            out.append("| " + " | ".join(_cell(c) for c in rows[0]) + " |")
            out.append("|" + "---|" * len(rows[0]))
            out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows[1:]]
            out.append("")
            continue
        if nxt and set(nxt) <= set(_HEADINGS) and len(set(nxt)) == 1 and len(nxt) >= 4:
            out.append(f"{_HEADINGS[nxt[0]]} {_inline(line)}")
            i += 2
            continue
        out.append(_inline(line))
        i += 1
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def generate():
    """The text of config/README.md."""
    schema = yaml.safe_load(SCHEMA.read_text())
    return HEADER + rst_to_markdown(schema_to_rst(schema))


if __name__ == "__main__":
    OUTPUT.write_text(generate())
    print(f"wrote {OUTPUT}")
