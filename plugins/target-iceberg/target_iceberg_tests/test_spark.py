"""Engine ``spark`` (marker ``spark``): one local Spark session shared by the module.

Spark writes, pyiceberg reads (and the other way round) on the embedded SQLite catalog and on
the reference REST catalog over the S3 server; one hostile stream and one merge give the same
landed and quarantined rows under both engines. The loader finds the module's running session
and only sets its own catalog on it (a catalog name per test: Spark caches catalogs by name).
"""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from pyiceberg.catalog import Catalog, load_catalog

from target_iceberg.commit import JOB, RUN_ID, STATE, TENANT
from target_iceberg.config import SparkSettings
from target_iceberg.spark.session import SparkSessionHandle
from target_iceberg.target import TargetIceberg

from .conftest import catalog_props, messages, records, schema_msg

pytestmark = [
    pytest.mark.spark,
    # py4j leaves its gateway sockets to the garbage collector.
    pytest.mark.filterwarnings(
        r"ignore:Exception ignored in. <socket\.socket:pytest.PytestUnraisableExceptionWarning"
    ),
]

SPEC = """\
asset: items
version: "2.1"
schema:
  columns:
    - {name: id, type: long, required: true}
    - {name: name, type: string}
    - {name: amount, type: "decimal(10,2)"}
    - {name: at, type: timestamptz}
    - {name: version, type: long, required: true}
  primary_key: [id]
  cursor: version
"""
PROPS = {"id": {"type": "integer"}}


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The module's Spark session (jars fetched by the project's own fetch step if missing)."""
    lake = tmp_path_factory.mktemp("bootstrap")
    handle = SparkSessionHandle(SparkSettings(), "bootstrap", catalog_props(lake))
    session = handle.session()
    yield session
    session.stop()
    handle.stop()
    # py4j closes its gateway connections when they are collected, at the interpreter's exit,
    # and says so at INFO to a handler whose stream pytest has closed by then ("Logging error").
    logging.getLogger("py4j").setLevel(logging.WARNING)


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "items.yaml"
    path.write_text(SPEC)
    return path


def _load(
    text: str, props: dict[str, str], name: str, spec: Path, **settings: Any
) -> tuple[TargetIceberg, list[str]]:
    config = {
        "namespace": "acme",
        "tenant": "acme",
        "job": "items_job",
        "catalog_name": name,
        "catalog_properties": props,
        "streams": {"items": {"asset_spec": str(spec)}},
        **settings,
    }
    target = TargetIceberg(config=config)
    out = io.StringIO()
    with redirect_stdout(out):
        target.process_lines(io.BytesIO(text.encode()))  # type: ignore[arg-type]
        target.process_endofpipe()
    return target, [line for line in out.getvalue().splitlines() if line.strip()]


def _stream(rows: list[dict[str, Any]], state: str) -> str:
    return messages(
        schema_msg("items", PROPS, key_properties=["id"]),
        *records("items", rows),
        {"type": "STATE", "value": {"bookmark": state}},
    )


GOOD = [
    {"id": i, "name": f"n{i}", "amount": "1.25", "at": "2024-05-01T10:00:00+02:00", "version": 1}
    for i in range(5)
]
HOSTILE = [
    *GOOD,
    {"id": 10, "version": "one"},  # not a long
    {"id": 11, "version": 1, "amount": "1.234"},  # more fractional digits than the scale
    {"id": 12, "version": 1, "at": "10000-01-01T00:00:00Z"},  # beyond year 9999
    {"version": 1},  # the required key is missing
    {"id": 13, "version": 1, "extra": "x"},  # a column the contract lacks
    {"id": 14, "version": 1, "name": 7},  # a number for a string
    {"id": 2**63, "version": 1},  # beyond long
]


def _landed(catalog: Catalog) -> list[tuple[Any, ...]]:
    rows = catalog.load_table("acme.items").scan().to_arrow().sort_by("id").to_pylist()
    return [(r["id"], r["name"], str(r["amount"]), r["version"]) for r in rows]


def _quarantined(catalog: Catalog) -> list[tuple[str, str]]:
    rows = catalog.load_table("acme.items__rejected").scan().to_arrow().to_pylist()
    return sorted((r["raw"], ",".join(r["columns"])) for r in rows)


@pytest.mark.parametrize("engine", ["native", "spark"])
def test_same_hostile_stream_lands_the_same_rows_under_both_engines(
    engine: str, spark: Any, tmp_path: Path, spec: Path
) -> None:
    name = f"c_{uuid.uuid4().hex[:8]}"
    props = catalog_props(tmp_path / "lake")
    target, out = _load(_stream(HOSTILE, "s1"), props, name, spec, engine=engine, run_id="r1")
    catalog = load_catalog(name, **props)
    assert _landed(catalog) == [(i, f"n{i}", "1.25", 1) for i in range(5)]
    assert _quarantined(catalog) == [
        ('{"id": 10, "version": "one"}', "version"),
        ('{"id": 11, "version": 1, "amount": "1.234"}', "amount"),
        ('{"id": 12, "version": 1, "at": "10000-01-01T00:00:00Z"}', "at"),
        ('{"id": 13, "version": 1, "extra": "x"}', "extra"),
        ('{"id": 14, "version": 1, "name": 7}', "name"),
        ('{"id": 9223372036854775808, "version": 1}', "id"),
        ('{"version": 1}', "id"),
    ]
    summary = target.summary
    assert summary.status == "partial"
    assert (summary.streams["items"].rows_landed, summary.streams["items"].rows_rejected) == (5, 7)
    table = catalog.load_table("acme.items")
    assert len(table.snapshots()) == 1
    snapshot = table.current_snapshot()
    assert snapshot is not None and snapshot.summary is not None
    assert snapshot.summary[RUN_ID] == "r1"
    assert (snapshot.summary[TENANT], snapshot.summary[JOB]) == ("acme", "items_job")
    assert json.loads(snapshot.summary[STATE]) == {"bookmark": "s1"}
    assert snapshot.summary.get("engine-name") == ("spark" if engine == "spark" else None)
    assert out == [json.dumps({"bookmark": "s1"})]


@pytest.mark.parametrize("engine", ["native", "spark"])
def test_merge_keeps_one_version_per_key_under_both_engines(
    engine: str, spark: Any, tmp_path: Path, spec: Path
) -> None:
    name = f"c_{uuid.uuid4().hex[:8]}"
    props = catalog_props(tmp_path / "lake")
    _load(_stream(GOOD, "s1"), props, name, spec, engine=engine, write_mode="merge", run_id="r1")
    rows = [
        {"id": 1, "name": "newer", "version": 2},
        {"id": 1, "name": "older-later", "version": 0},  # later in the run, older version
        {"id": 2, "name": "stale", "version": 0},  # older than the table's row
        {"id": 3, "name": "first", "version": 1},
        {"id": 3, "name": "same-later", "version": 1},  # equal cursor: the later wins
        {"id": 8, "name": "new", "version": 1},
    ]
    target, out = _load(
        _stream(rows, "s2"), props, name, spec, engine=engine, write_mode="merge", run_id="r2"
    )
    catalog = load_catalog(name, **props)
    assert _landed(catalog) == [
        (0, "n0", "1.25", 1),
        (1, "newer", "None", 2),
        (2, "n2", "1.25", 1),
        (3, "same-later", "None", 1),
        (4, "n4", "1.25", 1),
        (8, "new", "None", 1),
    ]
    counts = target.summary.streams["items"].merge
    assert counts is not None
    assert (counts.inserted, counts.updated, counts.duplicates, counts.stale) == (1, 2, 2, 1)
    assert len(catalog.load_table("acme.items").snapshots()) == 2
    assert out == [json.dumps({"bookmark": "s2"})]


def test_spark_reads_what_native_wrote_and_pyiceberg_reads_what_spark_wrote(
    spark: Any, tmp_path: Path, spec: Path
) -> None:
    name = f"c_{uuid.uuid4().hex[:8]}"
    props = catalog_props(tmp_path / "lake")
    _load(_stream(GOOD[:3], "s1"), props, name, spec, engine="native", run_id="r1")
    _load(_stream(GOOD[3:], "s2"), props, name, spec, engine="spark", run_id="r2")
    seen = spark.sql(f"SELECT id, name, amount, at FROM {name}.acme.items ORDER BY id").collect()
    assert [(r.id, r.name, str(r.amount)) for r in seen] == [(i, f"n{i}", "1.25") for i in range(5)]
    assert {r.at.isoformat() for r in seen} == {"2024-05-01T08:00:00"}  # UTC session
    catalog = load_catalog(name, **props)
    assert _landed(catalog) == [(i, f"n{i}", "1.25", 1) for i in range(5)]
    runs = [s.summary[RUN_ID] for s in catalog.load_table("acme.items").snapshots() if s.summary]
    assert runs == ["r1", "r2"]


def test_spark_on_the_reference_rest_catalog_over_s3(
    spark: Any, iceberg_rest_server: Any, spec: Path
) -> None:
    name = f"rest_{uuid.uuid4().hex[:8]}"
    namespace = f"acme_{uuid.uuid4().hex[:6]}"
    props = iceberg_rest_server.catalog_properties()
    config = {"namespace": namespace, "catalog_name": name, "catalog_properties": props}
    text = _stream(HOSTILE, "s1")
    target = TargetIceberg(
        config={**config, "engine": "spark", "streams": {"items": {"asset_spec": str(spec)}}}
    )
    out = io.StringIO()
    with redirect_stdout(out):
        target.process_lines(io.BytesIO(text.encode()))  # type: ignore[arg-type]
        target.process_endofpipe()
    catalog = load_catalog(name, **props)
    table = catalog.load_table(f"{namespace}.items")
    assert table.metadata.location.startswith("s3://")
    assert sorted(table.scan().to_arrow()["id"].to_pylist()) == list(range(5))
    assert catalog.load_table(f"{namespace}.items__rejected").scan().to_arrow().num_rows == 7
    assert out.getvalue().strip() == json.dumps({"bookmark": "s1"})
