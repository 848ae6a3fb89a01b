"""`ingestgen run` for real: render, `meltano install`, `meltano run` on the embedded catalog in a
throw-away repository, then the exit code, the Iceberg table, the run record, what OpenMetadata
and OpenLineage received, and what the terminal showed.

One tenant holds every job so that plugins are installed once for the module.
"""

from __future__ import annotations

import json
import os
import pty
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from pyiceberg.catalog import load_catalog

from ingestgen.meltano.tool import environment, executable
from tests.fixtures.openmetadata import OpenMetadataServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "configs" / "acme" / "data"
SPEC = "specs/gdrive_csv/v1.0/deals_daily.yaml"


def job(
    files: list[str], *, folder: str = "configs/acme/data", extra: str = "", redaction: bool = True
) -> str:
    listed = "\n".join(f"    - {{file_id: {f}, object: deals_daily}}" for f in files)
    source = f"  local_folder: {folder}\n" if folder else ""
    return (
        f"tenant_id: acme\nsource:\n  type: gdrive_csv\n{source}{extra}  files:\n{listed}\n"
        f"target:\n  type: iceberg\n  catalog: embedded\n"
        f"logging:\n  redaction: {str(redaction).lower()}\nasset_definition: {SPEC}\n"
    )


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository with one tenant and a job per case, rendered and installed once."""
    root = tmp_path_factory.mktemp("oneshot") / "repo"
    root.mkdir()
    for name in ("registry", "specs", "templates"):
        shutil.copytree(REPO / name, root / name)
    (root / "plugins").symlink_to(REPO / "plugins")
    configs = root / "configs" / "acme"
    shutil.copytree(DATA, configs / "data")
    bad = configs / "bad"
    bad.mkdir()
    rows = (DATA / "deals_2026_11_24.csv").read_text().splitlines()
    # Two rows break the contract: a deal id that is no number, a date that is no date.
    rows[3] = "not-a-number" + rows[3][rows[3].index(",") :]
    rows[5] = rows[5].replace("2026-11-24", "24/11/2026", 1)
    (bad / "deals_bad.csv").write_text("\n".join(rows) + "\n")
    (configs / "deals_daily.yaml").write_text(job(["deals_2026_11_24.csv", "deals_2026_11_25.csv"]))
    (configs / "bad_rows.yaml").write_text(job(["deals_bad.csv"], folder="configs/acme/bad"))
    (configs / "missing_file.yaml").write_text(job(["no_such_file.csv"]))
    # No local folder: Drive mode, at the API URL the run's environment gives in Meltano's own
    # setting variable (a job may reference the environment only in secret settings).
    (configs / "leaky.yaml").write_text(job(["deals_2026_11_24.csv"], folder=""))
    (configs / "leaky_plain.yaml").write_text(
        job(["deals_2026_11_24.csv"], folder="", redaction=False)
    )
    nessie = job(["deals_2026_11_24.csv"]).replace(
        "catalog: embedded", "catalog: nessie\n  warehouse: s3://lake/acme/"
    )
    (configs / "lake_down.yaml").write_text(nessie)
    (root / "projects").mkdir()
    rendered = run_cli(root, "render", "--root", str(root))
    assert rendered.returncode == 0, rendered.stderr
    installed = subprocess.run(
        [executable(), "install"],
        cwd=root / "projects" / "acme",
        env=env_for(),
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    return root


def env_for(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENLINEAGE", "OPENMETADATA"))}
    return environment(env, **extra)


def run_cli(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "ingestgen"), *args],
        cwd=root,
        env=env_for(**env),
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )


def run_json(root: Path, name: str, **env: str) -> tuple[int, dict[str, Any], str]:
    done = run_cli(root, "run", f"configs/acme/{name}.yaml", "--output", "json", **env)
    return done.returncode, json.loads(done.stdout), done.stderr


def table_rows(root: Path, table: str) -> list[dict[str, Any]]:
    project = root / "projects" / "acme"
    catalog = load_catalog(
        "acme_embedded",
        type="sql",
        uri=f"sqlite:///{project}/.lake/catalog.db",
        warehouse=f"file://{project}/.lake/warehouse",
    )
    return catalog.load_table(("acme", table)).scan().to_arrow().to_pylist()


def run_on_terminal(root: Path, args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as stdout and stderr, as a person would."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [str(BIN / "ingestgen"), *args],
        cwd=root,
        env=env,
        stdin=follower,
        stdout=follower,
        stderr=follower,
        close_fds=True,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return proc.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


def test_clean_run_exits_0_records_and_emits(
    repo: Path, openmetadata_server: OpenMetadataServer, tmp_path: Path
) -> None:
    lineage = tmp_path / "lineage.jsonl"
    env = env_for(
        **openmetadata_server.env(),
        OPENLINEAGE__TRANSPORT__TYPE="file",
        OPENLINEAGE__TRANSPORT__LOG_FILE_PATH=str(lineage),
        OPENLINEAGE__TRANSPORT__APPEND="true",
    )
    code, screen = run_on_terminal(repo, ["run", "configs/acme/deals_daily.yaml"], env)
    assert code == 0, screen[-3000:]
    # On a terminal the progress line is redrawn in place under the log lines.
    assert "\r\x1b[Kacme/deals_daily  00:" in screen
    assert "50 records read (" in screen and "committed 1/1 streams" in screen
    assert "success (exit 0): everything landed" in screen

    assert len(table_rows(repo, "deals_daily")) == 50
    records = sorted((repo / "projects/acme/.meltano/runs/deals_daily").glob("*-*-*-*-*.json"))
    record = json.loads(
        next(r for r in records if not r.name.endswith(".summary.json")).read_text()
    )
    assert record["exit_code"] == 0 and record["totals"]["rows_landed"] == 50
    snapshot = record["iceberg"]["snapshot_ids"]["acme.deals_daily"]
    catalog_table = load_catalog(
        "acme_embedded",
        type="sql",
        uri=f"sqlite:///{repo}/projects/acme/.lake/catalog.db",
        warehouse=f"file://{repo}/projects/acme/.lake/warehouse",
    ).load_table(("acme", "deals_daily"))
    assert catalog_table.current_snapshot().snapshot_id == snapshot  # type: ignore[union-attr]
    assert record["usage"]["cpu_s"] > 0 and record["usage"]["io_read_bytes"] > 0
    assert record["emitted"]["openmetadata"] == "status sent to pipeline ingestgen.acme_deals_daily"
    assert record["emitted"]["openlineage"] == "START and COMPLETE sent"

    puts = [r for r in openmetadata_server.requests() if r["method"] == "PUT"]
    assert [r["status"] for r in puts] == [200]
    assert json.loads(puts[0]["body"]) == record["openmetadata"]["status"]
    events = [json.loads(line) for line in lineage.read_text().splitlines()]
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    assert {e["run"]["runId"] for e in events} == {record["run_id"]}

    # Nothing changed since: exit 0, nothing new landed, the stream is reported unchanged.
    code, again, _ = run_json(repo, "deals_daily")
    assert code == 0 and again["status"] == "success"
    assert again["totals"]["rows_landed"] == 0
    assert again["streams"][0]["status"] == "unchanged"
    assert len(table_rows(repo, "deals_daily")) == 50


def test_bad_rows_are_quarantined_and_exit_1(repo: Path) -> None:
    code, record, err = run_json(repo, "bad_rows")
    assert code == 1, err[-3000:]
    assert record["status"] == "partial"
    assert record["totals"] == {
        **record["totals"],
        "rows_read": 25,
        "rows_landed": 23,
        "rows_rejected": 2,
    }
    stream = record["streams"][0]
    assert stream["status"] == "partial" and stream["rejected_table"]
    assert "2 rows did not meet the asset contract" in record["reason"]
    assert record["openmetadata"]["status"]["executionStatus"] == "Failed"
    assert len(table_rows(repo, "deals_daily")) >= 23


def test_tap_crash_exits_2_with_a_record(repo: Path) -> None:
    code, record, err = run_json(repo, "missing_file")
    assert code == 2
    assert record["status"] == "failed" and record["meltano"]["exit_code"] == 1
    assert "before the loader committed anything" in record["reason"]
    assert "no_such_file.csv" in err  # the tap's own message reaches the user
    assert record["streams"][0]["status"] == "failed"
    assert Path(repo / record["files"]["record"]).exists()


def test_unreachable_catalog_exits_2_with_the_loaders_reason(repo: Path) -> None:
    port = closed_port()
    code, record, err = run_json(
        repo,
        "lake_down",
        NESSIE_ICEBERG_URI=f"http://127.0.0.1:{port}/iceberg",
        NESSIE_URI=f"http://127.0.0.1:{port}/api/v2",
        S3_ENDPOINT=f"http://127.0.0.1:{port}",
        AWS_REGION="us-east-1",
        ACME__S3_ACCESS_KEY_ID="test-key-id",
        ACME__S3_SECRET_ACCESS_KEY="test-secret-key",
    )
    assert code == 2, err[-3000:]
    assert record["loader_status"] == "failed"
    # The loader's first call: the tenant's branch, before any catalog call.
    assert f"Nessie at http://127.0.0.1:{port}/api/v2 did not answer" in record["reason"]
    assert record["totals"]["rows_landed"] == 0
    assert "test-secret-key" not in err + json.dumps(record)


def test_bad_config_exits_2_before_running(repo: Path) -> None:
    bad = repo / "configs" / "acme" / "typo.yaml"
    bad.write_text(job(["x.csv"]).replace("catalog: embedded", "catalgo: embedded"))
    try:
        done = run_cli(repo, "run", "configs/acme/typo.yaml")
    finally:
        bad.unlink()
    assert done.returncode == 2
    assert "configs/acme/typo.yaml:" in done.stderr and "catalgo" in done.stderr


def test_drifted_render_exits_2_and_names_the_fix(repo: Path) -> None:
    project = repo / "projects" / "acme" / "meltano.yml"
    original = project.read_text()
    project.write_text(
        original.replace("default_environment: dev", "default_environment: dev\n# hand edit")
    )
    try:
        done = run_cli(repo, "run", "configs/acme/deals_daily.yaml")
    finally:
        project.write_text(original)
    assert done.returncode == 2
    assert "differs from a fresh render" in done.stderr
    assert "run `ingestgen render configs/acme`" in done.stderr


def scan(root: Path, needles: list[str]) -> dict[str, list[str]]:
    """Which of ``needles`` each file of the tenant's project holds (plugin venvs excepted)."""
    found: dict[str, list[str]] = {}
    project = root / "projects" / "acme"
    venvs = {project / ".meltano" / "extractors", project / ".meltano" / "loaders"}
    for path in project.rglob("*"):
        if not path.is_file() or any(v in path.parents for v in venvs):
            continue
        data = path.read_bytes()
        hits = [n for n in needles if n.encode() in data]
        if hits:
            found[str(path.relative_to(root))] = hits
    return found


def secrets_env() -> tuple[str, str, dict[str, str]]:
    token = f"sekret-XYZ-{uuid.uuid4().hex[:8]}"
    password = f"pw-{uuid.uuid4().hex[:10]}"
    url = f"http://ingest:{password}@127.0.0.1:{closed_port()}"
    # Meltano's own variable for an inheriting plugin's setting: <PLUGIN_NAME>_<SETTING>.
    urls = {f"TAP_GDRIVE_CSV__{job.upper()}_API_BASE_URL": url for job in ("leaky", "leaky_plain")}
    return token, password, {"TAP_GDRIVE_CSV_OAUTH_TOKEN": token, **urls}


@pytest.mark.isolation
def test_secrets_never_reach_logs_or_records(repo: Path, record_property: Any) -> None:
    # Control: without redaction the tap's connection error shows the URL with its password
    # (in the output and in Meltano's system database), so the scan can see a leak.
    _, plain_password, plain_env = secrets_env()
    plain = run_cli(repo, "run", "configs/acme/leaky_plain.yaml", **plain_env)
    assert plain.returncode == 2
    assert plain_password in plain.stderr
    assert "projects/acme/.meltano/meltano.db" in scan(repo, [plain_password])

    token, password, env = secrets_env()
    done = run_cli(repo, "run", "configs/acme/leaky.yaml", "--output", "json", **env)
    assert done.returncode == 2
    record = json.loads(done.stdout)
    assert "could not reach http://ingest:***@127.0.0.1" in done.stderr
    output = done.stdout + done.stderr
    assert token not in output and password not in output
    assert scan(repo, [token, password]) == {}
    run_files = {Path(p).suffix for p in record["files"].values()}
    assert ".log" in run_files and (repo / record["files"]["log"]).read_text().count("***") > 0
    # The run's own files (log, run record, OpenMetadata-compatible JSON), wherever they are.
    written = [repo / p for p in record["files"].values() if (repo / p).exists()]
    assert len(written) >= 2  # the log and the run record at least
    for path in written:
        data = path.read_bytes()
        assert token.encode() not in data and password.encode() not in data, path
    record_property("category", "isolation: secrets scan")
    record_property(
        "case",
        "a run whose secret settings (OAuth token, a password in a URL) come from the "
        "environment and fail the tap",
    )
    record_property(
        "outcome",
        f"0 hits in the terminal, the rendered project, Meltano's system database and logs, "
        f"and the run's {len(written)} record files; the control without redaction "
        "finds the password",
    )
