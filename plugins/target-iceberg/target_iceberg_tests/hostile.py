"""Run the real CLI in-process on hostile Singer input, and read back what it left.

`run_cli` calls ``target-iceberg --config ...`` through click exactly as the console script
does (standard input replaced by the given bytes) and returns the exit code, stderr, stdout,
the run summary (validated by the published model) and the rows of every table, read back
from the Iceberg catalog.
"""

from __future__ import annotations

import gc
import io
import logging
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pyiceberg.catalog import load_catalog
from pyiceberg.exceptions import NoSuchNamespaceError

from target_iceberg.summary import RunSummary
from target_iceberg.target import TargetIceberg

from .conftest import catalog_props, write_config


@dataclass
class Outcome:
    """What one run did."""

    code: int
    stderr: str
    stdout: list[str]
    summary: RunSummary | None
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    files_left: int = 0

    def rows(self, table: str) -> list[dict[str, Any]]:
        """The rows of ``acme.<table>`` (empty if the table does not exist)."""
        return self.tables.get(table, [])

    @property
    def error_lines(self) -> list[str]:
        """The stderr lines of the convention (``target-iceberg: ...``)."""
        return [line for line in self.stderr.splitlines() if line.startswith("target-iceberg: ")]


def _log_to_current_stderr() -> None:
    # singer-sdk binds its log handlers to the stderr of the first run in this process;
    # point them at this test's captured stderr, as a fresh process would have them.
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            if type(handler) is logging.StreamHandler:
                handler.stream = sys.stderr  # not setStream: it flushes the closed one


def _read_back(lake: Path) -> dict[str, list[dict[str, Any]]]:
    catalog = load_catalog("default", **catalog_props(lake))
    try:
        names = catalog.list_tables("acme")
    except NoSuchNamespaceError:
        return {}
    return {name[-1]: catalog.load_table(name).scan().to_arrow().to_pylist() for name in names}


@pytest.fixture
def run_cli(
    tmp_path: Path,
    lake: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[Any]:
    """``run_cli(data: bytes, **settings) -> Outcome`` (re-exported by conftest)."""
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    count = 0

    def run(data: bytes, **settings: Any) -> Outcome:
        nonlocal count
        count += 1
        summary = tmp_path / f"summary-{count}.json"
        config = write_config(tmp_path / f"config-{count}.json", lake, summary, **settings)
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
        capsys.readouterr()
        _log_to_current_stderr()
        try:
            TargetIceberg.cli.main(
                args=["--config", str(config)], prog_name="target-iceberg", standalone_mode=True
            )
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        else:  # pragma: no cover - click always exits in standalone mode
            code = 0
        finally:
            gc.unfreeze()
        out = capsys.readouterr()
        return Outcome(
            code=code,
            stderr=out.err,
            stdout=[line for line in out.out.splitlines() if line.strip()],
            summary=RunSummary.read(summary) if summary.exists() else None,
            tables=_read_back(lake),
            files_left=len(list(lake.rglob("*.parquet"))),
        )

    yield run
    for number, handler in handlers.items():
        signal.signal(number, handler)
