"""The request log lands in S3 (moto) in the SPEC §3 layout; a full buffer drops and counts, never blocks."""

from __future__ import annotations

import json
import re
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mloop.artifacts import ArtifactStore, ObjectExists, StorageUnavailable
from mloop.server.metrics import PROBABILITY_BUCKETS, ServerMetrics
from mloop.server.model import Prediction
from mloop.server.trafficlog import ENCODE_NOW_MAX_ROWS, TrafficLog, feedback_prefix
from mloop.server.validation import Batch
from tests.fixtures.s3 import S3Handle
from tests.server.conftest import ServerProcess, TrainedModel

ROW = {"f0": 0.5, "f1": None, "f2": 1, "f3": -2.0, "f4": 0.0, "f5": 3.0, "region": "south"}
PART = r"\d{4}-\d{2}-\d{2}/\d{2}/part-[0-9a-f]{32}\.jsonl"


def _env(s3: S3Handle) -> dict[str, str]:
    return {"MLOOP_S3_ENDPOINT": s3.url, "MLOOP_S3_ACCESS_KEY": "testing", "MLOOP_S3_SECRET_KEY": "testing"}


def _lines(store: ArtifactStore, prefix: str) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for info in store.list(prefix):
        out[info.uri] = [json.loads(line) for line in store.get_bytes(info.uri).decode().splitlines()]
    return out


def _wait(check: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError("condition not met")


def test_predictions_and_feedback_are_logged(
    models: dict[str, TrainedModel], s3_server: S3Handle, tmp_path: Path
) -> None:
    bucket = s3_server.unique_bucket("traffic")
    traffic = f"s3://{bucket}/team/credit/traffic/"
    server = ServerProcess(
        models["binary"], tmp_path / "server.log", name="credit", version="credit-3", env=_env(s3_server),
        extra=("--traffic-uri", traffic, "--deployment", "credit-dep", "--role", "canary",
               "--log-flush-seconds", "0.2"),
    ).start()  # fmt: skip
    store = ArtifactStore(s3_server.endpoint, "testing", "testing")
    try:
        status, first = server.json("POST", "/predict", {"instances": [ROW, ROW | {"region": None}]})
        assert status == 200
        status, _ = server.json("POST", "/predict", {"instances": [list(ROW.values())]})
        assert status == 200
        status, fb = server.json(
            "POST",
            "/feedback",
            [
                {"requestId": first["requestId"], "label": 1},
                {"requestId": first["requestId"], "row": 1, "label": "0"},
            ],
        )
        assert (status, fb) == (202, {"accepted": 2, "logged": True})

        def three_lines() -> dict[str, list[dict[str, Any]]] | None:
            found = _lines(store, f"s3://{bucket}/team/credit/traffic/")
            return found if sum(map(len, found.values())) == 3 else None

        logged = _wait(three_lines)
        feedback = _wait(lambda: _lines(store, f"s3://{bucket}/team/credit/feedback/"))
        written = server.metric("mloop_traffic_log_written_total", role="canary")
    finally:
        server.stop()
    for uri in logged:
        assert re.fullmatch(rf"s3://{bucket}/team/credit/traffic/credit-dep/credit-3/{PART}", uri), uri
    lines = sorted((line for batch in logged.values() for line in batch), key=lambda x: (x["ts"], x["row"]))
    first_lines = [x for x in lines if x["requestId"] == first["requestId"]]
    assert [x["row"] for x in first_lines] == [0, 1]
    line = first_lines[0]
    assert set(line) == {"ts", "requestId", "row", "model", "version", "role", "features", "prediction",
                         "probabilities"}  # fmt: skip
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["ts"])
    assert (line["model"], line["version"], line["role"]) == ("credit", "credit-3", "canary")
    assert line["features"] == ROW
    assert first_lines[1]["features"]["region"] is None
    assert line["prediction"] == first["predictions"][0]
    assert line["probabilities"] == pytest.approx(first["probabilities"][0], abs=1e-6)
    # The one-row request (its line spliced from the answer's JSON) logs exactly what the same row logs
    # as row 0 of a two-row request, its list row named by the signature.
    [one] = [x for x in lines if x["requestId"] != first["requestId"]]
    same = {"ts", "requestId"}
    assert {k: v for k, v in one.items() if k not in same} == {k: v for k, v in line.items() if k not in same}
    for uri in feedback:
        assert re.fullmatch(rf"s3://{bucket}/team/credit/feedback/credit-dep/{PART}", uri), uri
    fb_lines = [line for batch in feedback.values() for line in batch]
    assert sorted((x["row"], x["label"]) for x in fb_lines) == [(0, 1), (1, "0")]
    assert all(set(x) == {"ts", "requestId", "row", "label"} for x in fb_lines)
    assert written >= 3


def test_sigterm_flushes_the_buffer(
    models: dict[str, TrainedModel], s3_server: S3Handle, tmp_path: Path
) -> None:
    bucket = s3_server.unique_bucket("flush")
    server = ServerProcess(
        models["regression"], tmp_path / "server.log", env=_env(s3_server),
        extra=("--traffic-uri", f"s3://{bucket}/ns/p/traffic", "--log-flush-seconds", "3600",
               "--log-batch-size", "100000"),
    ).start()  # fmt: skip
    row = dict.fromkeys(models["regression"].features, 0.01) | {"sex": "m"}
    for _ in range(5):
        assert server.json("POST", "/predict", {"instances": [row] * 3})[0] == 200
    store = ArtifactStore(s3_server.endpoint, "testing", "testing")
    assert store.list(f"s3://{bucket}/ns/p/traffic/") == []
    assert server.stop(signal.SIGTERM) == 0
    logged = _lines(store, f"s3://{bucket}/ns/p/traffic/demo/v1/")
    assert sum(map(len, logged.values())) == 15
    assert all("probabilities" not in line and isinstance(line["prediction"], float)
               for batch in logged.values() for line in batch)  # fmt: skip


@pytest.fixture
def blackhole() -> Iterator[str]:
    """An "S3 endpoint" that accepts connections and never answers: the worst kind of outage."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        sock.close()


def test_full_buffer_drops_and_counts_without_blocking(
    models: dict[str, TrainedModel], blackhole: str, tmp_path: Path
) -> None:
    env = {"MLOOP_S3_ENDPOINT": blackhole, "MLOOP_S3_ACCESS_KEY": "x", "MLOOP_S3_SECRET_KEY": "y"}
    server = ServerProcess(
        models["binary"], tmp_path / "server.log", env=env,
        extra=("--traffic-uri", "s3://bucket/ns/p/traffic/", "--log-buffer", "10", "--log-batch-size", "2",
               "--log-flush-seconds", "0.1", "--shutdown-grace", "1"),
    ).start()  # fmt: skip
    slowest = 0.0
    try:
        for _ in range(60):
            started = time.perf_counter()
            assert server.json("POST", "/predict", {"instances": [ROW]})[0] == 200
            slowest = max(slowest, time.perf_counter() - started)
        dropped = server.metric("mloop_traffic_log_dropped_total", reason="buffer_full")
        served = server.metric("mloop_predictions_total")
    finally:
        started = time.perf_counter()
        server.stop(signal.SIGTERM)
        stop_seconds = time.perf_counter() - started
    assert served == 60
    assert dropped >= 60 - 10 - 2  # the buffer holds 10 rows; the flusher took at most one batch of 2
    assert slowest < 0.5, f"a request waited {slowest:.2f} s for the log"
    assert stop_seconds < 10, "shutdown must not wait for a hung S3 beyond the grace period"


class FlakyStore:
    """S3 that is down for the first ``down`` writes, then up; remembers what it holds by key."""

    def __init__(self, down: int) -> None:
        self.down = down
        self.calls: list[str] = []
        self.objects: dict[str, bytes] = {}

    def put_bytes(self, uri: str, data: bytes, content_type: str = "", *, unique_key: bool = False) -> object:
        self.calls.append(uri)
        if len(self.calls) <= self.down:
            raise StorageUnavailable("S3 is down (gave up after 5 attempts)", uri=uri)
        self.objects[uri] = data
        return uri


def _three_rows_twice(log: TrafficLog) -> None:
    batch = Batch(3, {}, [{"x": 1.0}, {"x": 2.0}, {"x": None}])
    prediction = Prediction(
        np.array([0, 1, 1]), np.full((3, 2), 0.5, np.float32), None, np.full(3, 0.5, np.float32)
    )
    log.add_prediction(0.0, "r1", batch, prediction)
    log.add_prediction(3600.0 * 5 + 1, "r2", batch, prediction)  # another hour: another partition


def _log(store: FlakyStore, capacity: int = 100) -> tuple[TrafficLog, ServerMetrics]:
    metrics = ServerMetrics("m", "v", "stable", buckets=PROBABILITY_BUCKETS, classes=["0", "1"])
    log = TrafficLog(store, "s3://b/ns/p/traffic/", deployment="d", model="m", version="v", role="stable",
                     names=["x"], classes=["0", "1"], metrics=metrics,
                     batch_size=2, capacity=capacity)  # fmt: skip
    return log, metrics


def test_failed_writes_are_held_and_written_again_under_the_same_keys() -> None:
    store = FlakyStore(down=1)
    log, metrics = _log(store)
    _three_rows_twice(log)
    log.flush()
    # The first write failed: S3 is taken to be down, so the other three objects were not even tried.
    assert len(store.calls) == 1
    assert log.pending() == 6
    assert metrics.log_held._value.get() == 6
    assert metrics.log_dropped_storage._value.get() == 0
    log.flush()  # S3 is back
    assert len(store.calls) == 5
    assert store.calls[1] == store.calls[0]  # the failed object again, under its key
    assert sorted(store.objects) == sorted(set(store.calls))  # two partitions, 3 lines each, 2 per object
    assert sum(body.count(b"\n") for body in store.objects.values()) == 6
    assert log.pending() == 0
    assert metrics.log_held._value.get() == 0
    assert metrics.log_written._value.get() == 6
    assert metrics.log_dropped_storage._value.get() == 0


class LostAnswerStore(FlakyStore):
    """The first write lands in S3 but its answer is lost; a write to a taken key is refused (412)."""

    def put_bytes(self, uri: str, data: bytes, content_type: str = "", *, unique_key: bool = False) -> object:
        self.calls.append(uri)
        if uri in self.objects:
            raise ObjectExists(f"put {uri}: the key already exists", uri=uri)
        self.objects[uri] = data
        if len(self.calls) == 1:
            raise StorageUnavailable("connection reset while reading the answer", uri=uri)
        return uri


def test_a_held_write_that_had_landed_counts_once() -> None:
    store = LostAnswerStore(down=0)
    log, metrics = _log(store)
    _three_rows_twice(log)
    log.flush()
    assert metrics.log_held._value.get() == 6
    log.flush()
    assert store.calls[1] == store.calls[0]
    assert log.pending() == 0
    assert metrics.log_written._value.get() == 6
    assert sum(body.count(b"\n") for body in store.objects.values()) == 6


def test_held_rows_count_against_the_buffer_and_are_dropped_only_at_shutdown() -> None:
    store = FlakyStore(down=1000)
    log, metrics = _log(store, capacity=9)
    _three_rows_twice(log)
    log.flush()
    assert log.pending() == 6
    _three_rows_twice(log)  # 6 held + 6 new > 9: the first 3 fit, the last 3 are refused
    assert metrics.log_dropped_full._value.get() == 3
    log.stop(timeout=1.0)
    assert metrics.log_dropped_storage._value.get() == 9
    assert metrics.log_written._value.get() == 0


def test_the_feedback_prefix_is_the_traffic_prefix_sibling() -> None:
    assert feedback_prefix("s3://b/ns/p/traffic/") == "s3://b/ns/p/feedback/"
    assert feedback_prefix("s3://b/traffic") == "s3://b/feedback/"


class RecordingStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put_bytes(self, uri: str, data: bytes, content_type: str = "", *, unique_key: bool = False) -> object:
        assert unique_key  # random part names: no existence check needed
        self.objects[uri] = data
        return uri


def test_big_and_small_requests_give_the_same_lines_in_objects_of_at_most_the_batch_size() -> None:
    """Small requests are encoded at once, big ones by the flusher: the lines must not tell them apart, and
    a request whose lines cross an object boundary is split between objects, never over the limit."""
    metrics = ServerMetrics("m", "v", "stable", buckets=PROBABILITY_BUCKETS, classes=["0", "1"])
    store = RecordingStore()
    log = TrafficLog(store, "s3://b/ns/p/traffic/", deployment="d", model="m", version="v", role="stable",
                     names=["x", "c"], classes=["0", "1"], metrics=metrics, batch_size=7)  # fmt: skip
    big = ENCODE_NOW_MAX_ROWS + 5
    ts = 1_700_000_000.25
    for rid, rows in (("small", 3), ("big", big), ("one", 1)):
        records = [{"x": float(i), "c": "a\nb"} if i % 2 else [float(i), None] for i in range(rows)]
        probabilities = np.linspace(0, 1, rows, dtype=np.float32)
        prediction = Prediction(
            (probabilities > 0.5).astype(np.int64),
            np.stack([1 - probabilities, probabilities], axis=1),
            None,
            probabilities,
        )
        log.add_prediction(ts, rid, Batch(rows, {}, records), prediction)
    log.add_feedback(ts, "big", [(4, 1)])
    assert log.pending() == 3 + big + 1 + 1
    log.flush()
    assert log.pending() == 0
    traffic = {u: b.decode().splitlines() for u, b in store.objects.items() if "/traffic/" in u}
    assert all(re.fullmatch(rf"s3://b/ns/p/traffic/d/v/{PART}", u) for u in traffic)
    assert sorted(map(len, traffic.values())) == [3, 7, 7]  # 17 lines, at most 7 per object
    lines = [json.loads(line) for body in traffic.values() for line in body]
    by_request = {rid: [x for x in lines if x["requestId"] == rid] for rid in ("small", "big", "one")}
    assert [len(v) for v in by_request.values()] == [3, big, 1]
    for rid, got in by_request.items():
        assert sorted(x["row"] for x in got) == list(range(len(got))), rid
        for x in got:
            assert set(x) == {"ts", "requestId", "row", "model", "version", "role", "features", "prediction",
                              "probabilities"}  # fmt: skip
            assert x["ts"] == "2023-11-14T22:13:20.250Z"
            row = x["row"]
            assert x["features"] == (
                {"x": float(row), "c": "a\nb"} if row % 2 else {"x": float(row), "c": None}
            )
            assert x["probabilities"]["1"] == pytest.approx(row / max(len(got) - 1, 1), abs=1e-6)
            assert x["prediction"] == int(x["probabilities"]["1"] > 0.5)
    [feedback] = [b for u, b in store.objects.items() if "/feedback/" in u]
    assert json.loads(feedback) == {
        "ts": "2023-11-14T22:13:20.250Z",
        "requestId": "big",
        "row": 4,
        "label": 1,
    }
    assert metrics.log_written._value.get() == 3 + big + 1 + 1
