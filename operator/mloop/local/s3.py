"""A local S3 endpoint: moto in server mode on 127.0.0.1, for tests and the embedded control plane.

moto keeps its state in process memory and ignores credentials (any access/secret key is accepted, the
conventional pair is ``testing``/``testing``). Every ``S3Server`` in one process shares that state.
Run standalone with ``python -m mloop.local.s3 --port 9000 --bucket mloop``; it stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import http.client
import logging
import signal
import sys
import threading
from types import FrameType, TracebackType

from moto.server import ThreadedMotoServer

__all__ = ["ACCESS_KEY", "SECRET_KEY", "S3Server", "main"]

ACCESS_KEY = "testing"
SECRET_KEY = "testing"  # noqa: S105 - moto ignores credentials; this is its conventional fake


class S3Server:
    """Start/stop moto on ``host:port`` (port 0 picks a free one) and create buckets on it."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, quiet: bool = True) -> None:
        self.host = host
        self.requested_port = port
        self.quiet = quiet
        self._server: ThreadedMotoServer | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("S3Server is not started")
        return self._port

    @property
    def endpoint(self) -> str:
        """``host:port``, the form ``ArtifactStore`` and minio take."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def start(self) -> S3Server:
        if self._server is not None:
            return self
        if self.quiet:
            # werkzeug logs one line per request; keep errors only.
            logging.getLogger("werkzeug").setLevel(logging.ERROR)
        server = ThreadedMotoServer(ip_address=self.host, port=self.requested_port, verbose=False)
        server.start()
        self._server = server
        self._port = int(server.get_host_and_port()[1])
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
            self._port = None

    def create_bucket(self, name: str) -> str:
        """Create ``name`` (idempotent). moto accepts unsigned requests, so no S3 client is needed here."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request("PUT", f"/{name}", headers={"Content-Length": "0"})
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        if response.status != 200 and b"BucketAlreadyOwnedByYou" not in body:
            raise RuntimeError(f"creating bucket {name!r} failed: HTTP {response.status} {body[:200]!r}")
        return name

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """Run until SIGTERM/SIGINT; prints one line with the endpoint so a parent process can read the port."""
    parser = argparse.ArgumentParser(prog="python -m mloop.local.s3", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--bucket", action="append", default=[], help="bucket to create (repeatable)")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with S3Server(args.host, args.port) as server:
        for bucket in args.bucket:
            server.create_bucket(bucket)
        print(f"S3 endpoint {server.url} buckets {','.join(args.bucket) or '-'}", flush=True)
        while not stop.wait(1.0):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
