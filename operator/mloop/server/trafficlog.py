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

Cheap on the request path, and nothing that blocks it. A request of at most ``ENCODE_NOW_MAX_ROWS`` rows
(the usual online call) is encoded to its JSON lines at once, while its objects are hot in cache, and only
those bytes are kept (a one-row ``/predict`` splices in its answer's JSON of the prediction and
probabilities); a bigger one is kept as is and encoded by the flusher, so its latency does not grow with
the log. (Encoding in the flusher instead cost several times more per row, B3: its thread competes with
the requests for the GIL and finds the rows long gone from cache. A separate writer process measured no
better on a 2-vCPU machine: its CPU is taken from the same two cores.) When the buffer holds
``--log-buffer`` rows, new rows are dropped and counted in
``mloop_traffic_log_dropped_total{reason="buffer_full"}``; requests never wait. A daemon thread writes
when ``--log-batch-size`` rows are waiting or every ``--log-flush-seconds``. The store retries a failed
write for a few seconds; an object that still fails is kept, counted in ``mloop_traffic_log_held`` and
in the buffer, and written again (same key) at the next flush, so an S3 outage loses no rows unless it
outlasts the buffer. ``stop`` flushes what is left (SIGTERM), bounded by ``--shutdown-grace``; rows still
unwritten then are counted as ``reason="storage"``.
"""

from __future__ import annotations

import collections
import datetime
import itertools
import json
import logging
import operator
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import orjson

from mloop.server.metrics import ServerMetrics
from mloop.server.model import Prediction
from mloop.server.validation import Batch

__all__ = ["ENCODE_NOW_MAX_ROWS", "Store", "TrafficLog", "feedback_prefix"]

log = logging.getLogger("mloop.server.trafficlog")

ENCODE_NOW_MAX_ROWS = 8
"""Requests up to this many rows are encoded on the request path (about 2 µs a row); bigger ones later."""


class Store(Protocol):
    """The part of ``ArtifactStore`` the log needs (tests pass fakes)."""

    def put_bytes(
        self, uri: str, data: bytes, content_type: str = ..., *, unique_key: bool = ...
    ) -> object: ...


@dataclass(slots=True, frozen=True)
class _Later:
    """A big request's rows, kept as they are for the flusher to encode."""

    ts: bytes
    request_id: str
    batch: Batch
    prediction: Prediction

    def fields(self) -> tuple[bytes, str, Batch, Prediction]:
        return self.ts, self.request_id, self.batch, self.prediction


# One buffered request: (rows, is feedback, YYYY-MM-DD/HH partition, its JSON lines or what to make them
# from). A plain tuple: the request path builds one per request.
_Entry = tuple[int, bool, str, bytes | _Later]
_ROWS = operator.itemgetter(0)
_LINES = operator.itemgetter(3)
_WHERE = operator.itemgetter(1, 2)  # (is feedback, partition): one object group


_MILLIS = [b".%03dZ" % ms for ms in range(1000)]


class _Clock:
    """The RFC 3339 UTC time (milliseconds, truncated) and ``YYYY-MM-DD/HH`` partition of a timestamp. The
    part down to the second is made once per second (requests mostly arrive within the same second as the
    one before), and the rest is integer arithmetic: ``round`` on a float cost ~1 µs a request (B3)."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = b""
        self._partition = ""

    def at(self, ts: float) -> tuple[bytes, str]:
        millis = int(ts * 1000.0)
        second = millis // 1000
        if second != self._second:
            self._second = second
            stamp = datetime.datetime.fromtimestamp(second, datetime.UTC)
            self._prefix = stamp.strftime("%Y-%m-%dT%H:%M:%S").encode()
            self._partition = stamp.strftime("%Y-%m-%d/%H")
        return self._prefix + _MILLIS[millis - second * 1000], self._partition


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
        self._static = b',"model":%b,"version":%b,"role":%b,' % (
            _json(model),
            _json(version),
            _json(role),
        )
        self.names = list(names)
        self.classes = list(classes)
        self.metrics = metrics
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.capacity = capacity
        self._entries: collections.deque[_Entry] = collections.deque()
        self._clock = _Clock()  # the event loop's: the flusher never formats a time
        self._added = 0  # rows appended: written by the event loop only
        self._taken = 0  # rows taken by the flusher: written by the flusher only
        self._held: list[tuple[str, bytes, int]] = []  # (uri, body, lines) whose write failed: flusher only
        self._held_rows = 0  # their lines, which still count against the capacity
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="traffic-log", daemon=True)

    # -- request path (event loop) ---------------------------------------------------------------------

    def pending(self) -> int:
        """Rows buffered or held after a failed write: not yet in S3."""
        return self._added - self._taken + self._held_rows

    def _admit(self, rows: int) -> bool:
        if self._added - self._taken + self._held_rows + rows > self.capacity:
            self.metrics.log_dropped_full.inc(rows)
            return False
        self._added += rows
        if self._added - self._taken >= self.batch_size:
            self._wake.set()
        return True

    def add_prediction(self, ts: float, request_id: str, batch: Batch, prediction: Prediction) -> None:
        rows = batch.rows
        if not self._admit(rows):
            return
        stamp, partition = self._clock.at(ts)
        if rows <= ENCODE_NOW_MAX_ROWS:
            self._entries.append((rows, False, partition, self._lines(stamp, request_id, batch, prediction)))
        else:
            self._entries.append((rows, False, partition, _Later(stamp, request_id, batch, prediction)))

    def add_answered_row(
        self,
        ts: float,
        request_id: str,
        batch: Batch,
        prediction_json: bytes,
        probabilities_json: bytes | None,
    ) -> None:
        """A one-row ``/predict`` (the usual online call), whose answer already holds the prediction and
        the probabilities as JSON (``[x]``): the line splices those in rather than encoding them again.
        ``request_id`` is the server's own (hex and dashes), so it needs no escaping."""
        if not self._admit(1):
            return
        stamp, partition = self._clock.at(ts)
        scores = b',"probabilities":%b' % probabilities_json[1:-1] if probabilities_json else b""
        line = b'{"ts":"%b","requestId":"%b","row":0%b"features":%b,"prediction":%b%b}\n' % (
            stamp,
            request_id.encode(),
            self._static,
            _json(self._features(batch)[0]),
            prediction_json[1:-1],
            scores,
        )
        self._entries.append((1, False, partition, line))

    def add_feedback(self, ts: float, request_id: str, labels: Sequence[tuple[int, Any]]) -> None:
        if not self._admit(len(labels)):
            return
        stamp, partition = self._clock.at(ts)
        lines = b"".join(
            _dumps({"ts": stamp.decode(), "requestId": request_id, "row": row, "label": label})
            for row, label in labels
        )
        self._entries.append((len(labels), True, partition, lines))

    def _lines(self, ts: bytes, request_id: str, batch: Batch, prediction: Prediction) -> bytes:
        """One JSON line per row: the parts that never change (model, version, role and the keys) are
        formatted once, and each row's own fields are one ``dumps`` spliced in after them, ~2.5x cheaper
        than dumping a whole dict per line (the key order is the same). Model outputs are written exactly
        (a float32 probability as the float64 of the same value: rounding cost more than the rest of the
        line); the class count was checked at warm-up, so ``zip`` need not be strict per row."""
        labels = prediction.predictions.tolist()
        probabilities = None if prediction.probabilities is None else prediction.probabilities.tolist()
        head = b'{"ts":"%b","requestId":%b,"row":' % (ts, _json(request_id))
        return b"".join(
            self._line(b"%b%d" % (head, row), features, labels[row], probabilities and probabilities[row])
            for row, features in enumerate(self._features(batch))
        )

    def _line(self, head: bytes, features: dict[str, Any], label: Any, scores: list[float] | None) -> bytes:
        fields = {"features": features, "prediction": label}
        if scores is not None:
            fields["probabilities"] = dict(zip(self.classes, scores, strict=False))
        return b"%b%b%b\n" % (head, self._static, _json(fields)[1:])  # [1:]: fields' own "{"

    def _features(self, batch: Batch) -> list[dict[str, Any]]:
        if batch.columns is not None:
            columns = [batch.columns[n] for n in self.names]
            return [dict(zip(self.names, values, strict=True)) for values in zip(*columns, strict=True)]
        return [r if type(r) is dict else dict(zip(self.names, r, strict=True)) for r in batch.records]

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
        if left:
            log.warning("traffic log: %d rows not written at shutdown; counted as dropped", left)
            self.metrics.log_dropped_storage.inc(left)

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            self.flush()
        self.flush()

    def flush(self) -> None:
        """Write everything buffered now (called by the flusher thread, or directly in tests): encode the
        big requests left for later, group by partition, and write objects of at most ``batch_size``
        lines, after the objects held from a failed flush. Once a write fails, S3 is taken to be down for
        this flush: the objects left are held without trying (each try costs the store's retries)."""
        # The flusher holds the GIL for all of this, and each millisecond of it stalls the requests more
        # than its share (B3): the entries are taken, counted and joined by C loops (``starmap``, ``map``),
        # with Python loops only where a flush holds several partitions or big requests.
        entries = self._entries
        taken_entries = list(itertools.starmap(entries.popleft, itertools.repeat((), len(entries))))
        taken = sum(map(_ROWS, taken_entries))
        groups: dict[tuple[bool, str], list[_Entry]] = {}
        for where, run in itertools.groupby(taken_entries, _WHERE):
            groups.setdefault(where, []).extend(run)
        objects = list(self._held)
        for (feedback, partition), group in groups.items():
            root = f"{self.feedback_root if feedback else self.traffic_root}/{partition}"
            objects += (
                (f"{root}/part-{uuid.uuid4().hex}.jsonl", body, count) for body, count in self._objects(group)
            )
        self._held_rows += taken  # counted as held while written, so pending() never dips in between
        self._taken += taken
        held: list[tuple[str, bytes, int]] = []
        for uri, body, count in objects:
            if held or not self._write(uri, body, count):
                held.append((uri, body, count))
        self._held = held
        self._held_rows = sum(count for _, _, count in held)
        self.metrics.log_held.set(self._held_rows)

    def _objects(self, group: list[_Entry]) -> Iterator[tuple[bytes, int]]:
        """One partition's entries as object bodies of at most ``batch_size`` lines: encode the big requests
        left for later, and split a blob into its lines only where it crosses a limit (orjson escapes line
        breaks inside strings: a raw one ends a line)."""
        limit = self.batch_size
        raw = list(map(_LINES, group))
        if _Later in set(map(type, raw)):
            blobs = [self._lines(*b.fields()) if isinstance(b, _Later) else b for b in raw]
        else:
            blobs = cast(list[bytes], raw)
        total = sum(map(_ROWS, group))
        if total <= limit:  # the usual flush: one object, one join
            yield b"".join(blobs), total
            return
        parts: list[bytes] = []
        count = 0
        for rows, blob in zip(map(_ROWS, group), blobs, strict=True):
            pieces = [(rows, blob)]
            if count + rows > limit:
                pieces = [(1, line + b"\n") for line in blob.split(b"\n")[:-1]]
            for lines, piece in pieces:
                if count + lines > limit:
                    yield b"".join(parts), count
                    parts, count = [], 0
                parts.append(piece)
                count += lines
        if parts:
            yield b"".join(parts), count

    def _write(self, uri: str, body: bytes, lines: int) -> bool:
        try:
            self.store.put_bytes(uri, body, "application/x-ndjson", unique_key=True)
        except Exception as exc:  # noqa: BLE001 - the log must never take the server down; hold and go on
            from mloop.artifacts.errors import ObjectExists  # noqa: PLC0415 - only on this rare path

            # The key is random and a PUT is all or nothing: if it exists, an earlier try wrote this body
            # and only its answer was lost.
            if not isinstance(exc, ObjectExists):
                log.warning("traffic log: %d lines for %s held for the next flush: %s", lines, uri, exc)
                return False
        self.metrics.log_written.inc(lines)
        return True


def _dumps(line: dict[str, Any]) -> bytes:
    return _json(line) + b"\n"


def _json(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # e.g. an integer beyond 64 bits that only the stdlib parser lets through
        return json.dumps(value, default=str, allow_nan=False).encode()
