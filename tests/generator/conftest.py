"""Fixtures of the generator tests: the hostile-config harness (tests/support/hostile.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hostile_harness import Case, run_case


@pytest.fixture
def hostile(
    sandbox: Path, record_property: Callable[[str, object], None]
) -> Callable[[Case], Path]:
    """``hostile(case)``: prepare, validate, render, assert; returns the sandbox root."""
    return lambda case: run_case(case, sandbox, record_property)
