"""The loader on REST catalogs over S3 (moto): Apache Iceberg's reference REST catalog and, when
its runner jar is available, Project Nessie, where ``commit_mode: multi_table`` makes all tables
of a run one Nessie commit."""

from __future__ import annotations

import io
import uuid
from collections.abc import Sequence
from contextlib import redirect_stdout
from typing import TYPE_CHECKING, Any

import pytest
from pyiceberg.catalog import load_catalog
from pyiceberg.exceptions import NoSuchTableError

from target_iceberg.commit import RUN_ID, MultiTableCommitter, TableChange
from target_iceberg.errors import CommitError
from target_iceberg.nessie import NessieClient
from target_iceberg.target import TargetIceberg

from .conftest import messages, records, schema_msg

if TYPE_CHECKING:
    from ingestgen_services.pytest_plugin import IcebergRestServer, NessieServer

PROPS = {"id": {"type": "integer"}, "name": {"type": "string"}}
ROWS = [{"id": i, "name": f"n{i}"} for i in range(5)] + [{"id": "bad", "name": "x"}]


def _text() -> str:
    return messages(
        schema_msg("people", PROPS),
        *records("people", ROWS),
        schema_msg("places", PROPS),
        *records("places", ROWS[:3]),
        {"type": "STATE", "value": {"bookmarks": {"people": 5}}},
    )


def _run(props: dict[str, str], namespace: str, **cfg: Any) -> tuple[TargetIceberg, list[str]]:
    target = TargetIceberg(
        config={"namespace": namespace, "catalog_properties": props, "job": "j", **cfg}
    )
    out = io.StringIO()
    with redirect_stdout(out):
        target.process_lines(io.StringIO(_text()))
        target.process_endofpipe()
    return target, out.getvalue().splitlines()


def test_multi_table_commit_on_the_reference_rest_catalog(
    iceberg_rest_server: IcebergRestServer,
) -> None:
    props = iceberg_rest_server.catalog_properties()
    namespace = f"ns_{uuid.uuid4().hex[:8]}"
    target, out = _run(props, namespace, commit_mode="multi_table", run_id="r-rest-1")
    catalog = load_catalog("check", **props)
    for name, count in (("people", 5), ("places", 3), ("people__rejected", 1)):
        table = catalog.load_table(f"{namespace}.{name}")
        assert table.scan().to_arrow().num_rows == count
        assert len(table.snapshots()) == 1
        assert table.current_snapshot().summary[RUN_ID] == "r-rest-1"
    assert out == ['{"bookmarks": {"people": 5}}']
    assert target.summary.status == "partial"


def test_failed_multi_table_commit_commits_no_table(
    iceberg_rest_server: IcebergRestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    props = iceberg_rest_server.catalog_properties()
    namespace = f"ns_{uuid.uuid4().hex[:8]}"
    catalog = load_catalog("check", **props)
    original = MultiTableCommitter.commit

    def racing(self: MultiTableCommitter, changes: Sequence[TableChange]) -> dict[str, int]:
        # Another client drops one of the run's tables just before the commit.
        catalog.drop_table(f"{namespace}.places")
        return original(self, changes)

    monkeypatch.setattr(MultiTableCommitter, "commit", racing)
    with pytest.raises(CommitError, match="nothing was committed"):
        _run(props, namespace, commit_mode="multi_table")
    # multi_table mode creates missing tables empty at the start; no data became visible.
    for name in ("people", "people__rejected"):
        assert catalog.load_table(f"{namespace}.{name}").current_snapshot() is None
    with pytest.raises(NoSuchTableError):
        catalog.load_table(f"{namespace}.places")


@pytest.mark.nessie
def test_one_nessie_commit_carries_the_runs_data_and_run_id(
    nessie_server: NessieServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The loader creates the branch from main, the namespace (a Nessie commit of its own, with
    # no data) and then every table of the run, new ones included, in ONE commit.
    client = NessieClient(nessie_server.api_uri)
    branch = f"acme__t{uuid.uuid4().hex[:8]}"
    s3 = nessie_server.s3
    for name, value in {
        "NESSIE_ICEBERG_URI": nessie_server.iceberg_uri,
        "NESSIE_URI": nessie_server.api_uri,
        "S3_ENDPOINT": s3.endpoint,
        "ACME__S3_ACCESS_KEY_ID": s3.access_key_id,
        "ACME__S3_SECRET_ACCESS_KEY": s3.secret_access_key,
    }.items():
        monkeypatch.setenv(name, value)
    props = nessie_server.catalog_properties(branch) | {"warehouse": "acme"}
    main_head = client.get_reference("main").hash
    nessie = {"branch": branch, "api_uri": nessie_server.api_uri}
    target, _ = _run(
        props, "acme", commit_mode="multi_table", run_id="r-nessie-1", tenant="acme", nessie=nessie
    )
    log = client.log(branch)
    new = log[: [e.hash for e in log].index(main_head)]
    carrying = [e for e in new if e.properties.get("ingestgen.run-id") == "r-nessie-1"]
    assert len(carrying) == 1
    assert len(new) <= 2  # the namespace's commit (first run only) and the run's commit
    assert target.summary.nessie == {"branch": branch, "commit_hash": carrying[0].hash}
    catalog = load_catalog("check", **props)
    assert catalog.load_table("acme.people").scan().to_arrow().num_rows == 5
    assert catalog.load_table("acme.places").scan().to_arrow().num_rows == 3
    assert catalog.load_table("acme.people__rejected").scan().to_arrow().num_rows == 1


def test_per_table_commits_on_a_rest_catalog(iceberg_rest_server: IcebergRestServer) -> None:
    props = iceberg_rest_server.catalog_properties()
    namespace = f"ns_{uuid.uuid4().hex[:8]}"
    target, _ = _run(props, namespace, run_id="r-rest-2")
    catalog = load_catalog("check", **props)
    people = catalog.load_table(f"{namespace}.people")
    assert people.scan().to_arrow().num_rows == 5
    assert people.location().startswith("s3://")
    assert target.summary.streams["people"].snapshot_id == people.current_snapshot().snapshot_id


def test_multi_table_commit_carries_schema_evolution(
    iceberg_rest_server: IcebergRestServer,
) -> None:
    props = iceberg_rest_server.catalog_properties()
    namespace = f"ns_{uuid.uuid4().hex[:8]}"
    _run(props, namespace, commit_mode="multi_table")
    wider = {**PROPS, "score": {"type": ["number", "null"]}}
    text = messages(
        schema_msg("people", wider),
        *records("people", [{"id": 100, "name": "w", "score": 1.5}]),
    )
    target = TargetIceberg(
        config={"namespace": namespace, "catalog_properties": props, "commit_mode": "multi_table"}
    )
    with redirect_stdout(io.StringIO()):
        target.process_lines(io.StringIO(text))
        target.process_endofpipe()
    table = load_catalog("check", **props).load_table(f"{namespace}.people")
    assert table.schema().column_names == ["id", "name", "score"]
    rows = sorted(table.scan().to_arrow().to_pylist(), key=lambda r: r["id"])
    assert rows[-1] == {"id": 100, "name": "w", "score": 1.5}
    assert rows[0]["score"] is None
    assert len(table.snapshots()) == 2
