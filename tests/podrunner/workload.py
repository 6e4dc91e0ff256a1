"""A test workload: ``serve`` runs an HTTP server whose /healthz answers 200 unless the file
``unhealthy`` exists in the working directory (so tests can toggle probes), and answers
/env/<NAME> with an environment variable."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/healthz":
            code = 500 if Path("unhealthy").exists() else 200
            body = b"unhealthy" if code == 500 else b"ok"
        elif self.path.startswith("/env/"):
            code, body = 200, os.environ.get(self.path[5:], "").encode()
        else:
            code, body = 200, f"{os.environ.get('HOSTNAME', '')}".encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["serve"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--tag", default="", help="ignored; lets tests find the process by its argv")
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"serving on {args.host}:{args.port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
