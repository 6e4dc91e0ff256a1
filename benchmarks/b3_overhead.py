"""B3: the cost of observability: ``/predict`` throughput with metrics and S3 request logging on vs off.

"On" is ``python -m mloop.server`` as deployed: Prometheus metrics plus ``--traffic-uri`` pointing at a
moto S3 server in its own process (default batching: up to 2,000 lines per object, a flush at least every
5 s). "Off" is the same app
built by ``mloop.server.cli.build_app`` with no traffic log and its hot-path metrics replaced by no-ops,
served by the same ``serve``. One row per request, 1 and 8 connections, rounds alternating off / on.
"""

from __future__ import annotations

import sys

from benchmarks.b1_kernel import credit_model
from benchmarks.b2_predict import Load, _env, _log, measure, predict_body, start_server
from benchmarks.harness import BenchResult, benchmark
from benchmarks.support import ChildProcess, free_port, wait_for

__all__ = ["run_b3"]

GOAL = "metrics + logging on ≥ 0.9x off"
_OFF = """
from mloop.server.cli import build_app, serve
from mloop.server.settings import parse_settings

class _Nothing:
    def observe(self, *args):
        pass

class _NoRows(_Nothing):
    duration = _Nothing()

settings = parse_settings({argv!r})
app = build_app(settings)
app.dp.metrics.rows = _NoRows()
app.dp.metrics.error = lambda status: None
serve(app, settings)
"""


def _start_off() -> tuple[ChildProcess, int]:
    model, port = credit_model(), free_port()
    argv = ["--model", str(model.path), "--sha256", model.sha256, "--name", "credit", "--version", "v1",
            "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    child = ChildProcess([sys.executable, "-c", _OFF.format(argv=argv)], _env(), _log("off")).start()
    child.wait_healthy(f"http://127.0.0.1:{port}/readyz")
    return child, port


@benchmark("B3", "Metrics + logging on vs off")
def run_b3() -> BenchResult:
    s3_port = free_port()
    s3 = ChildProcess(
        [sys.executable, "-m", "mloop.local.s3", "--port", str(s3_port), "--bucket", "bench"],
        _env(),
        _log("s3"),
    ).start()
    children = [s3]
    try:
        wait_for(lambda: "S3 endpoint" in s3.logs(), timeout=30, what="moto to start")
        env = {"MLOOP_S3_ENDPOINT": f"http://127.0.0.1:{s3_port}", "MLOOP_S3_ACCESS_KEY": "testing",
               "MLOOP_S3_SECRET_KEY": "testing"}  # fmt: skip
        on, on_port = start_server(["--traffic-uri", "s3://bench/ns/credit/traffic/"], env)
        children.append(on)
        off, off_port = _start_off()
        children.append(off)
        body = predict_body(1)
        off_load, on_load = Load(off_port, "/predict", body), Load(on_port, "/predict", body)
        result = BenchResult("B3", "Metrics + logging on vs off", goal=GOAL)
        met = True
        for connections in (1, 8):
            off_rate, on_rate, ratio = measure(off_load, on_load, connections)
            result.measured[f"off_{connections}conn"] = (off_rate, "req/s")
            result.measured[f"on_{connections}conn"] = (on_rate, "req/s")
            result.ratios[f"on_vs_off_{connections}conn"] = ratio
            met = met and ratio >= 0.9
        on_load.errors = 0
        written = _metric(on_port, "mloop_traffic_log_written_total")
        dropped = _metric(on_port, "mloop_traffic_log_dropped_total")
        result.measured["log_lines_written"] = (written, "lines")
        result.measured["log_lines_dropped"] = (dropped, "lines")
        result.met = met
        result.notes.append("logging goes to moto in a separate process; the flusher runs in a server thread")
        return result
    finally:
        for child in reversed(children):
            child.stop()


def _metric(port: int, name: str) -> float:
    import urllib.request  # noqa: PLC0415

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(float(line.rpartition(" ")[2]) for line in text.splitlines() if line.startswith(name + "{"))
