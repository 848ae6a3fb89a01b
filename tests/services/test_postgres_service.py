"""The PostgreSQL service: ``servicectl start --postgres``, the env file, status and stop."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from ingestgen_services.postgres import PostgresService, load_postgres, psql
from ingestgen_services.stack import read_env_file

pytestmark = [pytest.mark.postgres]
SERVICECTL = Path(__file__).resolve().parents[2] / "scripts" / "services" / "servicectl.py"


def servicectl(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SERVICECTL), "--state-dir", str(state_dir), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )


def test_servicectl_starts_postgres_records_it_and_stops_it(tmp_path: Path) -> None:
    started = servicectl(tmp_path, "start", "--s3-only", "--postgres")
    try:
        assert started.returncode == 0, started.stderr
        env = read_env_file(tmp_path / "env")
        assert env["PGHOST"] == "127.0.0.1" and env["S3_ENDPOINT"].startswith("http://127.0.0.1")
        server = PostgresService.from_env(env)
        recorded = load_postgres(tmp_path)
        assert recorded is not None and recorded.port == server.port
        assert psql(server, "select 1 + 1;").strip() == "2"
        # Loopback only: the server's own setting says so.
        assert psql(server, "show listen_addresses;").strip() == "127.0.0.1"
        status = servicectl(tmp_path, "status")
        assert status.returncode == 0 and "postgres: running" in status.stdout
        # Idempotent: a second start reuses the server and keeps its keys in the env file.
        again = servicectl(tmp_path, "start", "--s3-only", "--postgres")
        assert again.returncode == 0, again.stderr
        assert read_env_file(tmp_path / "env")["PGPORT"] == env["PGPORT"]
    finally:
        stopped = servicectl(tmp_path, "stop")
    assert "postgres" in stopped.stdout
    assert not (tmp_path / "env").exists() and load_postgres(tmp_path) is None
    # The throw-away cluster is gone with the server.
    assert not Path(recorded.cluster_dir).exists() and not recorded.is_alive()
