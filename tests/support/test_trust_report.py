"""The trust report plugin (tests/support/trust_report.py), run on small suites with pytester."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

SUITE = """
import pytest

@pytest.mark.hostile
@pytest.mark.parametrize("n", [1, 2])
def test_bad_input(n, record_property):
    record_property("category", "config: demo | pipes")
    record_property("case", f"input {n}")
    record_property("outcome", "exit 2")
    record_property("figures", "0.01 s")
    assert n == 1

@pytest.mark.faults
def test_no_row():
    pass

@pytest.mark.isolation
def test_skipped(record_property):
    record_property("category", "isolation: demo")
    record_property("case", "skipped case")
    pytest.skip("no server here")

def test_unmarked(record_property):
    record_property("category", "not a trust test")
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(
        "[pytest]\ntestpaths = tests\nmarkers =\n  hostile: h\n  faults: f\n  isolation: i\n"
    )
    pytester.mkdir("tests")
    (pytester.path / "tests" / "test_demo.py").write_text(SUITE)
    return pytester


def test_the_whole_selection_writes_the_report(suite: pytest.Pytester) -> None:
    result = suite.runpytest("-p", "trust_report")
    result.assert_outcomes(passed=3, failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*= trust report =*",
            "passed   config: demo | pipes | input 1 | exit 2 | 0.01 s",
            "failed   config: demo | pipes | input 2 | exit 2 | 0.01 s",
            "1 trust test(s) recorded no row*test_no_row*",
            "4 trust cases written to *trust-report.md",
        ]
    )
    report = (suite.path / "docs" / "trust-report.md").read_text()
    assert "4 cases: 1 failed, 2 passed, 1 skipped." in report
    assert "| config: demo \\| pipes | input 1 | exit 2 | 0.01 s | passed |" in report
    assert "| isolation: demo | skipped case |  |  | skipped |" in report
    assert "tests/test_demo.py::test_no_row" in report
    assert "not a trust test" not in report


@pytest.mark.parametrize(
    "args",
    [["-k", "bad_input"], ["-m", "hostile"], ["tests/test_demo.py"], ["-x"]],
    ids=["keyword", "one marker", "a path", "stopped early"],
)
def test_a_narrowed_run_prints_but_does_not_write(suite: pytest.Pytester, args: list[str]) -> None:
    result = suite.runpytest("-p", "trust_report", *args)
    result.stdout.fnmatch_lines(["*= trust report =*", "*docs/trust-report.md not written*"])
    assert not (suite.path / "docs").exists()


def test_an_explicit_path_is_always_written(suite: pytest.Pytester, tmp_path: Path) -> None:
    target = tmp_path / "partial.md"
    suite.runpytest("-p", "trust_report", "-k", "skipped", f"--trust-report={target}")
    assert "| isolation: demo | skipped case |" in target.read_text()
    assert "input 1" not in target.read_text()
