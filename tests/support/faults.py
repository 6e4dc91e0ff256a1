"""A tiny fault-injecting HTTP proxy in front of moto, on 127.0.0.1.

moto never fails and ignores credentials, so outages, throttling, rejected credentials, lost responses and
the write race are simulated here, at the HTTP level, while the store still speaks real S3 through minio.
The artifact-store tests queue single faults; the outage suite points the operator and every workload at
the proxy and switches S3 off and on (``outage``/``heal``), or arms ``trip_after`` to start an outage at
the exact moment a given request has been answered (the trainer's last write, the operator's read).
"""

from __future__ import annotations

import http.client
import socket
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


@dataclass(frozen=True)
class Fault:
    """One injected failure: an S3 XML error, a non-XML body, a reset, or forward-then-drop."""

    status: int = 503
    code: str = "ServiceUnavailable"
    xml: bool = True
    reset: bool = False  # close the connection without answering
    drop_response: bool = False  # forward upstream (the write happens), then close without answering
    method: str | None = None  # only requests with this method; others pass


#: What "S3 is down" looks like here: the endpoint accepts the connection and resets it without answering.
OUTAGE = Fault(reset=True)


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        host, _, port = upstream.partition(":")
        self.upstream = (host, int(port))
        self.requests: list[tuple[str, str, int]] = []  # method, path, status answered (0 = no answer)
        self.hide_objects = False  # answer every HEAD on an object with 404, as if stat raced a writer
        self._queue: deque[Fault] = deque()
        self._always: Fault | None = None
        self._trip: tuple[str, str, Fault] | None = None  # method, path fragment, the outage it starts
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def fail_next(self, n: int, fault: Fault | None = None) -> None:
        with self._lock:
            self._queue.extend([fault or Fault()] * n)

    def fail_always(self, fault: Fault) -> None:
        self._always = fault

    def outage(self, fault: Fault = OUTAGE) -> None:
        """S3 is down for everyone behind the proxy until ``heal``."""
        with self._lock:
            self._trip = None
            self._always = fault

    def heal(self) -> None:
        """S3 is back: every request passes again (a pending trip-wire is disarmed too)."""
        with self._lock:
            self._trip = None
            self._always = None

    def trip_after(self, method: str, fragment: str, fault: Fault = OUTAGE) -> None:
        """S3 is up now and goes down once a ``method`` request whose path contains ``fragment`` is answered.

        The matching request itself succeeds; everything after it fails until ``heal``. Healing and arming
        happen at once, so no request can slip between the two.
        """
        with self._lock:
            self._always = None
            self._trip = (method, fragment, fault)

    @property
    def down(self) -> bool:
        return self._always is not None

    def answered(self, fragment: str, *, method: str | None = None, status: int | None = None) -> int:
        """Requests seen for paths containing ``fragment`` (optionally one method, one answer; 0 = reset)."""
        return sum(
            1
            for m, path, code in list(self.requests)
            if fragment in path and method in (None, m) and status in (None, code)
        )

    def count(self, method: str | None = None) -> int:
        return sum(1 for m, _, _ in self.requests if method is None or m == method)

    def _tripped(self, method: str, path: str, status: int) -> None:
        with self._lock:
            trip = self._trip
            if trip and status < 300 and method == trip[0] and trip[1] in path:
                self._always, self._trip = trip[2], None

    def _next_fault(self, method: str) -> Fault | None:
        with self._lock:
            if self._always and self._always.method in (None, method):
                return self._always
            if self._queue and self._queue[0].method in (None, method):
                return self._queue.popleft()
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fault = proxy._next_fault(self.command)
                if fault and fault.reset:
                    return self._drop()
                if fault and not fault.drop_response:
                    return self._error(fault)
                if self.command == "HEAD" and proxy.hide_objects and self.path.count("/") >= 2:
                    return self._error(Fault(status=404, code="NoSuchKey"))
                status, headers, payload = self._forward(body)
                proxy._tripped(self.command, self.path, status)
                if fault and fault.drop_response:
                    return self._drop()
                proxy.requests.append((self.command, self.path, status))
                self.send_response(status)
                reported = str(len(payload))
                for name, value in headers:
                    if name.lower() == "content-length" and self.command == "HEAD":
                        reported = value  # a HEAD answer has no body but reports the object's size
                    elif name.lower() not in _HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", reported)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)
                return None

            def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=30)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                    headers["Content-Length"] = str(len(body))
                    conn.request(self.command, self.path, body=body, headers=headers)
                    response = conn.getresponse()
                    return response.status, response.getheaders(), response.read()
                finally:
                    conn.close()

            def _error(self, fault: Fault) -> None:
                proxy.requests.append((self.command, self.path, fault.status))
                if fault.xml:
                    payload = (
                        '<?xml version="1.0" encoding="UTF-8"?><Error><Code>'
                        f"{fault.code}</Code><Message>injected by the test proxy</Message>"
                        "<RequestId>proxy</RequestId></Error>"
                    ).encode()
                    content_type = "application/xml"
                else:
                    payload, content_type = b"<html>bad gateway</html>", "text/html"
                self.send_response(fault.status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", "0" if self.command == "HEAD" else str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            def _drop(self) -> None:
                proxy.requests.append((self.command, self.path, 0))
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle  # noqa: N815 - http.server's names

        return Handler
