"""Write-audit-publish on the embedded catalog: the run lands on an audit branch, is checked,
and only a passing audit moves main (then the STATE is emitted)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pyiceberg.catalog import Catalog

from target_iceberg.audit.publish import branch_name
from target_iceberg.errors import AuditFailedError

from .conftest import RunTarget, messages, records

pytestmark = pytest.mark.wap

SPEC = {
    "asset": "deals",
    "version": "1.0",
    "schema": {
        "columns": [
            {"name": "id", "type": "long", "required": True},
            {"name": "stage", "type": "string"},
            {"name": "amount", "type": "double"},
        ],
        "primary_key": ["id"],
    },
}
PROPS = {"id": {"type": "integer"}, "stage": {"type": "string"}, "amount": {"type": "number"}}


def spec_file(tmp_path: Path, **audit: Any) -> str:
    path = tmp_path / "deals.yaml"
    path.write_text(yaml.safe_dump({**SPEC, "audit": audit}))
    return str(path)


def text(rows: list[dict[str, Any]], bookmark: int) -> str:
    schema = {
        "type": "SCHEMA",
        "stream": "deals",
        "schema": {"type": "object", "properties": PROPS},
    }
    state = {"type": "STATE", "value": {"bookmarks": {"deals": bookmark}}}
    return messages(schema, *records("deals", rows), state)


def rows(ids: range, stage: str = "won") -> list[dict[str, Any]]:
    return [{"id": i, "stage": stage, "amount": float(i)} for i in ids]


CHECKS = {
    "row_count": {"min": 1, "max": 100},
    "not_null": {"stage": 1.0},
    "unique_key": True,
    "accepted_values": {"stage": ["won", "lost"]},
    "ranges": {"amount": {"min": 0, "max": 1000}},
}


def test_a_passing_audit_publishes_and_emits_the_state(
    run_target: RunTarget, catalog: Catalog, tmp_path: Path
) -> None:
    cfg = {
        "streams": {"deals": {"asset_spec": spec_file(tmp_path, **CHECKS)}},
        "audit": {"enabled": True},
    }
    target, out = run_target(text(rows(range(5)), 5), run_id="r1", **cfg)
    table = catalog.load_table("acme.deals")
    assert table.scan().to_arrow().num_rows == 5
    assert list(table.metadata.refs) == ["main"]  # the branch went with the publish
    assert out == ['{"bookmarks": {"deals": 5}}']
    audit = target.summary.audit
    assert audit is not None and audit.published and audit.passed
    assert {c.check for c in audit.checks} == {
        "row_count",
        "not_null.stage",
        "unique_key",
        "accepted_values.stage",
        "ranges.amount",
    }
    assert target.summary.streams["deals"].snapshot_id == table.current_snapshot().snapshot_id


def test_a_failing_audit_leaves_main_and_keeps_the_branch(
    run_target: RunTarget, catalog: Catalog, tmp_path: Path
) -> None:
    cfg = {
        "streams": {"deals": {"asset_spec": spec_file(tmp_path, **CHECKS)}},
        "audit": {"enabled": True, "on_fail": 1},
    }
    run_target(text(rows(range(5)), 5), run_id="r1", **cfg)
    with pytest.raises(AuditFailedError, match="unique_key") as failed:
        # ids 3..6 clash with the published 3, 4; "open" is not an accepted stage.
        run_target(text(rows(range(3, 7), stage="open"), 7), run_id="r2", **cfg)
    assert failed.value.exit_code == 1
    table = catalog.load_table("acme.deals")
    assert table.scan().to_arrow().num_rows == 5  # main untouched
    branch = branch_name("r2")
    assert branch in table.metadata.refs
    assert table.scan(snapshot_id=table.metadata.refs[branch].snapshot_id).to_arrow().num_rows == 9
