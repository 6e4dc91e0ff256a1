"""B4: batching pays: rows per second with 64-row ``/predict`` requests vs 1-row requests, same server.

Per-request costs (HTTP, parsing, the ORT call, metrics) are paid once per request, and validation,
inference and the per-row metrics are column-wise, so a 64-row request should cost far less than 64
one-row requests. Rounds alternate 1-row / 64-row loads at 1 and 8 connections.
"""

from __future__ import annotations

from benchmarks.b2_predict import Load, measure, predict_body, start_server
from benchmarks.harness import BenchResult, benchmark

__all__ = ["run_b4"]

ROWS = 64
GOAL = f"{ROWS}-row requests give ≥ 10x the rows/s of 1-row requests"


@benchmark("B4", "64-row vs 1-row requests (rows/s)")
def run_b4() -> BenchResult:
    server, port = start_server()
    try:
        single, batch = Load(port, "/predict", predict_body(1)), Load(port, "/predict", predict_body(ROWS))
        result = BenchResult("B4", "64-row vs 1-row requests (rows/s)", goal=GOAL)
        met = True
        for connections in (1, 8):
            single_rate, batch_rate, ratio = measure(single, batch, connections)
            result.measured[f"rows_per_s_1row_{connections}conn"] = (single_rate, "rows/s")
            result.measured[f"rows_per_s_{ROWS}row_{connections}conn"] = (batch_rate * ROWS, "rows/s")
            result.ratios[f"rows_per_s_{ROWS}_vs_1_{connections}conn"] = ratio * ROWS
            met = met and ratio * ROWS >= 10
        result.met = met
        return result
    finally:
        server.stop()
