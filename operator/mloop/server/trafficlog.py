"""The request log: every prediction and feedback label as JSON Lines in S3, written off the request path.

Layout (SPEC §3; the drift checker and the performance monitor read exactly this). With
``--traffic-uri s3://<bucket>/<ns>/<project>/traffic/``, times in UTC:

    s3://<bucket>/<ns>/<project>/traffic/<deployment>/<version>/<YYYY-MM-DD>/<HH>/part-<uuid>.jsonl
        {"ts": "2024-05-01T12:00:00.123Z", "requestId": "…", "row": 0, "model": "credit",
         "version": "credit-3", "role": "stable", "features": {"age": 41.0, "purpose": "car", …},
         "prediction": 1, "probabilities": {"0": 0.31, "1": 0.69}}     (no "probabilities" for regression)
    s3://<bucket>/<ns>/<project>/feedback/<deployment>/<YYYY-MM-DD>/<HH>/part-<uuid>.jsonl
        {"ts": "…", "requestId": "…", "row": 0, "label": 1}

The feedback prefix is the traffic prefix's sibling: its last path segment replaced by ``feedback``. One
request of N rows gives N lines sharing ``requestId`` with ``row`` = 0…N-1 (the row index in the request);
feedback names the row the same way (default 0). ``features`` holds the values as validated (``null`` =
missing). Partitions follow the request's time, so one flush may write several objects; objects hold at
most ``--log-batch-size`` lines and are written once (write-once keys, random part names).

Off the request path: requests append one entry per request to a bounded buffer (a deque and two
counters, no lock, no I/O). When the buffer holds ``--log-buffer`` rows, new rows are dropped and counted
in ``mloop_traffic_log_dropped_total{reason="buffer_full"}``; requests never wait. A daemon thread flushes
when ``--log-batch-size`` rows are waiting or every ``--log-flush-seconds``; the store retries S3 outages
and a batch that still fails is counted as ``reason="storage"``. ``stop`` flushes what is left (SIGTERM),
bounded by ``--shutdown-grace``.
"""

from __future__ import annotations

import collections
import datetime
import json
import logging
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import orjson

from mloop.server.metrics import ServerMetrics
from mloop.server.model import Prediction
from mloop.server.validation import Batch

__all__ = ["Store", "TrafficLog", "feedback_prefix", "rfc3339"]

log = logging.getLogger("mloop.server.trafficlog")


class Store(Protocol):
    """The part of ``ArtifactStore`` the log needs (tests pass fakes)."""

    def put_bytes(self, uri: str, data: bytes, content_type: str = ...) -> object: ...


@dataclass(slots=True)
class _Entry:
    ts: float
    request_id: str
    batch: Batch | None
    prediction: Prediction | None
    feedback: Sequence[tuple[int, Any]] = ()


def rfc3339(ts: float) -> str:
    stamp = datetime.datetime.fromtimestamp(ts, datetime.UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Clock:
    """``rfc3339(ts)`` and the ``YYYY-MM-DD/HH`` partition of a timestamp, with the part down to the second
    made once per second: a flush formats thousands of timestamps, mostly within a few seconds."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""
        self._partition = ""

    def at(self, ts: float) -> tuple[str, str]:
        second = int(ts)
        micros = round((ts - second) * 1e6)  # as datetime rounds a float timestamp (half to even)
        if micros >= 1_000_000 or ts < 0:
            return rfc3339(ts), time.strftime("%Y-%m-%d/%H", time.gmtime(ts))
        if second != self._second:
            self._second = second
            stamp = datetime.datetime.fromtimestamp(second, datetime.UTC)
            self._prefix = stamp.strftime("%Y-%m-%dT%H:%M:%S")
            self._partition = stamp.strftime("%Y-%m-%d/%H")
        return f"{self._prefix}.{micros // 1000:03d}Z", self._partition


def feedback_prefix(traffic_uri: str) -> str:
    """``s3://b/ns/p/traffic/`` → ``s3://b/ns/p/feedback/`` (the last segment replaced)."""
    bucket, _, key = traffic_uri.removeprefix("s3://").partition("/")
    parent = key.strip("/").rpartition("/")[0]
    return f"s3://{bucket}/{parent + '/' if parent else ''}feedback/"


class TrafficLog:
    """Bounded buffer plus flusher thread; see the module docstring for the layout and guarantees."""

    def __init__(
        self,
        store: Store,
        traffic_uri: str,
        *,
        deployment: str,
        model: str,
        version: str,
        role: str,
        names: Sequence[str],
        classes: Sequence[str],
        metrics: ServerMetrics,
        batch_size: int = 2000,
        flush_seconds: float = 5.0,
        capacity: int = 50_000,
    ) -> None:
        self.store = store
        root = traffic_uri.rstrip("/")
        self.traffic_root = f"{root}/{deployment}/{version}"
        self.feedback_root = f"{feedback_prefix(traffic_uri).rstrip('/')}/{deployment}"
        self.static = {"model": model, "version": version, "role": role}
        self.names = list(names)
        self.classes = list(classes)
        self.metrics = metrics
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.capacity = capacity
        self._entries: collections.deque[_Entry] = collections.deque()
        self._added = 0  # rows appended: written by the event loop only
        self._taken = 0  # rows taken by the flusher: written by the flusher only
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="traffic-log", daemon=True)

    # -- request path (event loop) ---------------------------------------------------------------------

    def pending(self) -> int:
        return self._added - self._taken

    def _admit(self, rows: int) -> bool:
        if self._added - self._taken + rows > self.capacity:
            self.metrics.log_dropped_full.inc(rows)
            return False
        self._added += rows
        if self._added - self._taken >= self.batch_size:
            self._wake.set()
        return True

    def add_prediction(self, ts: float, request_id: str, batch: Batch, prediction: Prediction) -> None:
        if self._admit(batch.rows):
            self._entries.append(_Entry(ts, request_id, batch, prediction))

    def add_feedback(self, ts: float, request_id: str, labels: Sequence[tuple[int, Any]]) -> None:
        if self._admit(len(labels)):
            self._entries.append(_Entry(ts, request_id, None, None, labels))

    # -- flusher thread ----------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Flush what is buffered and stop; rows still unwritten after ``timeout`` count as dropped."""
        self._stopping = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        left = self.pending()
        if self._thread.is_alive() and left:
            log.warning("traffic log: %d rows not flushed within %.1f s; counted as dropped", left, timeout)
            self.metrics.log_dropped_storage.inc(left)

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            self.flush()
        self.flush()

    def flush(self) -> None:
        """Write everything buffered now (called by the flusher thread, or directly in tests).

        The serialising happens here, off the request path, but it shares the GIL with the requests, so it
        is kept lean (B3): timestamp and partition strings are made once per second, and the predictions
        and probabilities of all requests taken are converted in one numpy call each, not one per request.
        """
        groups: dict[str, list[bytes]] = collections.defaultdict(list)
        entries: list[_Entry] = []
        while self._entries:
            entries.append(self._entries.popleft())
        self._taken += sum(e.batch.rows if e.batch is not None else len(e.feedback) for e in entries)
        clock = _Clock()
        predictions = [e for e in entries if e.batch is not None and e.prediction is not None]
        if predictions:
            self._prediction_lines(predictions, groups, clock)
        for entry in entries:
            if entry.batch is None or entry.prediction is None:
                ts, partition = clock.at(entry.ts)
                self._feedback_lines(entry, ts, groups[f"{self.feedback_root}/{partition}"])
        for root, lines in groups.items():
            for start in range(0, len(lines), self.batch_size):
                self._write(root, lines[start : start + self.batch_size])

    def _write(self, root: str, lines: list[bytes]) -> None:
        uri = f"{root}/part-{uuid.uuid4().hex}.jsonl"
        try:
            self.store.put_bytes(uri, b"".join(lines), "application/x-ndjson")
        except Exception as exc:  # noqa: BLE001 - the log must never take the server down; count and go on
            log.warning("traffic log: dropped %d lines for %s: %s", len(lines), uri, exc)
            self.metrics.log_dropped_storage.inc(len(lines))
            return
        self.metrics.log_written.inc(len(lines))

    def _prediction_lines(self, entries: list[_Entry], groups: dict[str, list[bytes]], clock: _Clock) -> None:
        outputs = [e.prediction for e in entries if e.prediction is not None]
        predictions = np.concatenate([o.predictions for o in outputs]).tolist()
        probabilities = None
        if outputs[0].probabilities is not None:
            stacked = np.concatenate([o.probabilities for o in outputs if o.probabilities is not None])
            rounded = np.round(stacked.astype(np.float64), 6).tolist()
            classes = self.classes  # the width was checked at warm-up: no strict zip per row
            probabilities = [dict(zip(classes, p, strict=False)) for p in rounded]
        model, version, role = self.static["model"], self.static["version"], self.static["role"]
        at, last, out = 0, "", []
        for entry in entries:
            assert entry.batch is not None
            ts, partition = clock.at(entry.ts)
            if partition != last:
                last, out = partition, groups[f"{self.traffic_root}/{partition}"]
            rid = entry.request_id
            for row, features in enumerate(self._features(entry.batch)):
                line: dict[str, Any] = {
                    "ts": ts, "requestId": rid, "row": row, "model": model, "version": version, "role": role,
                    "features": features, "prediction": predictions[at],
                }  # fmt: skip
                if probabilities is not None:
                    line["probabilities"] = probabilities[at]
                out.append(_dumps(line))
                at += 1

    def _features(self, batch: Batch) -> list[dict[str, Any]]:
        if batch.columns is not None:
            columns = [batch.columns[n] for n in self.names]
            return [dict(zip(self.names, values, strict=True)) for values in zip(*columns, strict=True)]
        return [r if type(r) is dict else dict(zip(self.names, r, strict=True)) for r in batch.records]

    @staticmethod
    def _feedback_lines(entry: _Entry, ts: str, out: list[bytes]) -> None:
        for row, label in entry.feedback:
            out.append(_dumps({"ts": ts, "requestId": entry.request_id, "row": row, "label": label}))


def _dumps(line: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:  # e.g. an integer beyond 64 bits that only the stdlib parser lets through
        return (json.dumps(line, default=str, allow_nan=False) + "\n").encode()
