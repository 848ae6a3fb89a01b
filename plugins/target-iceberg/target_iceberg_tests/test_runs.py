"""Run-level guarantees: idempotent re-runs by run id, a crash before the commit leaves
nothing visible, the reject threshold fails a run with nothing committed, the summary file."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError

from target_iceberg.commit import RUN_ID, PerTableCommitter, TableChange
from target_iceberg.errors import CommitError, RejectThresholdError
from target_iceberg.sqlcommit import AtomicSqlCommitter

from .conftest import RunTarget, messages, records, schema_msg

PROPS = {"id": {"type": "integer"}, "name": {"type": "string"}}


def _text(rows: list[dict], *streams: str, mark: int | None = None) -> str:
    items: list[dict] = []
    for stream in streams or ("people",):
        items += [schema_msg(stream, PROPS), *records(stream, rows)]
    items.append({"type": "STATE", "value": {"bookmarks": {"people": mark or len(rows)}}})
    return messages(*items)


ROWS = [{"id": i, "name": f"n{i}"} for i in range(10)]


def test_rerun_with_same_run_id_is_detected(run_target: RunTarget, catalog: Catalog) -> None:
    run_target(_text(ROWS), run_id="run-1")
    target, out = run_target(_text(ROWS), run_id="run-1")
    table = catalog.load_table("acme.people")
    assert len(table.snapshots()) == 1
    assert table.scan().to_arrow().num_rows == 10
    assert target.summary.status == "already_committed"
    assert out == [json.dumps({"bookmarks": {"people": 10}})]
    # Another run (another final state) appends.
    run_target(_text(ROWS, mark=11), run_id="run-2")
    assert catalog.load_table("acme.people").scan().to_arrow().num_rows == 20


def test_exact_replay_under_a_new_run_id_is_not_committed_twice(
    run_target: RunTarget, catalog: Catalog, lake: Path
) -> None:
    # A run killed after its commit, before Meltano got its STATE, is run again from the older
    # state: same rows, same final state, a new MELTANO_RUN_ID.
    run_target(_text(ROWS), run_id="killed")
    files = sorted(lake.rglob("*"))
    target, out = run_target(_text(ROWS), run_id="again")
    table = catalog.load_table("acme.people")
    assert len(table.snapshots()) == 1
    assert table.scan().to_arrow().num_rows == 10
    assert target.summary.status == "already_committed"
    assert out == [json.dumps({"bookmarks": {"people": 10}})]  # Meltano gets the state now
    assert sorted(lake.rglob("*")) == files  # the replay's files and manifests are gone
    # The same final state with other rows is a new run, not a replay.
    other = [{"id": i, "name": f"m{i}"} for i in range(10)]
    run_target(_text(other), run_id="third")
    assert catalog.load_table("acme.people").scan().to_arrow().num_rows == 20


class _CrashingCommitter(PerTableCommitter):
    """Commits the first ``allow`` tables, then fails like a process dying mid-commit."""

    def __init__(self, catalog: Catalog, allow: int) -> None:
        super().__init__(catalog)
        self.allow = allow

    def commit(self, changes: Sequence[TableChange]) -> dict[str, int]:
        first = sorted(changes, key=lambda c: c.identifier)[: self.allow]
        super().commit(first)
        raise CommitError("simulated crash between write and commit")


def _run_with(run_target: RunTarget, text: str, committer_allow: int, **cfg: object) -> None:
    from target_iceberg.target import TargetIceberg

    original = TargetIceberg.committer.fget  # type: ignore[attr-defined]

    def crashing(self: TargetIceberg):  # type: ignore[no-untyped-def]
        original(self)
        return _CrashingCommitter(self.context.catalog, committer_allow)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(TargetIceberg, "committer", property(crashing))
        with pytest.raises(CommitError):
            run_target(text, **cfg)


def test_crash_before_commit_leaves_nothing_and_rerun_lands_once(
    run_target: RunTarget, catalog: Catalog, lake: Path
) -> None:
    _run_with(run_target, _text(ROWS), committer_allow=0, run_id="run-1")
    with pytest.raises(NoSuchTableError):
        catalog.load_table("acme.people")
    assert list(lake.rglob("*.parquet")) == []  # uncommitted files were deleted
    run_target(_text(ROWS), run_id="run-1")
    assert catalog.load_table("acme.people").scan().to_arrow().num_rows == 10


def test_crash_between_tables_rerun_commits_only_the_rest(
    run_target: RunTarget, catalog: Catalog
) -> None:
    text = _text(ROWS, "people", "zebras")
    _run_with(run_target, text, committer_allow=1, run_id="run-7")
    assert catalog.load_table("acme.people").scan().to_arrow().num_rows == 10
    with pytest.raises(NoSuchTableError):
        catalog.load_table("acme.zebras")
    target, _ = run_target(text, run_id="run-7")
    assert catalog.load_table("acme.people").scan().to_arrow().num_rows == 10
    assert len(catalog.load_table("acme.people").snapshots()) == 1
    assert catalog.load_table("acme.zebras").scan().to_arrow().num_rows == 10
    assert target.summary.status == "success"


BAD = [{"id": "x", "name": "bad"}, {"id": 2.5, "name": "bad"}]


def test_threshold_rows_fails_run_and_commits_nothing(
    run_target: RunTarget, catalog: Catalog, tmp_path: Path
) -> None:
    summary_path = tmp_path / "summary.json"
    with pytest.raises(RejectThresholdError, match="max_rejected_rows=1"):
        run_target(_text(ROWS + BAD), max_rejected_rows=1, run_summary_path=str(summary_path))
    with pytest.raises(NoSuchTableError):
        catalog.load_table("acme.people")
    with pytest.raises(NoSuchTableError):
        catalog.load_table("acme.people__rejected")
    summary = json.loads(summary_path.read_text())
    assert summary["status"] == "failed"
    assert summary["exit_code"] == 2
    assert "max_rejected_rows" in summary["error"]
    assert summary["streams"]["people"]["rows_rejected"] == 2
    assert len(summary["streams"]["people"]["sample_rejects"]) == 2


def test_threshold_ratio(run_target: RunTarget, catalog: Catalog) -> None:
    with pytest.raises(RejectThresholdError, match="max_rejected_ratio=0.1"):
        run_target(_text(ROWS + BAD), max_rejected_ratio=0.1)
    target, _ = run_target(_text(ROWS + BAD), max_rejected_ratio=0.2)
    assert catalog.load_table("acme.people").scan().to_arrow().num_rows == 10
    assert catalog.load_table("acme.people__rejected").scan().to_arrow().num_rows == 2
    assert target.summary.exit_code == 1


def test_summary_file_of_a_clean_run(
    run_target: RunTarget, catalog: Catalog, tmp_path: Path
) -> None:
    path = tmp_path / "out" / "summary.json"
    run_target(_text(ROWS), run_summary_path=str(path), run_id="r-9", tenant="acme", job="people")
    summary = json.loads(path.read_text())
    table = catalog.load_table("acme.people")
    assert summary["status"] == "success"
    assert summary["exit_code"] == 0
    assert summary["run_id"] == "r-9"
    assert summary["tenant"] == "acme"
    assert summary["job"] == "people"
    stream = summary["streams"]["people"]
    assert stream["snapshot_id"] == table.current_snapshot().snapshot_id
    assert stream["rows_read"] == stream["rows_landed"] == 10
    assert stream["files"] == 1
    assert stream["bytes"] == sum(
        f.file_size_in_bytes for f in table.scan().plan_files() for f in [f.file]
    )


def test_concurrent_append_is_kept_and_the_run_lands_on_top(
    run_target: RunTarget, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The atomic SQL commit's retry stages the fast append again on top of the other writer's.
    run_target(_text(ROWS), run_id="first")
    original = AtomicSqlCommitter.commit

    def racing(self: AtomicSqlCommitter, changes: Sequence[TableChange]) -> dict[str, int]:
        # Another writer appends to the table after this run staged its change.
        other = catalog.load_table("acme.people")
        other.append(pa.table({"id": [999], "name": ["other"]}, schema=other.schema().as_arrow()))
        return original(self, changes)

    monkeypatch.setattr(AtomicSqlCommitter, "commit", racing)
    target, _ = run_target(_text(ROWS, mark=20), run_id="second")
    table = catalog.load_table("acme.people")
    ids = sorted(r["id"] for r in table.scan().to_arrow().to_pylist())
    assert ids == sorted([*range(10), *range(10), 999])
    assert table.current_snapshot().summary[RUN_ID] == "second"
    assert target.summary.status == "success"
