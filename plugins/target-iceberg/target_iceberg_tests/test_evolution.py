"""Schema evolution between spec versions: additive columns and legal promotions are applied
in the data's own commit; anything else fails before a byte is written."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pyiceberg.catalog import Catalog

from target_iceberg.errors import EvolutionError

from .conftest import RunTarget, messages, records, schema_msg
from .readback import duckdb_rows

V1 = """
asset: items
version: "1"
schema:
  columns:
    - {name: id, type: long, required: true}
    - {name: qty, type: int}
    - {name: price, type: "decimal(10,2)"}
    - {name: score, type: float}
    - {name: dims, type: "struct<w:int>"}
"""
V2 = """
asset: items
version: "2"
schema:
  columns:
    - {name: id, type: long, required: true}
    - {name: qty, type: long}
    - {name: price, type: "decimal(14,2)"}
    - {name: score, type: double}
    - {name: dims, type: "struct<w:long,h:int>"}
    - {name: note, type: string, required: true}
"""
BAD = """
asset: items
version: "3"
schema:
  columns:
    - {name: id, type: long, required: true}
    - {name: qty, type: string}
"""


def _run(run_target: RunTarget, tmp_path: Path, spec: str, rows: list[dict], **cfg: object):  # type: ignore[no-untyped-def]
    path = tmp_path / "items.yaml"
    path.write_text(spec, encoding="utf-8")
    text = messages(schema_msg("items", {"id": {"type": "integer"}}), *records("items", rows))
    return run_target(text, streams={"items": {"asset_spec": str(path)}}, **cfg)


def _data_files(lake: Path) -> list[Path]:
    return sorted(lake.rglob("*.parquet"))


def test_additive_and_promotions_in_one_commit(
    run_target: RunTarget, catalog: Catalog, tmp_path: Path, lake: Path
) -> None:
    _run(
        run_target,
        tmp_path,
        V1,
        [{"id": 1, "qty": 2, "price": "1.50", "score": 0.5, "dims": {"w": 3}}],
    )
    table = catalog.load_table("acme.items")
    metadata_files_before = len(table.metadata.metadata_log)

    big = 2**40
    target, _ = _run(
        run_target,
        tmp_path,
        V2,
        [
            {
                "id": 2,
                "qty": big,
                "price": "123456789.25",
                "score": 0.1,
                "dims": {"w": big, "h": 1},
                "note": "n",
            }
        ],
    )
    table = catalog.load_table("acme.items")
    schema = table.schema()
    assert str(schema.find_field("qty").field_type) == "long"
    assert str(schema.find_field("price").field_type) == "decimal(14, 2)"
    assert str(schema.find_field("score").field_type) == "double"
    assert (
        str(schema.find_field("dims").field_type)
        == "struct<6: w: optional long, 7: h: optional int>"
    )
    # A column added to a table with rows cannot be required in Iceberg; the contract still is.
    assert not schema.find_field("note").required
    assert len(table.snapshots()) == 2
    # Schema change and data: one new metadata file, so one commit.
    assert len(table.metadata.metadata_log) == metadata_files_before + 1
    assert target.summary.streams["items"].schema_changes == [
        "promote qty: int -> long",
        "promote price: decimal(10,2) -> decimal(14,2)",
        "promote score: float -> double",
        "promote dims.w: int -> long",
        "add column dims.h: int",
        "add column note: string",
    ]
    rows = sorted(table.scan().to_arrow().to_pylist(), key=lambda r: r["id"])
    assert rows[0]["qty"] == 2
    assert rows[0]["note"] is None
    assert rows[1]["qty"] == big
    assert rows[1]["price"] == Decimal("123456789.25")
    assert rows[1]["dims"] == {"w": big, "h": 1}
    # An independent reader resolves the old file (int, decimal(10,2)) by field id, too.
    _, seen, types = duckdb_rows(
        table, "select id, qty, price, score, dims, note from t order by id"
    )
    assert seen[0][:3] == (1, 2, Decimal("1.50"))
    assert seen[0][4] == {"w": 3, "h": None}
    assert seen[0][5] is None
    assert seen[1][:3] == (2, big, Decimal("123456789.25"))
    by_name = {t.split("'")[1]: t for t in types}
    assert "BIGINT" in by_name["qty"]
    assert "DECIMAL(14,2)" in by_name["price"]


def test_illegal_change_writes_nothing(
    run_target: RunTarget, catalog: Catalog, tmp_path: Path, lake: Path
) -> None:
    _run(run_target, tmp_path, V1, [{"id": 1, "qty": 2}])
    files_before = _data_files(lake)
    with pytest.raises(EvolutionError, match=r"qty: cannot change int to string"):
        _run(run_target, tmp_path, BAD, [{"id": 2, "qty": "x"}])
    table = catalog.load_table("acme.items")
    assert len(table.snapshots()) == 1
    assert str(table.schema().find_field("qty").field_type) == "int"
    assert _data_files(lake) == files_before


def test_dropping_a_required_column_is_refused(
    run_target: RunTarget, catalog: Catalog, tmp_path: Path
) -> None:
    _run(run_target, tmp_path, V2, [{"id": 1, "qty": 5, "note": "a"}])
    with pytest.raises(EvolutionError, match=r"required table column\(s\) \['note'\]"):
        _run(run_target, tmp_path, V1, [{"id": 2, "qty": 6}])
    assert len(catalog.load_table("acme.items").snapshots()) == 1


def test_narrower_contract_type_keeps_the_wider_table_type(
    run_target: RunTarget, catalog: Catalog, tmp_path: Path
) -> None:
    v2_optional = V2.replace(
        "{name: note, type: string, required: true}", "{name: note, type: string}"
    )
    _run(run_target, tmp_path, v2_optional, [{"id": 1, "qty": 5, "note": "a"}])
    _run(run_target, tmp_path, V1, [{"id": 2, "qty": 6}], unknown_columns="reject")
    table = catalog.load_table("acme.items")
    assert str(table.schema().find_field("qty").field_type) == "long"
    assert sorted(r["qty"] for r in table.scan().to_arrow().to_pylist()) == [5, 6]


def test_unknown_columns_evolve_adds_schema_message_columns(
    run_target: RunTarget, catalog: Catalog, tmp_path: Path
) -> None:
    path = tmp_path / "items.yaml"
    path.write_text(V1, encoding="utf-8")
    hint = {"id": {"type": "integer"}, "colour": {"type": ["string", "null"]}}
    text = messages(
        schema_msg("items", hint),
        *records("items", [{"id": 1, "colour": "red"}, {"id": 2, "shape": "round"}]),
    )
    run_target(text, streams={"items": {"asset_spec": str(path)}}, unknown_columns="evolve")
    table = catalog.load_table("acme.items")
    assert [r["colour"] for r in table.scan().to_arrow().to_pylist()] == ["red"]
    rejected = catalog.load_table("acme.items__rejected").scan().to_arrow().to_pylist()
    assert len(rejected) == 1
    assert "shape" in rejected[0]["reason"]


def test_unknown_columns_ignore_drops_fields(
    run_target: RunTarget, catalog: Catalog, tmp_path: Path
) -> None:
    path = tmp_path / "items.yaml"
    path.write_text(V1, encoding="utf-8")
    text = messages(
        schema_msg("items", {"id": {"type": "integer"}}),
        *records("items", [{"id": 1, "colour": "red", "dims": {"w": 1, "d": 2}}]),
    )
    target, _ = run_target(
        text, streams={"items": {"asset_spec": str(path)}}, unknown_columns="ignore"
    )
    table = catalog.load_table("acme.items")
    assert "colour" not in table.schema().column_names
    assert table.scan().to_arrow().to_pylist()[0]["dims"] == {"w": 1}
    assert target.summary.status == "success"


def test_schema_message_changes_within_and_across_runs(
    run_target: RunTarget, catalog: Catalog
) -> None:
    base = {"id": {"type": "integer"}}
    run_target(messages(schema_msg("s", base), *records("s", [{"id": 1}])))
    wider = {**base, "a": {"type": "string"}}
    widest = {**wider, "b": {"type": "boolean"}}
    target, _ = run_target(
        messages(
            schema_msg("s", wider),
            *records("s", [{"id": 2, "a": "x"}]),
            schema_msg("s", widest),
            *records("s", [{"id": 3, "a": "y", "b": True}]),
        )
    )
    table = catalog.load_table("acme.s")
    assert table.schema().column_names == ["id", "a", "b"]
    assert [s.schema_id for s in table.schemas().values()] == [0, 1]
    rows = sorted(table.scan().to_arrow().to_pylist(), key=lambda r: r["id"])
    assert rows == [
        {"id": 1, "a": None, "b": None},
        {"id": 2, "a": "x", "b": None},
        {"id": 3, "a": "y", "b": True},
    ]
    assert len(table.snapshots()) == 2
    assert target.summary.streams["s"].schema_changes == [
        "add column a: string",
        "add column b: boolean",
    ]


REQUIRED_NAME = """
asset: items
version: "1"
schema:
  columns:
    - {name: id, type: long, required: true}
    - {name: name, type: string, required: true}
  primary_key: [id]
"""


def _named(run_target: RunTarget, tmp_path: Path, spec: str | None, rows: list[dict]):  # type: ignore[no-untyped-def]
    props = {"id": {"type": "integer"}, "name": {"type": ["string", "null"]}}
    text = messages(schema_msg("items", props), *records("items", rows))
    if spec is None:
        return run_target(text)
    path = tmp_path / "items.yaml"
    path.write_text(spec, encoding="utf-8")
    return run_target(text, streams={"items": {"asset_spec": str(path)}})


def test_a_spec_relaxing_a_required_column_makes_it_optional(
    run_target: RunTarget, catalog: Catalog, tmp_path: Path
) -> None:
    # Before: the relaxed spec's null values crashed the write (ArrowInvalid, exit 3).
    _named(run_target, tmp_path, REQUIRED_NAME, [{"id": 1, "name": "a"}])
    relaxed = REQUIRED_NAME.replace(
        "{name: name, type: string, required: true}", "{name: name, type: string}"
    )
    target, _ = _named(run_target, tmp_path, relaxed, [{"id": 2, "name": None}, {"id": 3}])
    table = catalog.load_table("acme.items")
    assert not table.schema().find_field("name").required
    assert table.schema().find_field("id").required  # the key stays required
    assert target.summary.streams["items"].schema_changes == ["make column name optional"]
    rows = sorted(table.scan().to_arrow().to_pylist(), key=lambda r: r["id"])
    assert rows == [{"id": 1, "name": "a"}, {"id": 2, "name": None}, {"id": 3, "name": None}]
    assert len(table.snapshots()) == 2  # the schema change rode in the data's commit


def test_relaxing_a_primary_key_column_is_refused(
    run_target: RunTarget, catalog: Catalog, tmp_path: Path
) -> None:
    _named(run_target, tmp_path, REQUIRED_NAME, [{"id": 1, "name": "a"}])
    # (A spec's own primary key must be required: this one dropped it from primary_key too.)
    loose_key = REQUIRED_NAME.replace(
        "{name: id, type: long, required: true}", "{name: id, type: long}"
    ).replace("  primary_key: [id]\n", "")
    with pytest.raises(EvolutionError, match=r"column 'id' is in the table's primary key"):
        _named(run_target, tmp_path, loose_key, [{"id": 2, "name": "b"}])
    assert len(catalog.load_table("acme.items").snapshots()) == 1


def test_a_singer_contract_quarantines_nulls_of_a_required_table_column(
    run_target: RunTarget, catalog: Catalog, tmp_path: Path
) -> None:
    # A Singer SCHEMA never requires, but it does not relax a table a spec made either.
    _named(run_target, tmp_path, REQUIRED_NAME, [{"id": 1, "name": "a"}])
    target, _ = _named(
        run_target, tmp_path, None, [{"id": 2, "name": None}, {"id": 3, "name": "c"}]
    )
    table = catalog.load_table("acme.items")
    assert table.schema().find_field("name").required
    assert sorted(r["id"] for r in table.scan().to_arrow().to_pylist()) == [1, 3]
    assert target.summary.streams["items"].rows_rejected == 1
