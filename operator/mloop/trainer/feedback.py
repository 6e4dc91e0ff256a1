"""Stage 1, second half (DataLoaded): served traffic joined with feedback labels, as rows of the data.

Reads the prediction server's logs (SPEC §3, written by ``mloop.server.trafficlog``):
``<traffic>/<version>/<YYYY-MM-DD>/<HH>/part-*.jsonl`` lines ``{"ts", "requestId", "row", "features", …}``
and ``<labels>/<YYYY-MM-DD>/<HH>/part-*.jsonl`` lines ``{"ts", "requestId", "row", "label"}``. The key is
(requestId, row): duplicate traffic lines count once (the earliest), the latest label wins, rows without a
label are dropped. Only lines with ``since <= ts < until`` are used (the operator sets ``until`` to the
run's creation time, so a retried Job sees the same rows), then the newest ``max_rows`` are kept.

A row whose features do not fit the project's columns, or whose label is not a known class (a number for
regression), is rejected and counted by reason; bad log lines are skipped and counted. Nothing here fails
the run except an unreadable store. The target gets the label, ``data.timeColumn`` the request time in the
source's own format, ``data.groupColumn`` one group per request (traffic carries no group), every other
column not in the features stays empty.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from pandas.tseries.api import guess_datetime_format

from mloop.api.feedback import DEFAULT_FEEDBACK_MAX_ROWS
from mloop.api.mlproject import MLProjectSpec
from mloop.trainer.io import Inputs
from mloop.trainer.profile import select_features
from mloop.trainer.result import TrainerFailure

__all__ = [
    "FeedbackConfig",
    "FeedbackRows",
    "LabelledRow",
    "combined_digest",
    "join",
    "load_feedback",
    "to_frame",
]

_PARTITION = re.compile(r"/(\d{4}-\d{2}-\d{2})/(\d{2})/[^/]+$")
_SUFFIXES = (".jsonl", ".jsonl.gz")


@dataclass(frozen=True)
class FeedbackConfig:
    """Where the two logs are and which part of them to use."""

    traffic: str
    labels: str
    max_rows: int = DEFAULT_FEEDBACK_MAX_ROWS
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class LabelledRow:
    """One logged prediction row with its label."""

    ts: datetime
    request_id: str
    row: int
    features: dict[str, Any]
    label: Any


@dataclass(frozen=True)
class FeedbackRows:
    """The accepted rows in the source's columns, their digest and everything counted on the way."""

    frame: pd.DataFrame
    sha256: str | None
    summary: dict[str, Any]


class _Rejected(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def combined_digest(source_sha256: str, feedback_sha256: str | None) -> str:
    """The data digest of a run: the source's, folded with the feedback rows' when there are any."""
    if not feedback_sha256:
        return source_sha256
    return hashlib.sha256(f"{source_sha256}\nfeedback\t{feedback_sha256}\n".encode()).hexdigest()


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _in_range(ts: datetime, since: datetime | None, until: datetime | None) -> bool:
    return (since is None or ts >= since) and (until is None or ts < until)


def _wanted(part: str, since: datetime | None, until: datetime | None) -> bool:
    """Hour partitions wholly outside [since, until) are not read; unpartitioned parts always are."""
    if not part.endswith(_SUFFIXES):
        return False
    match = _PARTITION.search(part)
    if match is None:
        return True
    try:
        hour = datetime.strptime(f"{match[1]} {match[2]}", "%Y-%m-%d %H").replace(tzinfo=UTC)
    except ValueError:
        return True
    return (since is None or hour.timestamp() + 3600 > since.timestamp()) and (until is None or hour < until)


def _read(
    inputs: Inputs, prefix: str, config: FeedbackConfig, counts: Counter[str], what: str
) -> Iterator[dict[str, Any]]:
    """Every JSON object line of the prefix's wanted parts, in key order; a missing prefix is empty."""
    try:
        parts = inputs.parts(prefix if prefix.endswith("/") else prefix + "/") or []
    except TrainerFailure as exc:
        if exc.reason != "DataNotFound":
            raise
        parts = []
    for part in parts:
        if not _wanted(part, config.since, config.until):
            continue
        counts[f"{what}Files"] += 1
        data = inputs.read(part)
        if part.endswith(".gz"):
            data = gzip.decompress(data)
        for line in data.splitlines():
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                obj = None
            if isinstance(obj, dict):
                yield obj
            else:
                counts["skippedLines"] += 1


def _key(obj: dict[str, Any]) -> tuple[str, int] | None:
    rid, row = obj.get("requestId"), obj.get("row", 0)
    if not isinstance(rid, str | int) or isinstance(rid, bool) or type(row) is not int:
        return None
    return str(rid), row


def join(
    traffic: Iterable[dict[str, Any]],
    labels: Iterable[dict[str, Any]],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    counts: Counter[str] | None = None,
) -> list[LabelledRow]:
    """Labelled rows, oldest first; ``counts`` gets requests, duplicates, unlabelled and orphan labels."""
    counts = Counter() if counts is None else counts
    seen: dict[tuple[str, int], tuple[datetime, dict[str, Any]]] = {}
    for obj in traffic:
        key, ts, features = _key(obj), _time(obj.get("ts")), obj.get("features")
        if key is None or ts is None or not isinstance(features, dict):
            counts["skippedLines"] += 1
        elif _in_range(ts, since, until):
            if key in seen:
                counts["duplicates"] += 1
                if ts >= seen[key][0]:
                    continue
            seen[key] = (ts, features)
    latest: dict[tuple[str, int], tuple[datetime, Any]] = {}
    for obj in labels:
        key, ts = _key(obj), _time(obj.get("ts"))
        if key is None or ts is None or "label" not in obj:
            counts["skippedLines"] += 1
        elif (until is None or ts < until) and (key not in latest or ts >= latest[key][0]):
            latest[key] = (ts, obj["label"])
    counts["requests"] += len(seen)
    counts["labelsWithoutRequest"] += sum(1 for key in latest if key not in seen)
    out = [
        LabelledRow(ts, rid, row, features, latest[(rid, row)][1])
        for (rid, row), (ts, features) in seen.items()
        if (rid, row) in latest
    ]
    counts["unlabelled"] += len(seen) - len(out)
    return sorted(out, key=lambda r: (r.ts, r.request_id, r.row))


def _number(value: Any, reason: str, name: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Rejected(reason, f"{name}: {value!r} is not a number")
    try:
        number = float(value)
    except ValueError:
        raise _Rejected(reason, f"{name}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise _Rejected(reason, f"{name}: {value!r} is not finite")
    return number


def _text(value: Any, name: str) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Rejected("bad-value", f"{name}: {value!r} is not a category")
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _class_key(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _converter(series: pd.Series, name: str) -> Callable[[Any], Any]:
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return lambda v: _number(v, "bad-value", name)
    return lambda v: _text(v, name)


def _label_converter(spec: MLProjectSpec, series: pd.Series) -> Callable[[Any], Any]:
    target = spec.problem.target
    classes = {_class_key(v): v for v in series.dropna().tolist()}

    def convert(value: Any) -> Any:
        if spec.problem.task == "regression":
            if value is None:
                raise _Rejected("bad-label", f"label for {target!r} is null")
            return _number(value, "bad-label", f"label for {target!r}")
        if _class_key(value) not in classes:
            raise _Rejected(
                "unknown-label", f"label {value!r} is not a class of {target!r}: {sorted(classes)}"
            )
        return classes[_class_key(value)]

    return convert


def _time_writer(series: pd.Series) -> Callable[[datetime], Any] | None:
    """The request time as the source writes its times; None when that cannot be known (numeric times)."""
    if pd.api.types.is_datetime64_any_dtype(series):
        tz = getattr(series.dt, "tz", None)
        return lambda ts: pd.Timestamp(ts).tz_convert(tz) if tz else pd.Timestamp(ts).tz_convert(None)
    sample = next((v for v in series.dropna().tolist() if isinstance(v, str)), None)
    fmt = guess_datetime_format(sample) if sample and not pd.api.types.is_numeric_dtype(series) else None
    if sample is None or fmt is None:
        return None
    zulu = fmt.endswith("%z") and sample.rstrip().endswith("Z")
    pattern = fmt.removesuffix("%z") if zulu else fmt

    def write(ts: datetime) -> str:
        text = ts.astimezone(UTC).strftime(pattern)
        return text + "Z" if zulu else text

    try:
        pd.to_datetime(pd.Series([sample, write(datetime(2000, 1, 2, 3, 4, 5, tzinfo=UTC))]), utc=True)
    except (ValueError, TypeError):
        return None
    return write


def _column(values: list[Any], like: pd.Series) -> pd.Series:
    """New values typed like the source column where they fit (an int column with gaps becomes float)."""
    series = pd.Series(values, dtype=object)
    try:
        if pd.api.types.is_numeric_dtype(like) and not pd.api.types.is_bool_dtype(like):
            series = pd.to_numeric(series)  # a numeric group column gets "request:<id>" strings: stays object
        return series.astype(like.dtype)
    except (TypeError, ValueError):
        return series


class _Schema:
    """How a logged row becomes a row of the source: converters per column, the checks, the filled columns."""

    def __init__(self, source: pd.DataFrame, spec: MLProjectSpec) -> None:
        data, self.target = spec.data, spec.problem.target
        self.expected = set(select_features(source, data, self.target).columns) - set(data.forbidden_columns)
        self.known = set(map(str, source.columns))
        skip = (self.target, data.time_column)
        self.convert = {c: _converter(source[c], c) for c in self.known if c not in skip}
        self.label = _label_converter(spec, source[self.target])
        self.time_col = data.time_column if data.time_column in self.known else None
        self.group_col = data.group_column if data.group_column in self.known else None
        self.write_time = _time_writer(source[self.time_col]) if self.time_col else None

    def values(self, r: LabelledRow) -> dict[str, Any]:
        """The row's values by column; ``_Rejected`` names why it does not fit."""
        unknown = sorted(set(r.features) - self.known)
        if unknown:
            raise _Rejected("unknown-feature", f"logged feature {unknown[0]!r} is not a column of the data")
        missing = sorted(self.expected - set(r.features))
        if missing:
            raise _Rejected("missing-feature", f"feature {missing[0]!r} is not in the logged request")
        values = {c: self.convert[c](v) for c, v in r.features.items() if c in self.convert}
        values[self.target] = self.label(r.label)
        if self.time_col:
            if self.write_time is None:
                raise _Rejected(
                    "time-unplaceable",
                    f"data.timeColumn {self.time_col!r} holds numbers or no recognisable dates, "
                    "so a request time cannot be written to it",
                )
            values[self.time_col] = self.write_time(r.ts)
        if self.group_col and self.group_col not in r.features:
            values[self.group_col] = f"request:{r.request_id}"
        return values


def to_frame(
    rows: list[LabelledRow],
    source: pd.DataFrame,
    spec: MLProjectSpec,
    counts: Counter[str],
    examples: dict[str, str],
) -> tuple[pd.DataFrame, list[LabelledRow]]:
    """Accepted rows in the source's columns; rejections counted in ``counts`` under ``rejected:<reason>``."""
    schema = _Schema(source, spec)
    columns: dict[str, list[Any]] = {str(c): [] for c in source.columns}
    accepted: list[LabelledRow] = []
    for r in rows:
        try:
            values = schema.values(r)
        except _Rejected as exc:
            counts[f"rejected:{exc.reason}"] += 1
            examples.setdefault(exc.reason, f"request {r.request_id} row {r.row}: {exc}")
            continue
        for c, out in columns.items():
            out.append(values.get(c))
        accepted.append(r)
    frame = pd.DataFrame({c: _column(v, source[c]) for c, v in columns.items()}, columns=source.columns)
    return frame, accepted


def _digest(rows: list[LabelledRow]) -> str:
    text = "".join(
        json.dumps([r.ts.isoformat(), r.request_id, r.row, r.features, r.label], sort_keys=True, default=str)
        + "\n"
        for r in rows
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _unmatchable(source: pd.DataFrame, spec: MLProjectSpec) -> str | None:
    """Why logged rows cannot be matched to the source yet (DataValidated then fails for the same reason)."""
    if spec.problem.target not in source.columns:
        return f"TargetMissing: target column {spec.problem.target!r} is not in the data"
    try:
        select_features(source, spec.data, spec.problem.target)
    except TrainerFailure as exc:
        return f"{exc.reason}: {exc.message}"
    return None


def load_feedback(
    config: FeedbackConfig, inputs: Inputs, source: pd.DataFrame, spec: MLProjectSpec
) -> FeedbackRows:
    """Read both logs, join, convert, keep the newest ``max_rows``; the counts go to ``result.json``."""
    counts: Counter[str] = Counter()
    examples: dict[str, str] = {}
    base = {"trafficUri": config.traffic, "labelsUri": config.labels, "maxRows": config.max_rows}
    base |= {k: v.isoformat() for k, v in (("since", config.since), ("until", config.until)) if v is not None}
    skipped = _unmatchable(source, spec)
    if skipped:
        return FeedbackRows(source.iloc[:0], None, {**base, "rows": 0, "skipped": skipped})
    traffic = _read(inputs, config.traffic, config, counts, "traffic")
    labels = list(_read(inputs, config.labels, config, counts, "labels"))
    joined = join(traffic, labels, since=config.since, until=config.until, counts=counts)
    frame, accepted = to_frame(joined, source, spec, counts, examples)
    truncated = max(0, len(accepted) - config.max_rows)
    if truncated:
        frame, accepted = frame.iloc[truncated:], accepted[truncated:]
    rejected = {k.split(":", 1)[1]: v for k, v in sorted(counts.items()) if k.startswith("rejected:")}
    summary = {
        **base,
        **{k: counts[k] for k in ("trafficFiles", "labelsFiles", "skippedLines", "requests", "duplicates")},
        **{k: counts[k] for k in ("unlabelled", "labelsWithoutRequest")},
        "labelled": len(joined),
        "rejected": rejected,
        "rejectedTotal": sum(rejected.values()),
        "rejectedExamples": examples,
        "truncated": truncated,
        "rows": len(accepted),
    }
    summary["sha256"] = sha = _digest(accepted) if accepted else None
    return FeedbackRows(frame.reset_index(drop=True), sha, summary)
