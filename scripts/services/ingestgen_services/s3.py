"""The S3 server: moto's server mode on a free loopback port, with the warehouse bucket created.

Why moto: it runs from PyPI without Docker, and since 5.1.14 it accepts the AWS SDK v2 (Java)
uploads that Nessie makes as well as pyiceberg's PyArrow and fsspec S3 clients. MinIO is not
available here. moto keeps objects in memory, so a stopped S3 server forgets its data: fine for
tests; for dev the warehouse lives as long as the services run.

Run as ``python -m ingestgen_services.s3 --port-file F --bucket B ...`` it serves until SIGTERM.
It must never listen on anything but 127.0.0.1.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from ingestgen_services import ServiceError
from ingestgen_services.process import LOOPBACK, log_hint, pid_alive, spawn, wait_until

PROC_MARKER = "ingestgen_services.s3"
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class S3Service:
    """A running S3 server and the credentials the clients use."""

    endpoint: str
    bucket: str
    region: str
    access_key: str
    secret_key: str
    pid: int
    log_path: Path

    def is_alive(self) -> bool:
        """Whether the recorded process still runs."""
        return pid_alive(self.pid, PROC_MARKER)


def start_s3(
    *,
    state_dir: Path,
    bucket: str,
    access_key: str,
    secret_key: str,
    region: str = DEFAULT_REGION,
    timeout: float = 60.0,
) -> S3Service:
    """Start the S3 server as a daemon process and wait until the bucket exists.

    Raises:
        ServiceError: moto is not installed, or the server did not come up (log quoted).
    """
    try:
        import moto.server  # noqa: F401 (checked here to give the install command)
    except ImportError as exc:
        raise ServiceError(
            "moto's server mode is not installed in this Python "
            f"({sys.executable}): {exc}. Fix: uv pip install 'moto[server]>=5.1.14' boto3"
        ) from exc
    log_path = state_dir / "logs" / "s3.log"
    port_file = state_dir / "s3.port"
    port_file.unlink(missing_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(Path(__file__).resolve().parent.parent), env.get("PYTHONPATH")) if p
    )
    # The keys go through the environment, not argv, so they do not show in `ps`.
    env["INGESTGEN_S3_ACCESS_KEY"] = access_key
    env["INGESTGEN_S3_SECRET_KEY"] = secret_key
    cmd = [sys.executable, "-m", PROC_MARKER, "--port-file", str(port_file), "--bucket", bucket]
    cmd += ["--region", region]
    proc = spawn(cmd, log_path=log_path, env=env)
    wait_until(
        port_file.exists, what="S3 server (moto)", timeout=timeout, proc=proc, log_path=log_path
    )
    port = int(port_file.read_text().strip())
    return S3Service(
        endpoint=f"http://{LOOPBACK}:{port}",
        bucket=bucket,
        region=region,
        access_key=access_key,
        secret_key=secret_key,
        pid=proc.pid,
        log_path=log_path,
    )


def _serve(port_file: Path, bucket: str, region: str) -> int:
    """Serve S3 until SIGTERM/SIGINT; write the bound port once the bucket exists."""
    import boto3  # type: ignore[import-untyped]
    from moto.server import ThreadedMotoServer

    # moto logs every request through werkzeug; keep the log readable on failures.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    client = boto3.client(
        "s3",
        endpoint_url=f"http://{host}:{port}",
        region_name=region,
        aws_access_key_id=os.environ.get("INGESTGEN_S3_ACCESS_KEY", "ingestgen"),
        aws_secret_access_key=os.environ.get("INGESTGEN_S3_SECRET_KEY", "ingestgen"),
    )
    if region == DEFAULT_REGION:
        client.create_bucket(Bucket=bucket)
    else:
        client.create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region}
        )
    # Write then rename, so the waiting side never reads a half-written port.
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(f"{port}\n")
    tmp.replace(port_file)
    print(f"S3 server on http://{host}:{port}, bucket {bucket!r} created", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the S3 server process."""
    parser = argparse.ArgumentParser(prog="python -m ingestgen_services.s3")
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--region", default=DEFAULT_REGION)
    args = parser.parse_args(argv)
    return _serve(args.port_file, args.bucket, args.region)


def describe_failure(service: S3Service) -> str:
    """Return a message about a dead S3 server with its log."""
    return f"S3 server (pid {service.pid}) is not running." + log_hint(service.log_path)


if __name__ == "__main__":
    raise SystemExit(main())
