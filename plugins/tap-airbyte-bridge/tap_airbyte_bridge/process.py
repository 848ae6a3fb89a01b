"""Run one connector command and stream its Airbyte messages, one line at a time.

`run_connector` yields every protocol message the caller needs (CATALOG, RECORD, STATE, SPEC,
CONNECTION_STATUS, ...) in the order the connector wrote them. It handles on its own what is
the same for every command: LOG messages go to our logger, TRACE errors are collected and
raised once the connector has exited, stderr is drained on a thread (its tail goes into the
crash message), and a non-zero exit becomes a `ConnectorError`.

It never buffers the connector's output beyond one line, and never leaves the connector
running: if the caller stops early (or fails), the process is terminated.
"""

from __future__ import annotations

import collections
import logging
import subprocess
import threading
import typing as t

from singer_sdk.singerlib.json import deserialize_json

from tap_airbyte_bridge.exceptions import ConnectorError

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator

STDERR_TAIL_LINES = 40
"""How many of the connector's last stderr lines a crash message quotes."""

TERMINATE_GRACE_SECONDS = 10.0

LOG_LEVELS = {
    "FATAL": logging.CRITICAL,
    "CRITICAL": logging.CRITICAL,
    "ERROR": logging.ERROR,
    "WARN": logging.WARNING,
    "WARNING": logging.WARNING,
    "INFO": logging.INFO,
    "DEBUG": logging.DEBUG,
    "TRACE": logging.DEBUG,
}
"""Airbyte LOG levels mapped to Python's."""


class _StderrDrain(threading.Thread):
    """Reads the connector's stderr so it never blocks on a full pipe; keeps the tail."""

    def __init__(self, stream: t.IO[bytes], label: str, logger: logging.Logger) -> None:
        super().__init__(name=f"stderr:{label}", daemon=True)
        self._stream = stream
        self._label = label
        self._logger = logger
        self.tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)

    def run(self) -> None:
        for raw in self._stream:
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            self.tail.append(line)
            self._logger.info("[%s stderr] %s", self._label, line)


def _log_message(message: dict[str, t.Any], label: str, logger: logging.Logger) -> None:
    log = message.get("log") or {}
    level = LOG_LEVELS.get(str(log.get("level", "INFO")).upper(), logging.INFO)
    logger.log(level, "[%s] %s", label, log.get("message", ""))


def _describe_error(error: dict[str, t.Any]) -> str:
    failure_type = error.get("failure_type") or "error"
    text = error.get("message") or error.get("internal_message") or "(no message)"
    return f"{failure_type}: {text}"


class _Session:
    """State of one connector run shared between the reader loop and the exit check."""

    def __init__(self, label: str, logger: logging.Logger) -> None:
        self.label = label
        self.logger = logger
        self.errors: list[dict[str, t.Any]] = []

    def handle_trace(self, message: dict[str, t.Any]) -> None:
        trace = message.get("trace") or {}
        kind = trace.get("type")
        if kind == "ERROR":
            error = trace.get("error") or {}
            self.errors.append(error)
            self.logger.error("[%s] %s", self.label, _describe_error(error))
            if error.get("internal_message"):
                self.logger.error("[%s] internal: %s", self.label, error["internal_message"])
            if error.get("stack_trace"):
                self.logger.debug("[%s] %s", self.label, error["stack_trace"])
        elif kind == "STREAM_STATUS":
            status = trace.get("stream_status") or {}
            name = (status.get("stream_descriptor") or {}).get("name")
            self.logger.info("[%s] stream %s: %s", self.label, name, status.get("status"))
        else:
            self.logger.debug("[%s] trace %s: %s", self.label, kind, trace)

    def check_exit(self, returncode: int, stderr_tail: list[str]) -> None:
        """Raise if the connector reported an error or exited abnormally.

        Args:
            returncode: The connector's exit code.
            stderr_tail: Its last stderr lines.

        Raises:
            ConnectorError: On a TRACE error or a non-zero exit.
        """
        if self.errors:
            first = self.errors[0]
            text = f"connector {self.label} failed with {_describe_error(first)}"
            if len(self.errors) > 1:
                more = "; ".join(_describe_error(error) for error in self.errors[1:])
                text += f" (then: {more})"
            if returncode != 0:
                text += f" (exit code {returncode})"
            raise ConnectorError(
                text,
                connector=self.label,
                failure_type=first.get("failure_type"),
                returncode=returncode,
            )
        if returncode != 0:
            how = (
                f"was killed by signal {-returncode}"
                if returncode < 0
                else f"exited with code {returncode}"
            )
            tail = "\n".join(stderr_tail) if stderr_tail else "(no stderr output)"
            text = (
                f"connector {self.label} {how} without an Airbyte error message; "
                f"last stderr lines:\n{tail}"
            )
            raise ConnectorError(text, connector=self.label, returncode=returncode)


def _stop(process: subprocess.Popen[bytes], on_stop: Callable[[], None] | None) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(TERMINATE_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    # A container engine's client may die and leave its container running: remove it too.
    if on_stop is not None:
        on_stop()


def run_connector(
    argv: list[str],
    *,
    label: str,
    logger: logging.Logger,
    on_stop: Callable[[], None] | None = None,
) -> Iterator[dict[str, t.Any]]:
    """Run the connector and yield its protocol messages in order.

    LOG and TRACE messages are handled here and not yielded. Lines that are not JSON objects
    with a `type` are logged (Airbyte allows connectors to print such lines) and skipped.

    Args:
        argv: The command line (from `Workspace.argv`).
        label: Connector name for logs and errors.
        logger: Where LOG messages and stderr lines go.
        on_stop: Called after the connector had to be stopped before it exited by itself
            (e.g. to remove its container).

    Yields:
        Each other Airbyte message as a dict (floats parsed as `Decimal`, so numbers keep
        their exact digits).

    Raises:
        ConnectorError: When the connector reports a TRACE error or exits non-zero; raised
            after its whole output was yielded.
    """
    session = _Session(label, logger)
    logger.debug("running connector: %s", " ".join(argv))
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdout = t.cast("t.IO[bytes]", process.stdout)
    drain = _StderrDrain(t.cast("t.IO[bytes]", process.stderr), label, logger)
    drain.start()
    try:
        for raw in stdout:
            line = raw.strip()
            if not line:
                continue
            try:
                message = deserialize_json(line)
            except ValueError:
                message = None
            if not isinstance(message, dict) or "type" not in message:
                logger.info(
                    "[%s] non-protocol output: %s",
                    label,
                    raw.decode("utf-8", errors="replace").rstrip(),
                )
                continue
            kind = message["type"]
            if kind == "LOG":
                _log_message(message, label, logger)
            elif kind == "TRACE":
                session.handle_trace(message)
            else:
                yield message
        returncode = process.wait()
        drain.join()
        session.check_exit(returncode, list(drain.tail))
    finally:
        _stop(process, on_stop)
        stdout.close()
        drain.join(TERMINATE_GRACE_SECONDS)
        if process.stderr is not None:
            process.stderr.close()
