"""The PostgreSQL server: Debian's ``postgresql`` binaries, a throw-away cluster on loopback.

``start_postgres`` runs ``initdb`` into a fresh private folder (password authentication, a random
superuser password), starts ``postgres`` on a free 127.0.0.1 port with its socket in that folder,
and waits until it accepts connections. ``stop_postgres`` shuts it down fast and deletes the
cluster: the data is for tests and dev runs only, like the S3 server's.

PostgreSQL refuses to run as root, so under root every server command runs as the ``postgres``
user (created by Debian's package) through ``runuser``, and the cluster folder is owned by it.

It must never listen on anything but 127.0.0.1, never install anything (the error names
``scripts/install-system-deps``) and never touch a cluster it did not create.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from ingestgen_services import ServiceError
from ingestgen_services.process import LOOPBACK, free_port, log_hint, spawn, terminate, wait_until

PROC_MARKER = "ingestgen-postgres-"  # part of the cluster folder's name, so of the command line
STATE_FILE = "postgres.json"
SUPERUSER = "ingestgen"
RUN_AS = "postgres"
_INSTALL_FIX = (
    "Fix: scripts/install-system-deps (apt-get install postgresql), or point "
    "INGESTGEN_PG_BINDIR at a folder holding initdb, postgres, pg_ctl, pg_isready and psql."
)


@dataclass(frozen=True)
class PostgresService:
    """A running PostgreSQL server and how to reach it."""

    host: str
    port: int
    user: str
    password: str
    bindir: str
    cluster_dir: str
    pid: int
    log_path: str

    @property
    def data_dir(self) -> Path:
        """The cluster's data folder."""
        return Path(self.cluster_dir) / "data"

    def is_alive(self) -> bool:
        """Whether the recorded server process still runs."""
        from ingestgen_services.process import pid_alive

        return pid_alive(self.pid, PROC_MARKER)

    def env(self) -> dict[str, str]:
        """Return libpq's own variables, so ``psql`` and drivers connect without arguments."""
        return {
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.user,
            "PGPASSWORD": self.password,
            "PG_BINDIR": self.bindir,
        }

    @classmethod
    def from_env(cls, env: dict[str, str]) -> PostgresService:
        """A server started elsewhere (``start.sh --postgres``), described by its env file.

        Raises:
            ServiceError: the env file records no PostgreSQL server.
        """
        missing = [k for k in ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD") if k not in env]
        if missing:
            raise ServiceError(
                f"the services env file has no {', '.join(missing)}: PostgreSQL was not "
                "started with it. Fix: scripts/services/start.sh --postgres"
            )
        return cls(
            host=env["PGHOST"],
            port=int(env["PGPORT"]),
            user=env["PGUSER"],
            password=env["PGPASSWORD"],
            bindir=env.get("PG_BINDIR", ""),
            cluster_dir="",
            pid=0,
            log_path="",
        )


def find_bindir() -> Path:
    """Return the folder of the newest PostgreSQL server binaries.

    Looks at ``INGESTGEN_PG_BINDIR``, Debian's ``/usr/lib/postgresql/<version>/bin`` and the
    folder of ``pg_ctl`` on ``PATH``.

    Raises:
        ServiceError: no folder holds ``initdb`` and ``postgres``; the message lists the fix.
    """
    tried: list[str] = []
    candidates: list[Path] = []
    if env := os.environ.get("INGESTGEN_PG_BINDIR"):
        candidates.append(Path(env))
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates += debian
    if on_path := shutil.which("pg_ctl"):
        candidates.append(Path(on_path).resolve().parent)
    for folder in candidates:
        tried.append(str(folder))
        if all((folder / name).is_file() for name in ("initdb", "postgres", "pg_isready")):
            return folder
    raise ServiceError(
        "PostgreSQL server binaries not found (tried: "
        + (", ".join(tried) or "INGESTGEN_PG_BINDIR, /usr/lib/postgresql/*/bin, PATH")
        + "). "
        + _INSTALL_FIX
    )


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    if shutil.which("runuser") is None:
        raise ServiceError("running as root needs `runuser` (util-linux) to drop to 'postgres'.")
    return ["runuser", "-u", RUN_AS, "--", *cmd]


def _make_cluster_dir() -> Path:
    # Outside pytest's temp tree: under root that tree is 0700 and 'postgres' could not enter it.
    cluster = Path(tempfile.mkdtemp(prefix=PROC_MARKER))
    if os.geteuid() == 0:
        try:
            shutil.chown(cluster, user=RUN_AS, group=RUN_AS)
        except (LookupError, OSError) as exc:
            shutil.rmtree(cluster, ignore_errors=True)
            raise ServiceError(
                f"cannot hand {cluster} to the '{RUN_AS}' user ({exc}). " + _INSTALL_FIX
            ) from exc
    return cluster


def start_postgres(*, state_dir: Path, timeout: float = 60.0) -> PostgresService:
    """Create a cluster, start the server on a free loopback port and wait until it is ready.

    The service is recorded in ``state_dir/postgres.json`` for ``stop_postgres``.

    Raises:
        ServiceError: binaries missing, ``initdb`` failed or the server did not come up; the
            log is quoted, whatever was started is stopped and the cluster removed.
    """
    bindir = find_bindir()
    log_path = state_dir / "logs" / "postgres.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cluster = _make_cluster_dir()
    password = secrets.token_hex(16)
    pwfile = cluster / "pwfile"
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(pwfile, user=RUN_AS, group=RUN_AS)
    pwfile.chmod(0o600)
    initdb = _as_server_user(
        [
            str(bindir / "initdb"),
            "-D",
            str(cluster / "data"),
            "-U",
            SUPERUSER,
            f"--pwfile={pwfile}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        ]
    )
    done = subprocess.run(initdb, capture_output=True, text=True, check=False, timeout=120)
    pwfile.unlink(missing_ok=True)
    with log_path.open("a") as log:
        log.write(done.stdout + done.stderr)
    if done.returncode != 0:
        _remove_cluster(cluster)
        raise ServiceError(f"initdb failed with exit code {done.returncode}." + log_hint(log_path))
    port = free_port()
    server = _as_server_user(
        [
            str(bindir / "postgres"),
            "-D",
            str(cluster / "data"),
            "-p",
            str(port),
            "-k",
            str(cluster),
            "-c",
            f"listen_addresses={LOOPBACK}",
            # A throw-away cluster: durability costs time and buys nothing.
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ]
    )
    proc = spawn(server, log_path=log_path)
    service = PostgresService(
        host=LOOPBACK,
        port=port,
        user=SUPERUSER,
        password=password,
        bindir=str(bindir),
        cluster_dir=str(cluster),
        pid=proc.pid,
        log_path=str(log_path),
    )
    try:
        wait_until(
            lambda: _ready(service),
            what="PostgreSQL",
            timeout=timeout,
            proc=proc,
            log_path=log_path,
        )
    except BaseException:
        stop_postgres(service)
        raise
    _record(state_dir, service)
    return service


def _ready(service: PostgresService) -> bool:
    done = subprocess.run(
        [
            str(Path(service.bindir) / "pg_isready"),
            "-h",
            service.host,
            "-p",
            str(service.port),
            "-U",
            service.user,
            "-d",
            "postgres",
            "-t",
            "2",
        ],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def psql(
    service: PostgresService, sql: str, *, database: str = "postgres", timeout: float = 60.0
) -> str:
    """Run ``sql`` with ``psql`` (stop at the first error) and return its unaligned output.

    Raises:
        ServiceError: psql failed; the message carries its stderr.
    """
    psql_bin = Path(service.bindir) / "psql"
    executable = str(psql_bin) if psql_bin.is_file() else (shutil.which("psql") or "psql")
    done = subprocess.run(
        [
            executable,
            "-h",
            service.host,
            "-p",
            str(service.port),
            "-U",
            service.user,
            "-d",
            database,
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
        ],
        input=sql,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        env={**os.environ, "PGPASSWORD": service.password, "PGCONNECT_TIMEOUT": "5"},
    )
    if done.returncode != 0:
        raise ServiceError(f"psql failed (exit {done.returncode}): {done.stderr.strip()}")
    return done.stdout


def _record(state_dir: Path, service: PostgresService) -> None:
    path = state_dir / STATE_FILE
    path.touch(mode=0o600, exist_ok=True)
    path.write_text(json.dumps(asdict(service), indent=2) + "\n")


def load_postgres(state_dir: Path) -> PostgresService | None:
    """The server recorded under ``state_dir`` (None when none is)."""
    try:
        return PostgresService(**json.loads((state_dir / STATE_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def stop_postgres(service: PostgresService, state_dir: Path | None = None) -> bool:
    """Stop the server (fast shutdown: open sessions are ended) and delete its cluster.

    Returns:
        True when a running server was stopped.
    """
    stopped = False
    if service.is_alive():
        # pg_ctl's fast mode rolls back open sessions instead of waiting for them to end.
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            subprocess.run(
                _as_server_user(
                    [
                        str(Path(service.bindir) / "pg_ctl"),
                        "-D",
                        str(service.data_dir),
                        "-m",
                        "fast",
                        "-w",
                        "-t",
                        "30",
                        "stop",
                    ]
                ),
                capture_output=True,
                check=False,
                timeout=40,
            )
        stopped = True
    # Reaps runuser (or the server) and kills whatever survived the fast shutdown.
    terminate(service.pid, PROC_MARKER, grace=10.0)
    _remove_cluster(Path(service.cluster_dir))
    if state_dir is not None:
        (state_dir / STATE_FILE).unlink(missing_ok=True)
    return stopped


def write_env(env_path: Path, service: PostgresService | None) -> None:
    """Replace the PostgreSQL keys of a services env file with ``service``'s (or drop them)."""
    keys = tuple(f"{k}=" for k in PostgresService.env(_PLACEHOLDER))
    lines = env_path.read_text().splitlines() if env_path.is_file() else []
    kept = [line for line in lines if not line.startswith(keys)]
    if service is not None:
        kept += [f"{k}={shlex.quote(v)}" for k, v in service.env().items()]
    env_path.touch(mode=0o600, exist_ok=True)
    env_path.write_text("".join(f"{line}\n" for line in kept))


def _remove_cluster(cluster: Path) -> None:
    # Only folders this module made: the marker prefix guards against a wrong path in a state file.
    if cluster.name.startswith(PROC_MARKER) and cluster.parent == Path(tempfile.gettempdir()):
        shutil.rmtree(cluster, ignore_errors=True)


_PLACEHOLDER = PostgresService("", 0, "", "", "", "", 0, "")
