"""The design's consolidated job YAML (configs/examples/gdrive_deals.yaml), run as far as it goes.

The job reads Google Drive and commits to Nessie, neither of which exists here. Run verbatim by
`ingestgen run` with a real service-account key (made here; its token endpoint is a closed port
on loopback, so the outcome is the same on every machine), it must stop at the first thing it
cannot reach, with exit 2, a message that says what could not be reached for which account,
nothing committed and no part of the key in anything the run showed or wrote.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ACCOUNT = "ingest@acme-prod.iam.gserviceaccount.com"


def service_account_key(token_uri: str) -> tuple[str, str]:
    """A service-account key JSON with a fresh RSA key; and one line of its PEM body."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "client_email": ACCOUNT,
        "private_key_id": "0123456789abcdef",
        "private_key": pem,
        "token_uri": token_uri,
    }
    return json.dumps(info), pem.splitlines()[5]


def test_the_consolidated_job_stops_at_google_drive_with_exit_2(sandbox: Path) -> None:
    examples = sandbox / "configs" / "examples"
    examples.mkdir()
    shutil.copy(REPO / "configs" / "examples" / "gdrive_deals.yaml", examples)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    key, pem_line = service_account_key(f"http://127.0.0.1:{closed}/token")
    # The variable the job references (both spellings: the tenant-scoped one and the old one).
    env = {"ACME__GDRIVE_SERVICE_ACCOUNT_KEY": key, "GDRIVE_SERVICE_ACCOUNT_KEY": key}

    job = str(examples / "gdrive_deals.yaml")
    done = subprocess.run(
        [str(BIN / "ingestgen"), "run", "--root", str(sandbox), job, "--output", "json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
        env={**os.environ, **env, "PATH": f"{BIN}:{os.environ['PATH']}"},
    )

    assert done.returncode == 2, done.stderr[-4000:]
    # Google could not be reached: a transient failure by the plugins' convention (exit 75).
    assert "tap-gdrive-csv: error (transient, a retry may help): could not reach" in done.stderr
    assert f"for an access token for {ACCOUNT} after 5 attempts (ConnectionError)" in done.stderr
    record = json.loads(done.stdout)
    assert (record["exit_code"], record["status"]) == (2, "failed")
    assert record["totals"]["rows_landed"] == 0
    project = sandbox / "projects" / "acme"
    assert not (project / ".lake").exists()  # the Nessie catalog was never reached either
    written = [done.stdout, done.stderr] + [
        p.read_text(errors="replace")
        for p in (project / ".meltano" / "runs").rglob("*")
        if p.is_file()
    ]
    assert not [text for text in written if pem_line in text]
