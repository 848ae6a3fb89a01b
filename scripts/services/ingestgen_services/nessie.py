"""The Nessie server: fetch the runner jar with Maven, configure its warehouses, start it.

The runner jar comes from Maven (``org.projectnessie.nessie:nessie-quarkus:<ver>:jar:runner``)
into a cache folder, or from ``NESSIE_RUNNER_JAR`` when a developer has it elsewhere. The server
binds 127.0.0.1 on free ports (API and management), keeps its version store in memory (tests) or in
RocksDB (dev), and writes Iceberg metadata to S3. S3 keys reach it through a
``urn:nessie-secret:quarkus:`` reference to a 0600 properties file, never through argv.

Warehouses (`warehouses`): one per tenant, named after the tenant, at ``<lake root>/<tenant>``
(the loader asks for its warehouse by that name; Nessie places new tables under it), plus a
default one, ``_platform``, that no tenant can be named. Tables get
``py-io-impl=pyiceberg.io.pyarrow.PyArrowFileIO`` in their config: Nessie would otherwise hand
pyiceberg ``FsspecFileIO`` (its S3 defaults), which table config makes win over the client's.

This module never downloads anything except through ``mvn`` and never falls back silently: a jar
that cannot be fetched is a ``ServiceError`` naming the artifact and the ways to provide it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ingestgen_services import RunnerJarUnavailable, ServiceError
from ingestgen_services.jdk import Java
from ingestgen_services.process import (
    LOOPBACK,
    free_port,
    http_get_json,
    pid_alive,
    spawn,
    wait_until,
)
from ingestgen_services.s3 import S3Service

# Pinned to the release whose client artifacts (nessie-client, nessie-model) Maven serves here.
NESSIE_VERSION = "0.110.0"
NESSIE_GROUP_ARTIFACT = "org.projectnessie.nessie:nessie-quarkus"
WAREHOUSE_NAME = "_platform"  # the default warehouse: no tenant id starts with "_"
PY_IO_IMPL = "pyiceberg.io.pyarrow.PyArrowFileIO"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
STORES = ("IN_MEMORY", "ROCKSDB")


@dataclass(frozen=True)
class NessieService:
    """A running Nessie server."""

    base_url: str
    management_url: str
    warehouse: str
    warehouse_location: str
    version_store: str
    version: str
    pid: int
    log_path: Path
    jar: Path

    @property
    def api_uri(self) -> str:
        """Nessie REST API v2 root (``.../api/v2``)."""
        return f"{self.base_url}/api/v2"

    @property
    def iceberg_uri(self) -> str:
        """Iceberg REST root; append ``/<branch>`` for pyiceberg's ``uri``."""
        return f"{self.base_url}/iceberg"

    def is_alive(self) -> bool:
        """Whether the recorded process still runs."""
        return pid_alive(self.pid, str(self.jar))

    def is_healthy(self) -> bool:
        """Whether the management endpoint reports status UP."""
        return health_up(self.management_url)


def artifact(version: str) -> str:
    """Maven coordinates of the runner jar."""
    return f"{NESSIE_GROUP_ARTIFACT}:{version}:jar:runner"


def _valid_jar(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as jar:
            return "META-INF/MANIFEST.MF" in jar.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def fetch_runner_jar(cache_dir: Path, version: str | None = None) -> Path:
    """Return the runner jar, fetching it with Maven into ``cache_dir/nessie`` when missing.

    ``NESSIE_RUNNER_JAR`` (a path) wins over the cache; ``NESSIE_VERSION`` overrides the pin.

    Raises:
        ServiceError: the jar could not be fetched; says what Maven answered and how to fix it.
    """
    if override := os.environ.get("NESSIE_RUNNER_JAR"):
        jar = Path(override)
        if not _valid_jar(jar):
            raise ServiceError(
                f"NESSIE_RUNNER_JAR={override} is not a readable jar. Fix: point it at "
                "nessie-quarkus-<version>-runner.jar, or unset it to fetch the jar with Maven."
            )
        return jar
    version = version or os.environ.get("NESSIE_VERSION") or NESSIE_VERSION
    out_dir = cache_dir / "nessie"
    jar = out_dir / f"nessie-quarkus-{version}-runner.jar"
    if _valid_jar(jar):
        return jar
    mvn = shutil.which("mvn")
    coords = artifact(version)
    how = (
        "Fix one of: make the artifact resolvable by Maven (a mirror or repository in "
        "~/.m2/settings.xml); or download nessie-quarkus-"
        f"{version}-runner.jar from the Nessie release and set NESSIE_RUNNER_JAR=/path/to/it; or "
        "set NESSIE_VERSION to a release your Maven repository serves."
    )
    if mvn is None:
        raise RunnerJarUnavailable(
            f"Cannot fetch the Nessie server jar {coords}: Maven (mvn) is not installed. "
            "Install it (apt-get install maven) or set NESSIE_RUNNER_JAR. " + how
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    # -U: Maven caches a "not found" answer; re-ask so a fixed mirror is noticed at once.
    cmd = [mvn, "-B", "-q", "-U", "-Dstyle.color=never", "dependency:copy", f"-Dartifact={coords}"]
    cmd += [f"-DoutputDirectory={out_dir}", "-Dmdep.overWriteReleases=true"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    if result.returncode != 0 or not _valid_jar(jar):
        # Keep what Maven said but not the repository's address.
        said = [
            re.sub(r"\s*\(https?://[^)]*\)", "", line.split("[ERROR]", 1)[1]).strip()
            for line in _ANSI.sub("", result.stdout + result.stderr).splitlines()
            if "[ERROR]" in line and line.split("[ERROR]", 1)[1].strip()
        ]
        raise RunnerJarUnavailable(
            f"Cannot fetch the Nessie server jar {coords} with Maven "
            f"(exit {result.returncode}). Maven said: {said[0] if said else '(nothing)'}\n" + how
        )
    return jar


def warehouses(lake_root: str, tenants: Iterable[str]) -> dict[str, str]:
    """Nessie warehouse name -> location: the default one and one per tenant."""
    root = lake_root.rstrip("/")
    out = {WAREHOUSE_NAME: f"{root}/{WAREHOUSE_NAME}"}
    out |= {tenant: f"{root}/{tenant}" for tenant in sorted(set(tenants))}
    return out


def render_config(
    *,
    nessie_dir: Path,
    http_port: int,
    management_port: int,
    s3: S3Service,
    store: str,
    lake_root: str,
    tenants: Iterable[str] = (),
) -> Path:
    """Write ``nessie_dir/config/application.properties`` (mode 0600) and return its path.

    Quarkus reads ``config/application.properties`` from the working directory, which keeps the
    secrets out of the command line.
    """
    if store not in STORES:
        raise ServiceError(f"Unknown Nessie version store {store!r}; valid: {', '.join(STORES)}")
    opts = "nessie.catalog.service.s3.default-options"
    props = {
        "quarkus.http.host": LOOPBACK,
        "quarkus.http.port": str(http_port),
        "quarkus.management.enabled": "true",
        "quarkus.management.host": LOOPBACK,
        "quarkus.management.port": str(management_port),
        "nessie.version.store.type": store,
        "nessie.catalog.default-warehouse": WAREHOUSE_NAME,
    }
    for name, location in warehouses(lake_root, tenants).items():
        props[f"nessie.catalog.warehouses.{name}.location"] = location
    props |= {
        f"{opts}.endpoint": s3.endpoint,
        f"{opts}.path-style-access": "true",
        f"{opts}.region": s3.region,
        f"{opts}.access-key": "urn:nessie-secret:quarkus:ingestgen-secrets.s3",
        # Clients bring their own S3 keys; no request signing or credential vending needed here.
        f"{opts}.request-signing-enabled": "false",
        # pyiceberg reads and writes with PyArrow (Nessie's own default would be fsspec).
        f"{opts}.table-config-overrides.py-io-impl": PY_IO_IMPL,
        "ingestgen-secrets.s3.name": s3.access_key,
        "ingestgen-secrets.s3.secret": s3.secret_key,
        # No telemetry exporters, no UI dependencies on the network; plain-text console logs.
        "quarkus.otel.sdk.disabled": "true",
        "quarkus.log.console.json.enabled": "false",
    }
    if store == "ROCKSDB":
        props["nessie.version.store.persist.rocks.database-path"] = str(
            (nessie_dir / "rocksdb").resolve()
        )
    config = nessie_dir / "config" / "application.properties"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.touch(mode=0o600, exist_ok=True)
    config.chmod(0o600)
    config.write_text("".join(f"{k}={_escape(v)}\n" for k, v in props.items()))
    return config


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def health_up(management_url: str) -> bool:
    """Whether ``<management>/q/health`` answers with status UP."""
    status, body = http_get_json(f"{management_url}/q/health")
    return status == 200 and isinstance(body, dict) and body.get("status") == "UP"


def start_nessie(
    *,
    state_dir: Path,
    jar: Path,
    java: Java,
    s3: S3Service,
    lake_root: str,
    tenants: Iterable[str] = (),
    store: str = "IN_MEMORY",
    timeout: float = 180.0,
) -> NessieService:
    """Start Nessie as a daemon process and wait until ``/q/health`` is UP.

    Raises:
        ServiceError: the server exited or did not become healthy (log quoted).
    """
    nessie_dir = state_dir / "nessie"
    log_path = state_dir / "logs" / "nessie.log"
    http_port, management_port = free_port(), free_port()
    while management_port == http_port:
        management_port = free_port()
    render_config(
        nessie_dir=nessie_dir,
        http_port=http_port,
        management_port=management_port,
        s3=s3,
        store=store,
        lake_root=lake_root,
        tenants=tenants,
    )
    # Small heap: two cores and several engineers share this machine; Nessie idles in ~300 MB.
    cmd = [str(java.executable), "-Xms128m", "-Xmx768m", "-XX:+UseSerialGC", "-jar", str(jar)]
    proc = spawn(cmd, log_path=log_path, cwd=nessie_dir, env=dict(os.environ))
    management_url = f"http://{LOOPBACK}:{management_port}"
    wait_until(
        lambda: health_up(management_url),
        what=f"Nessie server ({jar.name} on Java {java.version})",
        timeout=timeout,
        proc=proc,
        log_path=log_path,
        interval=0.5,
    )
    return NessieService(
        base_url=f"http://{LOOPBACK}:{http_port}",
        management_url=management_url,
        warehouse=WAREHOUSE_NAME,
        warehouse_location=warehouses(lake_root, ())[WAREHOUSE_NAME],
        version_store=store,
        version=jar.name.removeprefix("nessie-quarkus-").removesuffix("-runner.jar"),
        pid=proc.pid,
        log_path=log_path,
        jar=jar,
    )
