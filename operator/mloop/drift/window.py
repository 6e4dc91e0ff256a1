"""The traffic log of one window: which hour partitions to read, and how to parse their lines.

Layout (SPEC §3, written by the prediction server): ``<traffic>/<YYYY-MM-DD>/<HH>/part-*.jsonl`` (UTC
hours), one request per line; feedback ``<feedback>/<YYYY-MM-DD>/<HH>/part-*.jsonl`` with
``{"ts", "requestId", "label"}``. Only the hours that overlap [start, end) are listed, newest first, and
reading stops once ``max_samples`` requests are in hand (the window keeps the newest ones). A line that is
not a JSON object with a parseable ``ts`` is skipped and counted, never fatal: one torn write must not
blind the monitor. Parts may be gzip-compressed (``.jsonl.gz``).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mloop.drift.storage import Storage, join

__all__ = [
    "Record",
    "WindowData",
    "format_time",
    "hour_partitions",
    "parse_lines",
    "parse_time",
    "read_feedback",
    "read_window",
]

PART_SUFFIXES = (".jsonl", ".jsonl.gz")


def parse_time(text: str) -> datetime:
    """RFC 3339 (``Z`` or an offset) to an aware UTC datetime; a naive time is taken as UTC."""
    value = datetime.fromisoformat(text.strip().replace("z", "Z"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def format_time(value: datetime) -> str:
    """UTC, seconds precision unless there are fractions, with ``Z``."""
    spec = "microseconds" if value.microsecond else "seconds"
    return value.astimezone(UTC).isoformat(timespec=spec).replace("+00:00", "Z")


def hour_partitions(start: datetime, end: datetime) -> list[str]:
    """``YYYY-MM-DD/HH`` of every UTC hour overlapping [start, end), oldest first."""
    hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    out: list[str] = []
    while hour < end:
        out.append(hour.strftime("%Y-%m-%d/%H"))
        hour += timedelta(hours=1)
    return out


@dataclass
class Record:
    """One logged request, as much of it as the checker uses."""

    ts: datetime
    request_id: str | None
    features: dict[str, Any]
    prediction: Any = None
    probabilities: dict[str, float] | None = None
    role: str | None = None


@dataclass
class WindowData:
    """The requests of a window (oldest first) and what reading them found."""

    records: list[Record] = field(default_factory=list)
    partitions: int = 0
    files: int = 0
    skipped_lines: int = 0
    truncated: bool = False


def _lines(data: bytes, name: str) -> Iterator[bytes]:
    if name.endswith(".gz"):
        data = gzip.decompress(data)
    yield from data.splitlines()


def _object(line: bytes) -> dict[str, Any] | None:
    line = line.strip()
    if not line:
        return None
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def _time(obj: dict[str, Any]) -> datetime | None:
    ts = obj.get("ts")
    if not isinstance(ts, str):
        return None
    try:
        return parse_time(ts)
    except ValueError:
        return None


def parse_lines(lines: Iterable[bytes], start: datetime, end: datetime) -> tuple[list[Record], int]:
    """Requests with ``start <= ts < end`` and the number of malformed lines (out-of-window is not one)."""
    records: list[Record] = []
    skipped = 0
    for line in lines:
        if not line.strip():
            continue
        obj = _object(line)
        ts = _time(obj) if obj is not None else None
        features = obj.get("features") if obj is not None else None
        if obj is None or ts is None or not isinstance(features, dict):
            skipped += 1
            continue
        if not start <= ts < end:
            continue
        probs = obj.get("probabilities")
        records.append(
            Record(
                ts=ts,
                request_id=str(obj["requestId"]) if obj.get("requestId") is not None else None,
                features=features,
                prediction=obj.get("prediction"),
                probabilities=probs if isinstance(probs, dict) else None,
                role=obj.get("role") if isinstance(obj.get("role"), str) else None,
            )
        )
    return records, skipped


def _parts(storage: Storage, prefix: str, partition: str) -> list[str]:
    return [p for p in storage.list(join(prefix, partition)) if p.rsplit("/", 1)[-1].endswith(PART_SUFFIXES)]


def read_window(
    storage: Storage, prefix: str, start: datetime, end: datetime, max_samples: int | None = None
) -> WindowData:
    """The window's requests, the newest ``max_samples`` if there are more (hours read newest first)."""
    out = WindowData()
    collected: list[list[Record]] = []
    count = 0
    for partition in reversed(hour_partitions(start, end)):
        out.partitions += 1
        hour: list[Record] = []
        for part in _parts(storage, prefix, partition):
            out.files += 1
            records, skipped = parse_lines(_lines(storage.read(part, "traffic log"), part), start, end)
            hour.extend(records)
            out.skipped_lines += skipped
        collected.append(hour)
        count += len(hour)
        if max_samples is not None and count >= max_samples:
            break
    records = sorted((r for hour in collected for r in hour), key=lambda r: r.ts)
    if max_samples is not None and len(records) > max_samples:
        records = records[-max_samples:]
        out.truncated = True
    out.records = records
    return out


def read_feedback(
    storage: Storage, prefix: str, start: datetime, end: datetime
) -> tuple[dict[str, Any], int]:
    """Labels by request id from feedback lines with ``start <= ts < end`` (the latest label wins)."""
    labels: dict[str, tuple[datetime, Any]] = {}
    skipped = 0
    for partition in hour_partitions(start, end):
        for part in _parts(storage, prefix, partition):
            for line in _lines(storage.read(part, "feedback log"), part):
                if not line.strip():
                    continue
                obj = _object(line)
                ts = _time(obj) if obj is not None else None
                if obj is None or ts is None or obj.get("requestId") is None or "label" not in obj:
                    skipped += 1
                    continue
                if start <= ts < end:
                    key = str(obj["requestId"])
                    if key not in labels or labels[key][0] <= ts:
                        labels[key] = (ts, obj["label"])
    return {k: v for k, (_, v) in labels.items()}, skipped
