"""Sphinx configuration of the hpckernels documentation (built by ``make docs``)."""

import os
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(DOCS / "_ext"))
os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")
# API stubs are written anew by autosummary on every build, so pages of modules that
# were moved or removed do not linger
shutil.rmtree(DOCS / "api", ignore_errors=True)

project = "hpckernels"
author = "the hpckernels developers"
copyright = "the hpckernels developers (GPL-3.0-or-later)"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "schema_reference",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
templates_path = ["_templates"]

# command lines keep their "--" (no typographic dashes or quotes)
smartquotes = False

html_theme = "furo"
html_title = "hpckernels"

# MyST: $...$ and $$...$$ math, ```{directive} fences, heading anchors for links
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3

# API pages: autosummary walks the package recursively (no module names here)
autosummary_generate = True
autodoc_default_options = {
    "members": True,
    "undoc-members": True,
    "show-inheritance": True,
    # each object on the page of the module that defines it (not where __all__ re-exports it)
    "ignore-module-all": True,
}
# ``python -m hpckernels`` runs the command line when imported: leave it out
autosummary_mock_imports = ["hpckernels.__main__"]
autodoc_member_order = "bysource"
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

nitpicky = True
# Names of other packages (no intersphinx: the build runs offline), matched as whole
# dotted prefixes; everything of hpckernels must resolve.
nitpick_ignore_regex = [
    (
        r"py:.*",
        r"(numpy|np|scipy|h5py|lfpykit|LFPy|neuron|mpi4py|matplotlib|nest|argparse)(\..*)?",
    ),
]
