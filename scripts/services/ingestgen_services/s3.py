"""The S3 server: moto's server mode on a free loopback port, with authentication on.

Why moto: it runs from PyPI without Docker, and since 5.1.14 it accepts the AWS SDK v2 (Java)
uploads that Nessie makes as well as pyiceberg's PyArrow and fsspec S3 clients. MinIO is not
available here. moto keeps objects in memory, so a stopped S3 server forgets its data: fine for
tests; for dev the warehouse lives as long as the services run.

The server checks signatures and IAM policies (moto's ``INITIAL_NO_AUTH_ACTION_COUNT`` set to 0
once the bucket and the platform's own IAM user exist), so tenant isolation is the server's to
enforce, not only ours: `tenant_credentials` makes an IAM user per tenant whose policy allows
the objects under ``<bucket>/<tenant>/`` only. The platform user (the keys in the env file) may
do anything; services (Nessie, the reference REST catalog) and the tests' set-up use it.
moto evaluates actions and resources, but not conditions: a ``ListBucket`` limited by an
``s3:prefix`` condition lists the whole bucket there (key names only; it does on AWS what it
says). moto's ``/moto-api/reset-auth`` endpoint can switch authentication off again: this is a
development server on loopback, not a security boundary of its own.

Run as ``python -m ingestgen_services.s3 --port-file F --bucket B ...`` it serves until SIGTERM.
It must never listen on anything but 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestgen_services import ServiceError
from ingestgen_services.process import LOOPBACK, log_hint, pid_alive, spawn, wait_until

PROC_MARKER = "ingestgen_services.s3"
DEFAULT_REGION = "us-east-1"
PLATFORM_USER = "ingestgen-platform"


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
    region: str = DEFAULT_REGION,
    timeout: float = 60.0,
) -> S3Service:
    """Start the S3 server as a daemon process; wait until the bucket and its keys exist.

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
    keys_file = state_dir / "s3.keys"
    port_file.unlink(missing_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(Path(__file__).resolve().parent.parent), env.get("PYTHONPATH")) if p
    )
    cmd = [sys.executable, "-m", PROC_MARKER, "--port-file", str(port_file), "--bucket", bucket]
    cmd += ["--region", region, "--keys-file", str(keys_file)]
    proc = spawn(cmd, log_path=log_path, env=env)
    wait_until(
        port_file.exists, what="S3 server (moto)", timeout=timeout, proc=proc, log_path=log_path
    )
    port = int(port_file.read_text().strip())
    keys = json.loads(keys_file.read_text())
    return S3Service(
        endpoint=f"http://{LOOPBACK}:{port}",
        bucket=bucket,
        region=region,
        access_key=keys["access_key"],
        secret_key=keys["secret_key"],
        pid=proc.pid,
        log_path=log_path,
    )


def tenant_policy(bucket: str, prefix: str) -> dict[str, Any]:
    """The IAM policy of a tenant's S3 user: its own ``prefix`` of the lake bucket, nothing else.

    ``prefix`` is the tenant's folder in the bucket without slashes at the ends (``acme``, or
    ``<lake root path>/acme``).
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OwnObjects",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": f"arn:aws:s3:::{bucket}/{prefix}/*",
            },
            {
                # pyarrow lists a prefix to tell a missing object from a folder.
                "Sid": "ListOwnPrefix",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{bucket}",
                "Condition": {"StringLike": {"s3:prefix": [f"{prefix}/*", prefix]}},
            },
        ],
    }


def tenant_credentials(
    *,
    endpoint: str,
    region: str,
    platform_key: str,
    platform_secret: str,
    bucket: str,
    tenant: str,
    prefix: str | None = None,
) -> tuple[str, str]:
    """Create (or re-key) tenant ``tenant``'s IAM user; return its new access key and secret.

    The user may reach ``<bucket>/<prefix>/`` only (``prefix`` defaults to the tenant id).
    """
    iam = _client("iam", endpoint, region, platform_key, platform_secret)
    user = f"tenant-{tenant}"
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_user(UserName=user)
    iam.put_user_policy(
        UserName=user,
        PolicyName="own-prefix",
        PolicyDocument=json.dumps(tenant_policy(bucket, prefix or tenant)),
    )
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return str(key["AccessKeyId"]), str(key["SecretAccessKey"])


def _client(service: str, endpoint: str, region: str, key: str, secret: str) -> Any:
    import boto3  # type: ignore[import-untyped]

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )


def _platform_keys(endpoint: str, region: str) -> tuple[str, str]:
    # While authentication is still off (any key passes): the platform's user, allowed all.
    iam = _client("iam", endpoint, region, "bootstrap", "bootstrap")
    iam.create_user(UserName=PLATFORM_USER)
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    iam.put_user_policy(UserName=PLATFORM_USER, PolicyName="all", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=PLATFORM_USER)["AccessKey"]
    return str(key["AccessKeyId"]), str(key["SecretAccessKey"])


def _enable_auth(endpoint: str, region: str, bucket: str) -> None:
    import requests
    from botocore.exceptions import ClientError  # type: ignore[import-untyped]

    requests.post(f"{endpoint}/moto-api/reset-auth", data=b"0", timeout=10).raise_for_status()
    stranger = _client("s3", endpoint, region, "AKIANOBODY0000000000", "nobody")
    try:
        stranger.head_bucket(Bucket=bucket)
    except ClientError:
        return
    raise ServiceError("moto accepted an unknown access key after authentication was switched on")


def _serve(port_file: Path, keys_file: Path, bucket: str, region: str) -> int:
    """Serve S3 until SIGTERM/SIGINT; write the port and the platform keys once ready."""
    from moto.server import ThreadedMotoServer

    # moto logs every request through werkzeug; keep the log readable on failures.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    access_key, secret_key = _platform_keys(endpoint, region)
    client = _client("s3", endpoint, region, access_key, secret_key)
    if region == DEFAULT_REGION:
        client.create_bucket(Bucket=bucket)
    else:
        client.create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region}
        )
    _enable_auth(endpoint, region, bucket)
    keys_file.touch(mode=0o600, exist_ok=True)
    keys_file.chmod(0o600)
    keys_file.write_text(json.dumps({"access_key": access_key, "secret_key": secret_key}))
    # Write then rename, so the waiting side never reads a half-written port.
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(f"{port}\n")
    tmp.replace(port_file)
    print(f"S3 server on {endpoint}, bucket {bucket!r} created, authentication on", flush=True)

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
    parser.add_argument("--keys-file", type=Path, required=True)
    args = parser.parse_args(argv)
    return _serve(args.port_file, args.keys_file, args.bucket, args.region)


def describe_failure(service: S3Service) -> str:
    """Return a message about a dead S3 server with its log."""
    return f"S3 server (pid {service.pid}) is not running." + log_hint(service.log_path)


if __name__ == "__main__":
    raise SystemExit(main())
