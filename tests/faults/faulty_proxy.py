"""A TCP proxy on loopback in front of a real server, with the fault a test chooses.

`FaultyProxy` forwards bytes both ways to the real server (the session's S3 server or REST
catalog) until the test changes its mode:

- ``kill()``: as if the server's process died: the listening socket closes (new connections
  are refused) and every open connection is reset (RST, no FIN).
- ``revive()``: listens again on the same port and forwards (the server is back).
- ``stall()``: connections are accepted and read, but nothing is ever answered (a hung server).
- ``slow(seconds)``: every chunk of the answer waits ``seconds`` first (an overloaded server).

It exists because the S3 server (moto) keeps its objects in memory: killing it would lose the
tables it holds, and the test could no longer show they are unchanged. From the loader's side
of the socket, a killed proxy and a killed server are the same fault.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time
from urllib.parse import urlsplit

LOOPBACK = "127.0.0.1"


class FaultyProxy:
    """Forwards ``127.0.0.1:<port>`` to ``upstream`` (``http://host:port``) until told not to."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or LOOPBACK, int(parts.port or 80))
        self.mode = "pass"
        self.delay = 0.0
        self.port = 0
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listen()

    @property
    def url(self) -> str:
        """The proxy's address, to give the loader instead of the server's."""
        return f"http://{LOOPBACK}:{self.port}"

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((LOOPBACK, self.port))
        listener.listen(64)
        self.port = int(listener.getsockname()[1])
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by kill()
            self._track(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.add(sock)

    def _serve(self, client: socket.socket) -> None:
        if self.mode == "stall":
            with contextlib.suppress(OSError):
                while client.recv(65536):
                    pass  # read the request, answer nothing, ever
            return
        try:
            server = socket.create_connection(self.upstream, timeout=10)
        except OSError:
            _reset(client)
            return
        self._track(server)
        pair = {client: server, server: client}
        try:
            while True:
                ready, _, _ = select.select(list(pair), [], [], 0.5)
                if self.mode == "stall":
                    time.sleep(0.5)  # a server that hangs mid-exchange
                    continue
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is server and self.delay:
                        time.sleep(self.delay)
                    pair[sock].sendall(data)
        except OSError:
            return
        finally:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.close()

    def kill(self) -> None:
        """Refuse new connections and reset the open ones, as a dead server's kernel does."""
        self.mode = "dead"
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            socks, self._open = self._open, set()
        for sock in socks:
            _reset(sock)

    def revive(self) -> None:
        """Listen on the same port again and forward (the server is back)."""
        self.mode, self.delay = "pass", 0.0
        if self._listener is None:
            self._listen()

    def stall(self) -> None:
        """Accept and read, never answer."""
        self.mode = "stall"

    def slow(self, seconds: float) -> None:
        """Forward, holding each chunk of the answer ``seconds`` first."""
        self.mode, self.delay = "pass", seconds

    def close(self) -> None:
        """Stop listening and drop every connection."""
        self.kill()


def _reset(sock: socket.socket) -> None:
    """Close ``sock`` with an RST (linger 0), as the kernel does for a killed process."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
