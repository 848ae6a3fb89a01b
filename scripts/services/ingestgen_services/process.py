"""Process plumbing shared by the services: free ports, daemon spawn, health waits, teardown.

Never signals a process it did not start: teardown checks the recorded command line first.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ingestgen_services import ServiceError

LOOPBACK = "127.0.0.1"

# Children started by this Python process, kept so they are not garbage-collected while running
# (Popen warns then) and so ``terminate`` can reap them.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def free_port() -> int:
    """Return a TCP port on loopback that is free right now.

    The kernel picks it; the small window until the server binds it is accepted because each
    caller checks that its server came up and reports the log otherwise.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def spawn(
    cmd: Sequence[str],
    *,
    log_path: Path,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` in its own session with stdout and stderr appended to ``log_path``.

    Its own session lets it outlive the starting command (``start.sh`` returns) and lets
    ``terminate`` signal the whole group (the JVM's children too).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            list(cmd),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _CHILDREN[proc.pid] = proc
    return proc


def http_get_json(url: str, timeout: float = 2.0) -> tuple[int, object]:
    """GET ``url`` and return (status, decoded JSON or raw text); status 0 when unreachable."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url}")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (scheme checked)
            body = resp.read().decode("utf-8", "replace")
            status = int(resp.status)
    except urllib.error.HTTPError as exc:
        body = exc.read().decode("utf-8", "replace")
        status = exc.code
    except (urllib.error.URLError, OSError):
        return 0, None
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body


def wait_until(
    check: Callable[[], bool],
    *,
    what: str,
    timeout: float,
    proc: subprocess.Popen[bytes] | None = None,
    log_path: Path | None = None,
    interval: float = 0.25,
) -> float:
    """Poll ``check`` until it is true; return the seconds waited.

    Raises:
        ServiceError: when the process died or the timeout passed; the message carries the
            log path and its last lines so the cause is visible without another command.
    """
    start = time.monotonic()
    while True:
        if check():
            return time.monotonic() - start
        if proc is not None and proc.poll() is not None:
            raise ServiceError(
                f"{what} exited with code {proc.returncode} before it was ready."
                + log_hint(log_path)
            )
        if time.monotonic() - start > timeout:
            raise ServiceError(f"{what} was not ready after {timeout:.0f} s." + log_hint(log_path))
        time.sleep(interval)


def log_hint(log_path: Path | None, lines: int = 25) -> str:
    """Return a message suffix naming the log file and quoting its last lines."""
    if log_path is None:
        return ""
    return f"\nLog kept at {log_path}; last lines:\n{tail(log_path, lines)}"


def tail(path: Path, lines: int = 25) -> str:
    """Return the last ``lines`` lines of a text file ('' when it does not exist)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def pid_alive(pid: int, expect_in_cmdline: str) -> bool:
    """Whether ``pid`` runs and its command line contains ``expect_in_cmdline``.

    The command-line check guards against a recycled pid after a reboot or a crash.
    """
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return expect_in_cmdline in raw.replace(b"\0", b" ").decode("utf-8", "replace")


def terminate(pid: int, expect_in_cmdline: str, grace: float = 15.0) -> bool:
    """Stop the process group led by ``pid`` (SIGTERM, then SIGKILL after ``grace`` s).

    Returns:
        True when a matching process was found and signalled.
    """
    if not pid_alive(pid, expect_in_cmdline):
        return False
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _running(pid):
            return True
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    return True


def _running(pid: int) -> bool:
    # A child of this process that exited stays a zombie until reaped; reap it if it is ours.
    if (child := _CHILDREN.get(pid)) is not None:
        if child.poll() is None:
            return True
        del _CHILDREN[pid]
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][:1]
    except (OSError, IndexError):
        return False
    return state != "Z"
