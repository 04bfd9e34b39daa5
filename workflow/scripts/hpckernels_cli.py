"""The hpckernels command line of this checkout, for the workflow's rules.

The rules run this file instead of an installed ``hpckernels`` so that they use the
package next to the Snakefile, also inside ``--sdm conda`` environments (which hold
only its dependencies, workflow/envs/hpckernels.yaml).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hpckernels.cli import main  # noqa: E402

main()
