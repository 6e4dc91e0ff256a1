"""``mloop.local.s3``: the moto server for tests and ``mloop local up``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from mloop.artifacts import ArtifactStore
from mloop.local.s3 import S3Server

OPERATOR_DIR = Path(__file__).resolve().parents[2] / "operator"


def test_server_on_a_free_port_with_buckets() -> None:
    with S3Server() as server:
        assert server.endpoint.startswith("127.0.0.1:")
        assert server.port > 0
        server.create_bucket("local-bucket")
        server.create_bucket("local-bucket")  # idempotent
        ArtifactStore(server.endpoint, "testing", "testing").check_bucket("local-bucket")


def test_module_runs_until_sigterm() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(OPERATOR_DIR), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mloop.local.s3", "--port", "0", "--bucket", "cli-bucket"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("S3 endpoint http://127.0.0.1:"), line
        endpoint = line.split()[2].removeprefix("http://")
        store = ArtifactStore(endpoint, "testing", "testing")
        store.check_bucket("cli-bucket")
        store.put_bytes("s3://cli-bucket/k", b"v")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
