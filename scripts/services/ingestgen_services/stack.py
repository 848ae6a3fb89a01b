"""Start, stop and describe the whole service stack (S3, then Nessie) under one state folder.

The state folder (``.services/`` for developers and ``.ci/run``, a temporary folder for pytest)
holds ``env`` (shell-sourceable ``KEY=value`` lines for scripts and tests), ``state.json`` (pids for
``stop``), ``logs/`` and Nessie's working folder. The jar cache is separate so test runs reuse it.

``start`` is idempotent: a healthy recorded stack is reused; a stale one is torn down first. A
failed start tears down what it started and keeps the logs. Nothing here deletes logs or caches.
"""

from __future__ import annotations

import json
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

from ingestgen_services.jdk import find_java
from ingestgen_services.lake import lake_bucket, lake_root, repo_tenants
from ingestgen_services.nessie import NessieService, fetch_runner_jar, start_nessie
from ingestgen_services.process import pid_alive, terminate
from ingestgen_services.s3 import PROC_MARKER as S3_MARKER
from ingestgen_services.s3 import S3Service, start_s3

ENV_FILE = "env"
STATE_FILE = "state.json"


@dataclass
class Stack:
    """What runs under one state folder, plus how long each step took (seconds)."""

    state_dir: Path
    s3: S3Service | None = None
    nessie: NessieService | None = None
    timings: dict[str, float] = field(default_factory=dict)
    reused: bool = False

    def env(self) -> dict[str, str]:
        """The variables written to the env file (see README for their meaning)."""
        out = {"INGESTGEN_SERVICES_DIR": str(self.state_dir)}
        if self.s3 is not None:
            out |= {
                "S3_ENDPOINT": self.s3.endpoint,
                "S3_BUCKET": self.s3.bucket,
                "S3_REGION": self.s3.region,
                "AWS_ACCESS_KEY_ID": self.s3.access_key,
                "AWS_SECRET_ACCESS_KEY": self.s3.secret_key,
                "AWS_REGION": self.s3.region,
                "AWS_DEFAULT_REGION": self.s3.region,
            }
        if self.nessie is not None:
            out |= {
                "NESSIE_URI": self.nessie.api_uri,
                "NESSIE_BASE_URL": self.nessie.base_url,
                "NESSIE_ICEBERG_URI": self.nessie.iceberg_uri,
                "NESSIE_MANAGEMENT_URL": self.nessie.management_url,
                "NESSIE_WAREHOUSE": self.nessie.warehouse,
                "NESSIE_WAREHOUSE_LOCATION": self.nessie.warehouse_location,
                "NESSIE_VERSION_STORE": self.nessie.version_store,
                "NESSIE_VERSION": self.nessie.version,
            }
        return out


def _save(stack: Stack) -> None:
    state = {
        "s3": _s3_state(stack.s3),
        "nessie": _nessie_state(stack.nessie),
    }
    state_path = stack.state_dir / STATE_FILE
    state_path.touch(mode=0o600, exist_ok=True)
    state_path.write_text(json.dumps(state, indent=2) + "\n")
    env_path = stack.state_dir / ENV_FILE
    env_path.touch(mode=0o600, exist_ok=True)
    env_path.write_text("".join(f"{k}={shlex.quote(v)}\n" for k, v in stack.env().items()))


def _s3_state(s3: S3Service | None) -> dict[str, object] | None:
    if s3 is None:
        return None
    return {
        "endpoint": s3.endpoint,
        "bucket": s3.bucket,
        "region": s3.region,
        "access_key": s3.access_key,
        "secret_key": s3.secret_key,
        "pid": s3.pid,
        "log_path": str(s3.log_path),
    }


def _nessie_state(n: NessieService | None) -> dict[str, object] | None:
    if n is None:
        return None
    return {
        "base_url": n.base_url,
        "management_url": n.management_url,
        "warehouse": n.warehouse,
        "warehouse_location": n.warehouse_location,
        "version_store": n.version_store,
        "version": n.version,
        "pid": n.pid,
        "log_path": str(n.log_path),
        "jar": str(n.jar),
    }


def load(state_dir: Path) -> Stack:
    """Read the recorded stack (empty when nothing was recorded)."""
    stack = Stack(state_dir=state_dir)
    try:
        state = json.loads((state_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return stack
    if s3 := state.get("s3"):
        stack.s3 = S3Service(**{**s3, "log_path": Path(s3["log_path"])})
    if n := state.get("nessie"):
        stack.nessie = NessieService(
            **{**n, "log_path": Path(n["log_path"]), "jar": Path(n["jar"])}
        )
    return stack


def read_env_file(path: Path) -> dict[str, str]:
    """Parse an env file written by ``start`` into a dict."""
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, _, raw = line.partition("=")
            parts = shlex.split(raw)
            out[key.strip()] = parts[0] if parts else ""
    return out


def healthy(stack: Stack, *, want_nessie: bool) -> bool:
    """Whether every recorded service runs (and Nessie reports UP)."""
    if stack.s3 is None or not stack.s3.is_alive():
        return False
    if want_nessie:
        return stack.nessie is not None and stack.nessie.is_alive() and stack.nessie.is_healthy()
    return True


def start(
    state_dir: Path,
    cache_dir: Path,
    *,
    store: str = "IN_MEMORY",
    with_nessie: bool = True,
    tenants: list[str] | None = None,
    timeout: float = 180.0,
) -> Stack:
    """Start S3 (and Nessie unless ``with_nessie`` is false), reusing what already runs healthy.

    The bucket is the registry's lake root's; Nessie gets a warehouse per tenant (``tenants``,
    default: every tenant with a project).

    A running S3 server is kept when only Nessie is missing, so Nessie can join an S3 server
    that tests already use. The jar and the JDK are resolved before any process starts, so a
    missing jar fails fast.

    Raises:
        ServiceError: with the fix; whatever this call started is stopped again, logs are kept.
    """
    state_dir = state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    stack = load(state_dir)
    s3_ok = stack.s3 is not None and stack.s3.is_alive()
    nessie_ok = (
        stack.nessie is not None
        and stack.nessie.version_store == store
        and stack.nessie.is_alive()
        and stack.nessie.is_healthy()
    )
    if s3_ok and (nessie_ok or not with_nessie):
        stack.reused = True
        return stack

    t0 = time.monotonic()
    if with_nessie:
        java = find_java()
        jar = fetch_runner_jar(cache_dir.resolve())
        stack.timings["jar_and_java"] = time.monotonic() - t0
    started = Stack(state_dir=state_dir)
    try:
        if not s3_ok:
            stop(state_dir)
            stack = Stack(state_dir=state_dir, timings=stack.timings)
            t1 = time.monotonic()
            stack.s3 = started.s3 = start_s3(state_dir=state_dir, bucket=lake_bucket(lake_root()))
            stack.timings["s3"] = time.monotonic() - t1
            _save(stack)
        if with_nessie:
            assert stack.s3 is not None  # started or kept just above
            if stack.nessie is not None:
                stop(state_dir, Stack(state_dir=state_dir, nessie=stack.nessie))
                stack.nessie = None
                _save(stack)
            t2 = time.monotonic()
            stack.nessie = started.nessie = start_nessie(
                state_dir=state_dir,
                jar=jar,
                java=java,
                s3=stack.s3,
                lake_root=lake_root(),
                tenants=repo_tenants() if tenants is None else tenants,
                store=store,
                timeout=timeout,
            )
            stack.timings["nessie"] = time.monotonic() - t2
            _save(stack)
    except BaseException:
        stop(state_dir, started, forget=False)
        if started.s3 is not None:
            stack.s3 = None
        stack.nessie = None
        if stack.s3 is None:
            stop(state_dir)
        else:
            _save(stack)
        raise
    stack.timings["total"] = time.monotonic() - t0
    return stack


def stop(state_dir: Path, stack: Stack | None = None, *, forget: bool = True) -> list[str]:
    """Stop what is recorded under ``state_dir`` (or in ``stack``), keep logs, say what stopped.

    ``forget`` removes the env and state files (a full stop); callers stopping a part rewrite them.
    """
    stack = stack if stack is not None else load(state_dir.resolve())
    stopped: list[str] = []
    if stack.nessie is not None and terminate(stack.nessie.pid, str(stack.nessie.jar)):
        stopped.append(f"nessie (pid {stack.nessie.pid})")
    if stack.s3 is not None and terminate(stack.s3.pid, S3_MARKER):
        stopped.append(f"s3 (pid {stack.s3.pid})")
    if forget:
        for name in (ENV_FILE, STATE_FILE):
            (state_dir / name).unlink(missing_ok=True)
    return stopped


def describe(stack: Stack) -> list[str]:
    """Human-readable status lines."""
    lines = []
    if stack.s3 is None:
        lines.append("s3: not recorded")
    else:
        state = "running" if pid_alive(stack.s3.pid, S3_MARKER) else "DEAD"
        lines.append(f"s3: {state} pid {stack.s3.pid} {stack.s3.endpoint} bucket {stack.s3.bucket}")
    if stack.nessie is None:
        lines.append("nessie: not recorded")
    else:
        n = stack.nessie
        state = "UP" if n.is_alive() and n.is_healthy() else "DOWN"
        lines.append(f"nessie: {state} pid {n.pid} {n.base_url} store {n.version_store}")
    return lines
