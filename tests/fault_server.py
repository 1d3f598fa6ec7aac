"""A misbehaving endpoint on 127.0.0.1, for fault tests: every source kind that speaks HTTP(S) is
pointed at it and must report the fault as unhealthy, in one line, and let the process end.

Modes:
- `hang`:  accepts, reads what the client sends, never answers (the connection stays open);
- `500`:   answers every request HTTP 500 with a small JSON body (keep-alive honoured);
- `reset`: accepts, reads the first bytes of the request, then closes with SO_LINGER 0, so the
           client sees a connection reset (RST), not an orderly end.

With `tls` (an `ssl.SSLContext` for the server side, e.g. `cockpit.sandbox.azure.tls`), the TLS
handshake is completed first in every mode (a hung server is one that took the request and went
quiet, not one that never finished the handshake).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import threading
from typing import Any

MODES = ("hang", "500", "reset")
BODY = b'{"error": {"code": "InternalError", "message": "the fault server fails on purpose"}}'


class FaultServer:
    def __init__(self, mode: str, tls: ssl.SSLContext | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        self.mode = mode
        self.tls = tls
        self.requests = 0
        """Connections that got as far as sending something (counted before the fault)."""
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self.port = int(self._sock.getsockname()[1])
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name=f"fault-{mode}", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            with self._lock:
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), name=f"fault-{self.mode}-conn", daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        conn: Any = raw
        try:
            raw.settimeout(None if self.mode == "hang" else 10)
            if self.tls is not None:
                conn = self.tls.wrap_socket(raw, server_side=True)
                with self._lock:
                    self._conns.append(conn)
            if self.mode == "hang":
                while not self._stop.is_set() and conn.recv(65536):
                    self.requests += 1  # read it all, answer nothing
            elif self.mode == "reset":
                if conn.recv(65536):
                    self.requests += 1
                raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                raw.close()  # RST: with linger 0 the kernel drops the connection instead of a FIN
            else:
                self._answer_500(conn)
        except (OSError, ssl.SSLError, ValueError):
            pass  # the client went away, or stop() closed the socket under us
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    def _answer_500(self, conn: Any) -> None:
        buf = b""
        while not self._stop.is_set():
            while b"\r\n\r\n" not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
            head, buf = buf.split(b"\r\n\r\n", 1)
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip() or 0)
            while len(buf) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
            buf = buf[length:]
            self.requests += 1
            conn.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                         b"Content-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)

    def stop(self) -> None:
        self._stop.set()
        self._sock.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            with contextlib.suppress(OSError, ValueError):
                c.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in recv on it
            with contextlib.suppress(OSError):
                c.close()
        self._thread.join(timeout=5)
