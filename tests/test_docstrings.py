"""The Examples sections of the docstrings where a user starts run as written."""

import doctest
import os

import pytest
from conftest import REPO

from hpckernels.engines import base
from hpckernels.probes import models, types

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("module", [models, types, base], ids=lambda m: m.__name__)
def test_examples_run(module, mechanisms_loaded, monkeypatch):
    monkeypatch.chdir(REPO)  # the examples name the shipped configs by relative path
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [t for t in finder.find(module) if t.examples]
    assert tests, f"{module.__name__} has no Examples"
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0 and result.attempted > 0
    assert os.getcwd() == str(REPO)
