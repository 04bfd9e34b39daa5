"""Where progress and warnings go: the process's standard error *at the time of writing*.

Functions take ``log=STDERR`` rather than ``log=sys.stderr``: a default argument bound
to ``sys.stderr`` keeps the stream of import time, so output would escape a later
redirection (``contextlib.redirect_stderr``, pytest's capture, an embedding program).
"""

from __future__ import annotations

import sys


class CurrentStderr:
    """A file-like object that writes to whatever ``sys.stderr`` is when written to."""

    def write(self, text):
        return sys.stderr.write(text)

    def flush(self):
        sys.stderr.flush()


#: Default ``log`` of the library's functions.
STDERR = CurrentStderr()


def say(log, text):
    """One progress line ``[hpckernels] text`` on ``log`` (nothing if ``log`` is None)."""
    if log is not None:
        print(f"[hpckernels] {text}", file=log, flush=True)
