"""pytest plugin: the trust report, a table of the hostile inputs and faults tried, and outcomes.

Every test marked ``hostile``, ``faults`` or ``isolation`` records one row with pytest's
``record_property``: ``category``, ``case`` (the input or fault), ``outcome`` (what the test
asserts) and optionally ``figures`` (time, memory). This plugin collects those rows with the
test's result, prints the table at the end of the run, and, when the whole trust selection ran
(no narrowing by path, ``-k``, ``-m`` or ``--deselect``, nothing stopped early), writes it to
``docs/trust-report.md``. ``--trust-report PATH`` writes it to PATH whatever ran.

    pytest -m "hostile or faults or isolation"      # the suite alone; rewrites docs/trust-report.md

A marked test that records no row is listed under its test id, and the summary names it.
Registered in pyproject's addopts; it never changes a test's outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from _pytest.config import Config
from _pytest.terminal import TerminalReporter

MARKERS = ("hostile", "faults", "isolation")
DEFAULT = Path("docs") / "trust-report.md"
_FIELDS = ("category", "case", "outcome", "figures")


@dataclass
class Row:
    """One trust case: what was tried, what was asserted, and how the test ended."""

    nodeid: str
    marker: str
    props: dict[str, str] = field(default_factory=dict)
    result: str = "not run"

    @property
    def category(self) -> str:
        return self.props.get("category", "(no row recorded)")

    @property
    def case(self) -> str:
        return self.props.get("case", self.nodeid)


class TrustReport:
    """Collects the rows during the run; prints and writes them at its end."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.rows: dict[str, Row] = {}
        self.narrowed = config.args_source != Config.ArgsSource.TESTPATHS or bool(
            config.option.keyword or getattr(config.option, "deselect", None)
        )

    @pytest.hookimpl
    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        if any(_marker(item) for item in items):
            self.narrowed = True

    @pytest.hookimpl
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            marker = _marker(item)
            if marker:
                self.rows[item.nodeid] = Row(item.nodeid, marker)

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        row = self.rows.get(report.nodeid)
        if row is None:
            return
        row.props.update({k: str(v) for k, v in report.user_properties if k in _FIELDS})
        failed = report.failed and row.result != "failed"
        if report.when == "call" or report.skipped or failed:
            row.result = _result(report)

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: TerminalReporter) -> None:
        if not self.rows:
            return
        rows = sorted(self.rows.values(), key=lambda r: (r.category, r.case, r.nodeid))
        terminalreporter.section("trust report")
        for row in rows:
            terminalreporter.write_line(
                f"{row.result:8} {row.category} | {row.case} | {row.props.get('outcome', '')}"
                + (f" | {row.props['figures']}" if row.props.get("figures") else "")
            )
        missing = [r.nodeid for r in rows if "category" not in r.props]
        if missing:
            terminalreporter.write_line(
                f"{len(missing)} trust test(s) recorded no row (record_property category, "
                f"case, outcome): {', '.join(missing[:5])}"
            )
        target = self.config.getoption("trust_report")
        complete = not self.narrowed and all(r.result != "not run" for r in rows)
        if target is None and complete:
            target = self.config.rootpath / DEFAULT
        if target is None:
            terminalreporter.write_line(
                f"{len(rows)} trust cases; docs/trust-report.md not written (only the whole "
                "trust selection writes it, or --trust-report PATH)"
            )
            return
        path = Path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(markdown(rows), encoding="utf-8")
        terminalreporter.write_line(f"{len(rows)} trust cases written to {path}")


def markdown(rows: list[Row]) -> str:
    """The report as a Markdown document."""
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        per = counts.setdefault(row.category, {})
        per[row.result] = per.get(row.result, 0) + 1
    results = sorted({r.result for r in rows})
    lines = [
        "# Trust report",
        "",
        "Written by the test suite (`tests/support/trust_report.py`) from the tests marked "
        "`hostile`, `faults` and `isolation`: every hostile input and fault tried, what the test "
        'asserts about it, and how it ended. Regenerate with `pytest -m "hostile or faults or '
        'isolation"` (or the whole suite); do not edit by hand.',
        "",
        f"{len(rows)} cases: "
        + ", ".join(f"{sum(c.get(r, 0) for c in counts.values())} {r}" for r in results)
        + ".",
        "",
        "| category | " + " | ".join(results) + " |",
        "|---|" + "---:|" * len(results),
    ]
    lines += [
        f"| {_cell(name)} | " + " | ".join(str(per.get(r, 0)) for r in results) + " |"
        for name, per in sorted(counts.items())
    ]
    lines += [
        "",
        "| category | case | asserted outcome | figures | result |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {_cell(r.category)} | {_cell(r.case)} | {_cell(r.props.get('outcome', ''))} | "
        f"{_cell(r.props.get('figures', ''))} | {r.result} |"
        for r in rows
    ]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _marker(item: pytest.Item) -> str | None:
    return next((m for m in MARKERS if item.get_closest_marker(m)), None)


def _result(report: pytest.TestReport) -> str:
    if hasattr(report, "wasxfail"):
        return "xfailed" if report.skipped else "xpassed"
    if report.skipped:
        return "skipped"
    if report.failed:
        return "failed" if report.when == "call" else "error"
    return "passed"


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--trust-report PATH``."""
    parser.addoption(
        "--trust-report",
        dest="trust_report",
        default=None,
        help="write the trust report to this file, even when only part of the suite ran",
    )


def pytest_configure(config: Config) -> None:
    """Register the collector for this run."""
    config.pluginmanager.register(TrustReport(config), "trust-report-collector")
