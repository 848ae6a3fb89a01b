"""The SQL catalog's atomic run commit: all tables' pointers move together, or none does."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.table import StagedTable, Table

from target_iceberg.commit import TableChange
from target_iceberg.errors import CommitError
from target_iceberg.sqlcommit import AtomicSqlCommitter

from .conftest import RunTarget, messages, records, schema_msg

PROPS = {"id": {"type": "integer"}}


def _text(first: int, last: int, *streams: str) -> str:
    items = []
    for stream in streams:
        items += [
            schema_msg(stream, PROPS),
            *records(stream, [{"id": i} for i in range(first, last)]),
        ]
    items.append({"type": "STATE", "value": {"bookmarks": {"last": last}}})
    return messages(*items)


def _ids(catalog: Catalog, name: str) -> list[int] | None:
    try:
        return sorted(catalog.load_table(f"acme.{name}").scan().to_arrow().column("id").to_pylist())
    except NoSuchTableError:
        return None


def _interfere(monkeypatch: pytest.MonkeyPatch, catalog: Catalog, times: int) -> list[int]:
    """Another writer appends to acme.b right before each of the first ``times`` flips."""
    original = AtomicSqlCommitter._flip
    calls = [0]

    def flip(self: AtomicSqlCommitter, staged: Sequence[tuple[Table | None, StagedTable]]) -> None:
        calls[0] += 1
        if calls[0] <= times:
            other = catalog.load_table("acme.b")
            other.append(pa.table({"id": [1000 + calls[0]]}, schema=other.schema().as_arrow()))
        original(self, staged)

    monkeypatch.setattr(AtomicSqlCommitter, "_flip", flip)
    return calls


def test_the_run_uses_the_atomic_committer_on_sqlite(run_target: RunTarget) -> None:
    target, _ = run_target(_text(0, 3, "a"))
    assert isinstance(target.committer, AtomicSqlCommitter)
    assert isinstance(target.context.catalog, SqlCatalog)


def test_a_conflict_on_one_table_retries_the_whole_run_and_keeps_the_other_write(
    run_target: RunTarget, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_target(_text(0, 3, "a", "b"), run_id="first")
    calls = _interfere(monkeypatch, catalog, times=1)
    target, out = run_target(_text(3, 6, "a", "b", "c"), run_id="second")
    assert calls[0] == 2  # the first transaction rolled back, the second went through
    assert _ids(catalog, "a") == [0, 1, 2, 3, 4, 5]
    assert _ids(catalog, "b") == [0, 1, 2, 3, 4, 5, 1001]
    assert _ids(catalog, "c") == [3, 4, 5]
    assert target.summary.status == "success"
    assert out


def test_conflicts_past_the_retries_commit_no_table(
    run_target: RunTarget, catalog: Catalog, monkeypatch: pytest.MonkeyPatch, lake: Path
) -> None:
    run_target(_text(0, 3, "a", "b"), run_id="first")
    _interfere(monkeypatch, catalog, times=99)
    with pytest.raises(CommitError, match="nothing was committed"):
        run_target(_text(3, 6, "a", "b", "c"), run_id="second")
    assert _ids(catalog, "a") == [0, 1, 2]  # a's pointer never moved although b's was the conflict
    assert _ids(catalog, "c") is None
    referenced = {catalog.load_table(f"acme.{t}").metadata_location for t in "ab"}
    metadata = {p.as_uri() for p in lake.rglob("*.metadata.json")}
    assert metadata - referenced == {
        e.metadata_file for t in "ab" for e in catalog.load_table(f"acme.{t}").metadata.metadata_log
    }  # the failed attempts' metadata files were deleted


def test_a_table_created_meanwhile_fails_the_run_and_commits_nothing(
    run_target: RunTarget, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_target(_text(0, 3, "a"), run_id="first")
    original = AtomicSqlCommitter.commit

    def racing(self: AtomicSqlCommitter, changes: Sequence[TableChange]) -> dict[str, int]:
        catalog.create_table("acme.n", schema=catalog.load_table("acme.a").schema())
        return original(self, changes)

    monkeypatch.setattr(AtomicSqlCommitter, "commit", racing)
    with pytest.raises(CommitError, match="created by another run meanwhile"):
        run_target(_text(3, 6, "a", "n"), run_id="second")
    assert _ids(catalog, "a") == [0, 1, 2]
    assert _ids(catalog, "n") == []


class _EngineSnapshot:
    """A snapshot an engine would make at commit time (as Spark's write does)."""

    def __init__(self) -> None:
        self.ran = False
        self.discarded = False

    def run(self) -> Table:
        self.ran = True
        raise AssertionError("the atomic committer must not run an engine's write")

    def discard(self) -> None:
        self.discarded = True


def test_a_change_whose_snapshot_the_engine_makes_is_refused_before_any_commit(
    run_target: RunTarget, catalog: Catalog
) -> None:
    run_target(_text(0, 3, "a", "b"), run_id="first")
    plain = catalog.load_table("acme.a").transaction()
    plain.append(pa.table({"id": [3]}, schema=catalog.load_table("acme.a").schema().as_arrow()))
    deferred = _EngineSnapshot()
    engine = TableChange(
        ("acme", "b"), catalog.load_table("acme.b").transaction(), 0, False, deferred=deferred
    )
    assert isinstance(catalog, SqlCatalog)
    committer = AtomicSqlCommitter(catalog)
    with pytest.raises(CommitError, match=r"acme\.b: their snapshots are made by the engine"):
        committer.commit([TableChange(("acme", "a"), plain, 1, False), engine])
    assert not deferred.ran
    assert _ids(catalog, "a") == [0, 1, 2]  # nothing of the run was committed
    engine.discard()
    assert deferred.discarded
