"""write_mode merge on the native engine: upserts by primary key on a real SQLite catalog.

One version per key survives (last in stream order, or the larger cursor), against rows of the
run and rows of the table; each run adds exactly one snapshot; files without a replaced key are
neither read in full nor rewritten.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog

from target_iceberg.commit import RUN_ID
from target_iceberg.errors import ConfigError

from .conftest import RunTarget, messages, records, schema_msg

SPEC = """\
asset: items
version: "1.0"
schema:
  columns:
    - {name: id, type: long, required: true}
    - {name: name, type: string}
    - {name: version, type: long, required: true}
  primary_key: [id]
"""


def _spec(tmp_path: Path, *, cursor: bool = False, partition: str = "") -> Path:
    path = tmp_path / "items.yaml"
    text = SPEC + ("  cursor: version\n" if cursor else "")
    if partition:
        text += f"  partitioning:\n    - {{column: id, transform: '{partition}'}}\n"
    path.write_text(text)
    return path


PROPS = {"id": {"type": "integer"}, "name": {"type": "string"}, "version": {"type": "integer"}}


def _run(run_target: RunTarget, spec: Path, rows: list[dict], run_id: str, **cfg: object):
    text = messages(
        schema_msg("items", PROPS, key_properties=["id"]),
        *records("items", rows),
        {"type": "STATE", "value": {"run": run_id}},
    )
    return run_target(
        text,
        run_id=run_id,
        write_mode="merge",
        streams={"items": {"asset_spec": str(spec)}},
        **cfg,
    )


def _rows(catalog: Catalog) -> dict[int, tuple[str, int]]:
    table = catalog.load_table("acme.items").scan().to_arrow()
    ids = table["id"].to_pylist()
    assert len(ids) == len(set(ids)), "a key landed twice"
    return {
        i: (n, v)
        for i, n, v in zip(
            ids, table["name"].to_pylist(), table["version"].to_pylist(), strict=True
        )
    }


def test_merge_upserts_and_deduplicates_within_the_run(
    run_target: RunTarget, catalog: Catalog, tmp_path: Path
) -> None:
    spec = _spec(tmp_path)
    _run(run_target, spec, [{"id": i, "name": f"a{i}", "version": 1} for i in range(10)], "r1")
    rows = [
        {"id": 3, "name": "b3", "version": 2},
        {"id": 42, "name": "first", "version": 1},
        {"id": 3, "name": "c3", "version": 1},  # later in the stream: wins without a cursor
        {"id": 42, "name": "second", "version": 1},
    ]
    target, out = _run(run_target, spec, rows, "r2")
    got = _rows(catalog)
    assert len(got) == 11
    assert got[3] == ("c3", 1)
    assert got[42] == ("second", 1)
    assert got[4] == ("a4", 1)
    table = catalog.load_table("acme.items")
    assert len(table.snapshots()) == 2
    snapshot = table.current_snapshot()
    assert snapshot is not None and snapshot.summary is not None
    assert snapshot.summary[RUN_ID] == "r2"
    assert snapshot.summary.operation.value == "overwrite"
    counts = target.summary.streams["items"].merge
    assert counts is not None
    assert (counts.inserted, counts.updated, counts.duplicates, counts.stale) == (1, 1, 2, 0)
    assert out[-1] == '{"run": "r2"}'


def test_cursor_decides_between_versions_in_the_run_and_against_the_table(
    run_target: RunTarget, catalog: Catalog, tmp_path: Path
) -> None:
    spec = _spec(tmp_path, cursor=True)
    _run(run_target, spec, [{"id": i, "name": f"a{i}", "version": 5} for i in range(4)], "r1")
    rows = [
        {"id": 0, "name": "newer", "version": 6},
        {"id": 0, "name": "older-later", "version": 4},  # later, but an older version
        {"id": 1, "name": "stale", "version": 3},  # older than the table's row
        {"id": 2, "name": "same", "version": 5},  # equal cursor: the run's record wins
        {"id": 9, "name": "new", "version": 1},
    ]
    target, _ = _run(run_target, spec, rows, "r2")
    got = _rows(catalog)
    assert got == {
        0: ("newer", 6),
        1: ("a1", 5),
        2: ("same", 5),
        3: ("a3", 5),
        9: ("new", 1),
    }
    counts = target.summary.streams["items"].merge
    assert counts is not None
    assert (counts.inserted, counts.updated, counts.duplicates, counts.stale) == (1, 2, 1, 1)


def test_only_files_holding_a_replaced_key_are_rewritten(
    run_target: RunTarget, catalog: Catalog, tmp_path: Path
) -> None:
    spec = _spec(tmp_path, partition="truncate[100]")
    for run, start in (("r1", 0), ("r2", 100), ("r3", 200)):
        _run(
            run_target,
            spec,
            [{"id": i, "name": "x", "version": 1} for i in range(start, start + 100)],
            run,
        )
    before = {f.file_path for f in _data_files(catalog)}
    assert len(before) == 3
    target, _ = _run(run_target, spec, [{"id": 150, "name": "y", "version": 2}], "r4")
    counts = target.summary.streams["items"].merge
    assert counts is not None
    assert counts.files_probed == 1 and counts.files_rewritten == 1
    after = {f.file_path for f in _data_files(catalog)}
    assert len(before & after) == 2  # the files of ids 0-99 and 200-299 are untouched
    got = _rows(catalog)
    assert len(got) == 300 and got[150] == ("y", 2)


def test_merge_into_a_new_table_and_a_rerun_is_detected(
    run_target: RunTarget, catalog: Catalog, tmp_path: Path
) -> None:
    spec = _spec(tmp_path)
    rows = [{"id": 1, "name": "a", "version": 1}, {"id": 1, "name": "b", "version": 1}]
    _run(run_target, spec, rows, "r1")
    target, _ = _run(run_target, spec, rows, "r1")
    assert target.summary.status == "already_committed"
    assert _rows(catalog) == {1: ("b", 1)}
    assert len(catalog.load_table("acme.items").snapshots()) == 1


def test_merge_without_a_key_is_a_config_error(run_target: RunTarget) -> None:
    text = messages(schema_msg("items", PROPS), *records("items", [{"id": 1}]))
    with pytest.raises(ConfigError, match="write_mode merge needs a primary key"):
        run_target(text, write_mode="merge")


def test_merge_keeps_quarantine_and_columns_outside_the_contract(
    run_target: RunTarget, catalog: Catalog, tmp_path: Path
) -> None:
    spec = _spec(tmp_path)
    _run(run_target, spec, [{"id": 1, "name": "a", "version": 1}], "r1")
    table = catalog.load_table("acme.items")
    with table.update_schema() as update:
        update.add_column("note", pa_type_string())
    table = catalog.load_table("acme.items")
    table.append(
        pa.table(
            {"id": [2, 4], "name": ["n", "n"], "version": [1, 1], "note": ["gone", "kept"]},
            schema=table.schema().as_arrow(),
        )
    )
    target, _ = _run(
        run_target,
        spec,
        [{"id": 2, "name": "b", "version": 2}, {"id": 3, "name": "bad", "version": "x"}],
        "r2",
    )
    result = catalog.load_table("acme.items").scan().to_arrow().sort_by("id").to_pylist()
    assert [(r["id"], r["name"], r["note"]) for r in result] == [
        (1, "a", None),
        (2, "b", None),
        (4, "n", "kept"),  # rewritten with the column the contract does not know
    ]
    assert target.summary.streams["items"].rows_rejected == 1
    assert catalog.load_table("acme.items__rejected").scan().to_arrow().num_rows == 1


def pa_type_string():  # pyiceberg's type, imported lazily to keep the module's imports plain
    from pyiceberg.types import StringType

    return StringType()


def _data_files(catalog: Catalog):
    table = catalog.load_table("acme.items")
    return [task.file for task in table.scan().plan_files()]
