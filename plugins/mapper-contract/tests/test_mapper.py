"""mapper-contract in-process on a real embedded catalog: what leaves, what is quarantined, when.

The guarantees under test: only rows that keep the contract leave (coerced, in the contract's
schema), every other record is in ``<table>__rejected`` with its reason, nothing is silently
dropped, and the STATE leaves only after the quarantine rows are committed.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from pyiceberg.catalog import Catalog, load_catalog

from mapper_contract.mapper import MapperContract
from plugin_errors import EXIT_TERMINAL

SPEC = """\
asset: deals
version: "1.0"
schema:
  columns:
    - {name: deal_id, type: long, required: true}
    - {name: day, type: date, required: true}
    - {name: account, type: string}
    - {name: probability, type: double}
    - {name: won, type: boolean}
    - {name: updated_at, type: timestamptz}
    - {name: tags, type: "list<string>"}
  primary_key: [deal_id]
  partitioning:
    - {column: day, transform: month}
"""

TAP_SCHEMA = {
    "type": "SCHEMA",
    "stream": "deals",
    "key_properties": ["deal_id"],
    "schema": {
        "type": "object",
        "properties": {
            name: {}
            for name in ("deal_id", "day", "account", "probability", "won", "updated_at", "tags")
        },
    },
}

GOOD = [
    {
        "deal_id": 1,
        "day": "2026-11-01",
        "account": "Acme",
        "probability": 0.5,
        "won": True,
        "updated_at": "2026-11-01T10:00:00+01:00",
        "tags": ["a", "b"],
    },
    # Text the coercion rules accept: a numeric string, a boolean word.
    {"deal_id": "2", "day": "2026-11-02", "account": "Initech", "won": "false"},
]
BAD = [
    {"deal_id": "not-a-number", "day": "2026-11-03"},
    {"deal_id": 4, "day": "03/11/2026"},
    {"day": "2026-11-04", "account": "no key"},
    {"deal_id": 6, "day": "2026-11-05", "surprise": 1},
]


def _props(root: Path) -> dict[str, str]:
    (root / "warehouse").mkdir(parents=True, exist_ok=True)
    return {
        "type": "sql",
        "uri": f"sqlite:///{root / 'catalog.db'}",
        "warehouse": (root / "warehouse").as_uri(),
    }


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def catalog(lake: Path) -> Catalog:
    return load_catalog("default", **_props(lake))


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "deals.yaml"
    path.write_text(SPEC)
    return path


def _stream(*rows: dict[str, Any], state: bool = True) -> str:
    lines = [TAP_SCHEMA] + [{"type": "RECORD", "stream": "deals", "record": r} for r in rows]
    if state:
        lines.append({"type": "STATE", "value": {"bookmarks": {"deals": {"n": len(rows)}}}})
    return "".join(json.dumps(m) + "\n" for m in lines)


def _run(
    text: str, lake: Path, spec: Path, **config: Any
) -> tuple[MapperContract, list[dict[str, Any]]]:
    cfg = {
        "namespace": "acme",
        "tenant": "acme",
        "job": "deals",
        "catalog_properties": _props(lake),
        "streams": {"deals": {"table": "deals", "asset_spec": str(spec)}},
        "run_id": "run-1",
        **config,
    }
    mapper = MapperContract(config=cfg)
    out = io.StringIO()
    with redirect_stdout(out):
        mapper.process_lines(io.BytesIO(text.encode()))  # type: ignore[arg-type]
        mapper.process_endofpipe()
    return mapper, [json.loads(line) for line in out.getvalue().splitlines()]


def test_valid_rows_leave_in_the_contract_schema_and_rejects_are_quarantined(
    lake: Path, spec: Path, catalog: Catalog
) -> None:
    mapper, out = _run(_stream(*GOOD, *BAD), lake, spec)

    kinds = [m["type"] for m in out]
    assert kinds == ["SCHEMA", "RECORD", "RECORD", "STATE"]
    schema = out[0]
    assert schema["key_properties"] == ["deal_id"]
    props = schema["schema"]["properties"]
    assert list(props) == ["deal_id", "day", "account", "probability", "won", "updated_at", "tags"]
    assert props["deal_id"] == {"type": "integer"}
    assert props["day"] == {"type": "string", "format": "date"}
    assert props["updated_at"] == {"type": ["null", "string"], "format": "date-time"}
    assert props["tags"]["type"] == ["null", "array"]
    assert schema["schema"]["required"] == ["deal_id", "day"]
    assert schema["schema"]["additionalProperties"] is False

    first, second = out[1]["record"], out[2]["record"]
    assert first["updated_at"] == "2026-11-01T09:00:00+00:00"  # normalised to UTC
    assert first["tags"] == ["a", "b"]
    assert second["deal_id"] == 2 and second["won"] is False and second["probability"] is None
    assert out[3]["value"] == {"bookmarks": {"deals": {"n": 6}}}

    rejected = catalog.load_table(("acme", "deals__rejected")).scan().to_arrow().to_pylist()
    assert len(rejected) == len(BAD)
    reasons = " | ".join(r["reason"] for r in rejected)
    assert "deal_id" in reasons and "day" in reasons and "surprise" in reasons
    assert {r["run_id"] for r in rejected} == {"run-1"}

    # Each reject is kept as the tap sent it.
    def canonical(value: Any) -> str:
        return json.dumps(value, sort_keys=True)

    assert sorted(canonical(json.loads(r["raw"])) for r in rejected) == sorted(
        canonical(b) for b in BAD
    )

    summary = mapper.summary.streams["deals"]
    assert (summary.rows_read, summary.rows_landed, summary.rows_rejected) == (6, 2, 4)
    assert mapper.summary.status == "partial"


def test_the_table_is_created_from_the_contract_before_any_row_leaves(
    lake: Path, spec: Path, catalog: Catalog
) -> None:
    _run(_stream(*GOOD), lake, spec)

    table = catalog.load_table(("acme", "deals"))
    assert [f.name for f in table.schema().fields] == [
        "deal_id",
        "day",
        "account",
        "probability",
        "won",
        "updated_at",
        "tags",
    ]
    assert [f.required for f in table.schema().fields][:2] == [True, True]
    assert [str(f.transform) for f in table.spec().fields] == ["month"]
    # The mapper never writes the stream's table: the loader does.
    assert table.current_snapshot() is None


def test_state_leaves_only_after_the_rejects_are_committed(
    lake: Path, spec: Path, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    emit = MapperContract.emit

    def checking_emit(self: MapperContract, data: bytes) -> None:
        if data.startswith(b'{"type": "STATE"'):
            table = catalog.load_table(("acme", "deals__rejected"))
            seen.append(len(table.scan().to_arrow()))
        emit(self, data)

    monkeypatch.setattr(MapperContract, "emit", checking_emit)
    _run(_stream(*GOOD, *BAD), lake, spec)
    assert seen == [len(BAD)]


def test_too_many_rejects_fail_the_run_and_hold_the_state(
    lake: Path, spec: Path, catalog: Catalog
) -> None:
    with pytest.raises(Exception, match="max_rejected_rows=1") as caught:
        _run(_stream(*GOOD, *BAD), lake, spec, max_rejected_rows=1)
    assert type(caught.value).__name__ == "RejectThresholdError"
    assert not catalog.table_exists(("acme", "deals__rejected"))


def test_a_failing_run_passes_nothing_on(lake: Path, spec: Path, catalog: Catalog) -> None:
    # The rejects come after the good rows: those were read and coerced before the run failed.
    mapper = MapperContract(
        config={
            "namespace": "acme",
            "catalog_properties": _props(lake),
            "streams": {"deals": {"table": "deals", "asset_spec": str(spec)}},
            "max_rejected_rows": 1,
        }
    )
    out = io.StringIO()
    stream = io.BytesIO(_stream(*GOOD, *BAD).encode())
    with redirect_stdout(out), pytest.raises(Exception, match="max_rejected_rows=1"):  # noqa: PT012
        mapper.process_lines(stream)  # type: ignore[arg-type]
        mapper.process_endofpipe()
    assert out.getvalue() == ""  # no SCHEMA, no RECORD, no STATE: the loader gets nothing
    assert mapper.summary.status == "failed"
    assert catalog.load_table(("acme", "deals")).current_snapshot() is None


def test_a_repeated_run_passes_its_rows_on_again(lake: Path, spec: Path, catalog: Catalog) -> None:
    # The first run's rejects are committed; whether the loader committed its rows is not the
    # mapper's to know (it may have failed), so the same input again must reach the loader.
    _run(_stream(*GOOD, *BAD), lake, spec)
    _, out = _run(_stream(*GOOD, *BAD), lake, spec, run_id="run-2")

    assert [m["type"] for m in out] == ["SCHEMA", "RECORD", "RECORD", "STATE"]
    rejected = catalog.load_table(("acme", "deals__rejected")).scan().to_arrow()
    assert sorted(set(rejected["run_id"].to_pylist())) == ["run-1", "run-2"]


def test_a_write_mode_the_loader_owns_is_refused(lake: Path, spec: Path) -> None:
    with pytest.raises(Exception, match="write_mode must be append") as caught:
        _run(_stream(*GOOD), lake, spec, write_mode="merge")
    assert getattr(caught.value, "exit_code", EXIT_TERMINAL) == EXIT_TERMINAL


def test_a_new_spec_column_is_added_to_the_table_before_rows_leave(
    lake: Path, spec: Path, catalog: Catalog
) -> None:
    _run(_stream(*GOOD), lake, spec)
    spec.write_text(
        SPEC.replace("  primary_key", "    - {name: note, type: string}\n  primary_key")
    )
    _, out = _run(_stream({"deal_id": 7, "day": "2026-11-07", "note": "hi"}), lake, spec)

    assert "note" in out[0]["schema"]["properties"]
    assert out[1]["record"]["note"] == "hi"
    assert "note" in [f.name for f in catalog.load_table(("acme", "deals")).schema().fields]
