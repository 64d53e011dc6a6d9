"""The suite's own tools: a test marked `unmeasured` runs without coverage's tracer (see conftest.py)."""

from __future__ import annotations

import os
import sys

import pytest
from conftest import COVERAGE_VARIABLES


@pytest.mark.unmeasured
def test_an_unmeasured_test_runs_without_the_tracer() -> None:
    """Under `make test` the tracer is paused and the processes this test starts are not measured."""
    assert sys.gettrace() is None
    assert not [name for name in COVERAGE_VARIABLES if name in os.environ]


def test_a_measured_test_runs_with_the_tracer_when_coverage_runs() -> None:
    """The pause is given back: the next test is measured again wherever coverage measures at all."""
    import coverage

    if coverage.Coverage.current() is None:
        pytest.skip("coverage is not running (make test-fast): nothing to give back")
    assert sys.gettrace() is not None
