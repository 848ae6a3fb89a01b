"""Write-audit-publish on the embedded catalog: the run lands on an audit branch, is checked,
and only a passing audit moves main (then the STATE is emitted)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from pyiceberg.catalog import Catalog

from target_iceberg.audit.publish import branch_name
from target_iceberg.errors import AuditFailedError

from .conftest import RunTarget, messages, records

if TYPE_CHECKING:
    from ingestgen_services.pytest_plugin import IcebergRestServer

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


@pytest.mark.parametrize("atomic", [True, False], ids=["atomic-sql", "per-table"])
def test_the_committers_report_the_audited_snapshot_not_mains(
    run_target: RunTarget,
    catalog: Catalog,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    atomic: bool,
) -> None:
    from target_iceberg import outputs as outputs_module
    from target_iceberg.commit import PerTableCommitter
    from target_iceberg.sqlcommit import AtomicSqlCommitter

    reported: list[dict[str, int]] = []
    committer = AtomicSqlCommitter if atomic else PerTableCommitter
    original = committer.commit

    def recording(self: Any, changes: Any) -> dict[str, int]:
        done = original(self, changes)
        reported.append(done)
        return done

    monkeypatch.setattr(committer, "commit", recording)
    if not atomic:
        # The native backend's committer choice (`outputs.native_committer`).
        monkeypatch.setattr(outputs_module, "takes_atomic_commits", lambda _: False)
    cfg = {
        "streams": {"deals": {"asset_spec": spec_file(tmp_path, row_count={"max": 3})}},
        "audit": {"enabled": True},
    }
    run_target(text(rows(range(3)), 3), run_id="r1", **cfg)
    with pytest.raises(AuditFailedError, match="row_count"):
        run_target(text(rows(range(3, 7)), 7), run_id="r2", **cfg)
    table = catalog.load_table("acme.deals")
    audited = table.metadata.refs[branch_name("r2")].snapshot_id
    main = table.current_snapshot()
    assert main is not None and audited != main.snapshot_id
    # The branch write (r2's first commit) reports the branch's head, not main's snapshot.
    assert reported[-1] == {"acme.deals": audited}


def test_an_append_to_main_between_write_and_publish_is_kept(
    run_target: RunTarget, catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow as pa

    from target_iceberg.sqlcommit import AtomicSqlCommitter

    cfg = {
        "streams": {"deals": {"asset_spec": spec_file(tmp_path, **CHECKS)}},
        "audit": {"enabled": True},
    }
    run_target(text(rows(range(5)), 5), run_id="r1", **cfg)
    original = AtomicSqlCommitter.commit
    raced: list[int] = []

    def racing(self: AtomicSqlCommitter, changes: Any) -> dict[str, int]:
        if not raced and changes and changes[0].files == 0:  # the publish, not the write
            other = catalog.load_table("acme.deals")
            schema = other.schema().as_arrow()
            other.append(pa.Table.from_pylist(rows(range(100, 102)), schema=schema))
            raced.append(1)
        return original(self, changes)

    monkeypatch.setattr(AtomicSqlCommitter, "commit", racing)
    target, out = run_target(text(rows(range(5, 8)), 8), run_id="r2", **cfg)
    assert raced
    ids = sorted(catalog.load_table("acme.deals").scan().to_arrow().column("id").to_pylist())
    assert ids == [*range(8), 100, 101]  # the other writer's rows and the run's, once
    assert out == ['{"bookmarks": {"deals": 8}}']
    assert target.summary.audit is not None and target.summary.audit.published


def test_a_kill_between_audit_and_publish_leaves_main_and_the_rerun_publishes(
    catalog: Catalog, lake: Path, tmp_path: Path, run_target: RunTarget
) -> None:
    import json
    import subprocess
    import sys

    from .conftest import catalog_props

    cfg = {
        "namespace": "acme",
        "catalog_properties": catalog_props(lake),
        "streams": {"deals": {"asset_spec": spec_file(tmp_path, **CHECKS)}},
        "audit": {"enabled": True},
        "run_id": "r-killed",
    }
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    (tmp_path / "input.jsonl").write_text(text(rows(range(4)), 4))
    # The loader process dies (SIGKILL) right after the audit branch is written and checked.
    script = (
        "import os, signal, sys\n"
        "from target_iceberg.audit import publish\n"
        "def killed(self, targets):\n"
        "    self.audit(targets)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "publish.Publisher.run = killed\n"
        "from target_iceberg.target import TargetIceberg\n"
        "sys.argv = ['target-iceberg', '--config', sys.argv[1], '--input', sys.argv[2]]\n"
        "TargetIceberg.cli()\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            str(tmp_path / "config.json"),
            str(tmp_path / "input.jsonl"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == -9, done.stderr[-2000:]
    assert done.stdout.strip() == ""  # no STATE
    table = catalog.load_table("acme.deals")
    assert table.current_snapshot() is None  # main has nothing of the run
    assert branch_name("r-killed") in table.metadata.refs
    # The retry (same run id, as a runner's MELTANO_RUN_ID gives it) publishes the kept branch.
    target, out = run_target(
        text(rows(range(4)), 4), **{k: v for k, v in cfg.items() if k != "namespace"}
    )
    table = catalog.load_table("acme.deals")
    assert sorted(table.scan().to_arrow().column("id").to_pylist()) == [0, 1, 2, 3]
    assert list(table.metadata.refs) == ["main"]
    assert out == ['{"bookmarks": {"deals": 4}}']
    assert target.summary.status == "success"


def test_freshness_and_reject_ratio_fail_with_their_figures(
    run_target: RunTarget, catalog: Catalog, tmp_path: Path
) -> None:
    spec = {
        **SPEC,
        "schema": {
            **SPEC["schema"],
            "columns": [*SPEC["schema"]["columns"], {"name": "updated_at", "type": "timestamptz"}],
        },
        "audit": {
            "freshness": {"column": "updated_at", "max_age": "2d"},
            "max_reject_ratio": 0.1,
        },
    }
    path = tmp_path / "fresh.yaml"
    path.write_text(yaml.safe_dump(spec))
    props = {**PROPS, "updated_at": {"type": "string", "format": "date-time"}}
    schema = {
        "type": "SCHEMA",
        "stream": "deals",
        "schema": {"type": "object", "properties": props},
    }
    data = [{"id": i, "updated_at": "2020-01-01T00:00:00Z"} for i in range(3)]
    with pytest.raises(AuditFailedError) as failed:
        run_target(
            messages(schema, *records("deals", [*data, {"id": "x"}])),
            run_id="r1",
            streams={"deals": {"asset_spec": str(path)}},
            audit={"enabled": True},
        )
    assert failed.value.exit_code == 2
    text_ = str(failed.value)
    assert "freshness.updated_at: newest 2020-01-01T00:00:00+00:00" in text_
    assert "max_reject_ratio: 1 of 4 record(s) quarantined" in text_
    assert catalog.load_table("acme.deals").current_snapshot() is None


def test_audit_pass_and_fail_on_the_reference_rest_catalog(
    iceberg_rest_server: IcebergRestServer, tmp_path: Path
) -> None:
    import io
    import uuid
    from contextlib import redirect_stdout

    from pyiceberg.catalog import load_catalog

    from target_iceberg.target import TargetIceberg

    props = iceberg_rest_server.catalog_properties()
    namespace = f"ns_{uuid.uuid4().hex[:8]}"
    cfg = {
        "namespace": namespace,
        "catalog_properties": props,
        "streams": {"deals": {"asset_spec": spec_file(tmp_path, **CHECKS)}},
        "audit": {"enabled": True},
    }

    def run(data: str, run_id: str) -> tuple[TargetIceberg, str]:
        target = TargetIceberg(config={**cfg, "run_id": run_id})
        out = io.StringIO()
        with redirect_stdout(out):
            target.process_lines(io.StringIO(data))
            target.process_endofpipe()
        return target, out.getvalue()

    # Two tables of the run (the data and its quarantine) publish in one transactions/commit.
    target, out = run(text([*rows(range(5)), {"id": "bad"}], 5), "r1")
    catalog = load_catalog("check", **props)
    assert catalog.load_table(f"{namespace}.deals").scan().to_arrow().num_rows == 5
    assert catalog.load_table(f"{namespace}.deals__rejected").scan().to_arrow().num_rows == 1
    assert out.strip() == '{"bookmarks": {"deals": 5}}'
    assert target.summary.audit is not None and target.summary.audit.published
    with pytest.raises(AuditFailedError, match="unique_key"):
        run(text(rows(range(4, 6)), 6), "r2")
    table = catalog.load_table(f"{namespace}.deals")
    assert table.scan().to_arrow().num_rows == 5
    assert branch_name("r2") in table.metadata.refs


def test_discard_removes_only_the_runs_branch(
    run_target: RunTarget, catalog: Catalog, tmp_path: Path
) -> None:
    from target_iceberg.audit.publish import Publisher
    from target_iceberg.commit import PerTableCommitter

    cfg = {
        "streams": {"deals": {"asset_spec": spec_file(tmp_path, row_count={"max": 2})}},
        "audit": {"enabled": True},
    }
    for run_id in ("r1", "r2"):
        with pytest.raises(AuditFailedError, match="row_count: 3 row"):
            run_target(text(rows(range(3)), 3), run_id=run_id, **cfg)
    publisher = Publisher(catalog, PerTableCommitter(catalog), run_id="r1")
    assert publisher.discard([("acme", "deals"), ("acme", "absent")]) == ["acme.deals"]
    table = catalog.load_table("acme.deals")
    assert set(table.metadata.refs) == {branch_name("r2")}
    assert table.current_snapshot() is None


def test_the_rest_publish_detects_a_concurrent_append_and_keeps_it(
    iceberg_rest_server: IcebergRestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import uuid
    from contextlib import redirect_stdout

    import pyarrow as pa
    from pyiceberg.catalog import load_catalog

    from target_iceberg.commit import MultiTableCommitter
    from target_iceberg.target import TargetIceberg

    props = iceberg_rest_server.catalog_properties()
    namespace = f"ns_{uuid.uuid4().hex[:8]}"
    catalog = load_catalog("check", **props)
    cfg = {
        "namespace": namespace,
        "catalog_properties": props,
        "streams": {"deals": {"asset_spec": spec_file(tmp_path, **CHECKS)}},
        "audit": {"enabled": True},
    }

    def run(data: str, run_id: str) -> TargetIceberg:
        target = TargetIceberg(config={**cfg, "run_id": run_id})
        with redirect_stdout(io.StringIO()):
            target.process_lines(io.StringIO(data))
            target.process_endofpipe()
        return target

    run(text(rows(range(3)), 3), "r1")
    original = MultiTableCommitter.commit
    calls: list[str] = []

    def racing(self: MultiTableCommitter, changes: Any) -> dict[str, int]:
        if not calls:  # another writer appends to main after the audit, before the publish
            other = catalog.load_table(f"{namespace}.deals")
            other.append(
                pa.Table.from_pylist(rows(range(50, 52)), schema=other.schema().as_arrow())
            )
        try:
            return original(self, changes)
        except Exception as exc:
            calls.append(type(exc).__name__)
            raise

    monkeypatch.setattr(MultiTableCommitter, "commit", racing)
    target = run(text(rows(range(3, 5)), 5), "r2")
    assert calls == ["CommitError"]  # the assert-ref-snapshot-id requirement failed once
    ids = catalog.load_table(f"{namespace}.deals").scan().to_arrow().column("id").to_pylist()
    assert sorted(ids) == [0, 1, 2, 3, 4, 50, 51]
    assert target.summary.audit is not None and target.summary.audit.published


@pytest.mark.parametrize("code", [1, 2])
def test_a_failed_audit_exits_with_the_jobs_on_fail(
    code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    from plugin_errors import run_cli

    def fail() -> None:
        raise AuditFailedError("the audit of run r failed: acme.deals row_count: 0", exit_code=code)

    with pytest.raises(SystemExit) as stopped:
        run_cli("target-iceberg", fail)
    assert stopped.value.code == code
    assert capsys.readouterr().err == (
        "target-iceberg: error: the audit of run r failed: acme.deals row_count: 0\n"
    )


def test_a_hand_written_spark_config_with_audit_is_refused_before_any_write(
    run_target: RunTarget, catalog: Catalog, tmp_path: Path
) -> None:
    from target_iceberg.errors import ConfigError

    cfg = {
        "streams": {"deals": {"asset_spec": spec_file(tmp_path, **CHECKS)}},
        "audit": {"enabled": True},
        "engine": "spark",
    }
    with pytest.raises(ConfigError, match="not available with engine spark") as refused:
        run_target(text(rows(range(2)), 2), run_id="r1", **cfg)
    assert "use engine native or turn audit off" in str(refused.value)
    assert ("acme",) not in catalog.list_namespaces() or catalog.list_tables("acme") == []


def test_the_multi_table_committer_reports_the_audited_snapshot_on_rest(
    iceberg_rest_server: IcebergRestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import uuid
    from contextlib import redirect_stdout

    from pyiceberg.catalog import load_catalog

    from target_iceberg.commit import MultiTableCommitter
    from target_iceberg.target import TargetIceberg

    reported: list[dict[str, int]] = []
    original = MultiTableCommitter.commit

    def recording(self: Any, changes: Any) -> dict[str, int]:
        done = original(self, changes)
        reported.append(done)
        return done

    monkeypatch.setattr(MultiTableCommitter, "commit", recording)
    props = iceberg_rest_server.catalog_properties()
    namespace = f"ns_{uuid.uuid4().hex[:8]}"
    cfg = {
        "namespace": namespace,
        "catalog_properties": props,
        "commit_mode": "multi_table",
        "streams": {"deals": {"asset_spec": spec_file(tmp_path, row_count={"max": 3})}},
        "audit": {"enabled": True},
    }
    for run_id, ids in (("r1", range(3)), ("r2", range(3, 7))):
        target = TargetIceberg(config={**cfg, "run_id": run_id})
        with redirect_stdout(io.StringIO()):
            target.process_lines(io.StringIO(text(rows(ids), ids.stop)))
            if run_id == "r1":
                target.process_endofpipe()
                continue
            with pytest.raises(AuditFailedError, match="row_count"):
                target.process_endofpipe()
    table = load_catalog("check", **props).load_table(f"{namespace}.deals")
    audited = table.metadata.refs[branch_name("r2")].snapshot_id
    main = table.current_snapshot()
    assert main is not None and audited != main.snapshot_id
    assert reported[-1] == {f"{namespace}.deals": audited}
