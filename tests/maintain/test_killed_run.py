"""A killed run's files are found and removed by ``ingestgen maintain --only orphans``.

The loader is killed (SIGKILL, its own crash hook) after it wrote data and metadata files but
before the catalog moved; the table never references them. The command removes exactly those,
and the table's rows and every file it references stay.
"""

from __future__ import annotations

import io
import json
import os
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pyiceberg.catalog import Catalog

from ingestgen.cli.console import cli
from ingestgen.maintain.orphans import referenced
from target_iceberg.crashpoint import ENV
from target_iceberg.target import TargetIceberg

from .conftest import Load, lake_props

pytestmark = [pytest.mark.upkeep, pytest.mark.faults]


def _killed_load(repo: Path, point: str) -> int:
    """Load ids 100..149 into acme.events in a child that SIGKILLs itself at ``point``."""
    schema = {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "name": {"type": ["string", "null"]}},
        "required": ["id"],
    }
    lines = [
        {"type": "SCHEMA", "stream": "events", "key_properties": ["id"], "schema": schema},
        *({"type": "RECORD", "stream": "events", "record": {"id": i}} for i in range(100, 150)),
        {"type": "STATE", "value": {"n": "killed"}},
    ]
    text = "".join(json.dumps(line) + "\n" for line in lines)
    config = {
        "namespace": "acme",
        "tenant": "acme",
        "job": "events",
        "catalog_name": "acme_embedded",
        "catalog_properties": lake_props(repo),
    }
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        code = 0
        try:
            os.environ[ENV] = f"{point}:1"
            with redirect_stdout(io.StringIO()):
                target = TargetIceberg(config=config)
                target.process_lines(io.BytesIO(text.encode()))  # type: ignore[arg-type]
                target.process_endofpipe()
        except BaseException:
            code = 3
        os._exit(code)
    return os.waitpid(pid, 0)[1]


def _on_disk(catalog: Catalog) -> set[str]:
    location = catalog.load_table(("acme", "events")).location().removeprefix("file://")
    return {str(p) for p in Path(location).rglob("*") if p.is_file()}


@pytest.mark.parametrize("point", ["stage", "metadata", "flip"])
def test_maintain_removes_what_a_killed_run_left_and_nothing_else(
    repo: Path, catalog: Catalog, load: Load, point: str, record_property: Any
) -> None:
    load([{"id": n, "name": "x"} for n in range(5)], state={"n": 5})
    before = _on_disk(catalog)
    status = _killed_load(repo, point)
    assert os.WIFSIGNALED(status), f"the loader was not killed at {point} (status {status})"
    table = catalog.load_table(("acme", "events"))
    assert sorted(table.scan().to_arrow().column("id").to_pylist()) == list(range(5))
    left = _on_disk(catalog) - before
    assert left, f"a kill at {point} left no file (nothing to prove)"
    keep = referenced(table, [s.snapshot_id for s in table.snapshots()])
    assert not {p for p in left if p in keep}

    result = CliRunner().invoke(
        cli,
        ["maintain", "acme", "--only", "orphans", "--orphan-age", "0s", "--root", str(repo)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output

    assert _on_disk(catalog) == before  # the killed run's files gone, every other file kept
    table = catalog.load_table(("acme", "events"))
    assert sorted(table.scan().to_arrow().column("id").to_pylist()) == list(range(5))
    record_property("category", "crash anywhere: clean-up of a killed run (ingestgen maintain)")
    record_property("case", f"SIGKILL at {point}, then maintain --only orphans --orphan-age 0s")
    record_property(
        "outcome",
        f"the {len(left)} unreferenced file(s) removed, referenced files and rows unchanged",
    )
