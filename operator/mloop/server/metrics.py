"""Prometheus metrics of one server: a private registry, children bound once at start, fixed buckets.

The canary analysis scrapes ``/metrics`` of every stable and canary pod and compares their prediction
distributions bucket by bucket, so the buckets must be identical across pods and versions:

* ``mloop_prediction_value`` — probabilities (binary: the positive = second class; multiclass: the top
  class) in 20 equal buckets over [0, 1] (``le`` = 0.05, 0.10, …, 1.0); regression values in the fixed
  log-linear set ``REGRESSION_BUCKETS`` (±1e-3 … ±1e6, 1-2-5 per decade, and 0), unless the model carries
  ``mloop.predictionBuckets`` metadata (a JSON list), which the trainer does not write today.
* ``mloop_request_duration_seconds`` — ``DURATION_BUCKETS`` (0.5 ms … 10 s).

Per-row observations (a 64-row request is 64 histogram observations and 64 class counts) would cost more
than the model itself through ``prometheus_client``'s locked ``observe``; ``RowStats`` keeps the hot-path
series as plain numbers (lists for small requests, numpy ``searchsorted`` + ``bincount`` for large ones),
updated once per request without locks, and exposes them as ordinary counter and histogram families. It
is touched only from the event loop, which also serves ``/metrics``. Rare series (errors, the traffic
log's counters, which its thread updates) are ordinary ``prometheus_client`` counters, children bound at
start.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

__all__ = [
    "DURATION_BUCKETS",
    "ERROR_CODES",
    "PROBABILITY_BUCKETS",
    "REGRESSION_BUCKETS",
    "RowStats",
    "ServerMetrics",
]

PROBABILITY_BUCKETS: tuple[float, ...] = tuple(round(i / 20, 2) for i in range(1, 21))
_POSITIVE = tuple(m * 10.0**e for e in range(-3, 7) for m in (1, 2, 5))
REGRESSION_BUCKETS: tuple[float, ...] = (*(-b for b in reversed(_POSITIVE)), 0.0, *_POSITIVE)
DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ERROR_CODES = ("400", "404", "405", "413", "422", "500", "503")
LABELS = ("model", "version", "role")
_SMALL = 8


class _Histogram:
    """Bucket counts in a list for few observations, a numpy array for many; Prometheus "le" semantics."""

    def __init__(self, buckets: Sequence[float]) -> None:
        self.bounds = [float(b) for b in buckets]
        self._bounds = np.asarray(self.bounds, dtype=np.float64)
        self.small = [0] * (len(buckets) + 1)
        self.large: NDArray[np.int64] = np.zeros(len(buckets) + 1, dtype=np.int64)
        self.total = 0.0

    def observe(self, value: float) -> None:
        if math.isfinite(value):
            self.small[bisect.bisect_left(self.bounds, value)] += 1
            self.total += value

    def observe_many(self, values: NDArray[Any]) -> None:
        if len(values) <= _SMALL:  # a few rows: plain Python beats numpy's per-call overhead
            for value in values.tolist():
                self.observe(value)
            return
        finite = values[np.isfinite(values)]
        # side="left": the first bound >= value, which is Prometheus' "le" bucket.
        self.large += np.bincount(
            np.searchsorted(self._bounds, finite, side="left"), minlength=len(self.large)
        )
        self.total += float(finite.sum(dtype=np.float64))

    def family(self, name: str, documentation: str, labels: Sequence[str], values: Sequence[str]) -> Metric:
        cumulative = np.cumsum(self.large + np.asarray(self.small, dtype=np.int64))
        buckets = [(_le(b), float(c)) for b, c in zip(self.bounds, cumulative[:-1], strict=True)]
        buckets.append(("+Inf", float(cumulative[-1])))
        hist = HistogramMetricFamily(name, documentation, labels=list(labels))
        hist.add_metric(list(values), buckets, self.total)
        return hist


class RowStats(Collector):
    """The per-request and per-row series of the hot path, as plain numbers (see the module docstring):
    ``mloop_predictions_total``, ``mloop_request_duration_seconds``, ``mloop_prediction_value`` and
    ``mloop_prediction_class_total``. Touched only from the event loop, so no locks."""

    def __init__(self, labels: Sequence[str], buckets: Sequence[float], classes: Sequence[str]) -> None:
        self.labels = list(labels)
        self.rows = 0
        self.duration = _Histogram(DURATION_BUCKETS)
        self.values = _Histogram(buckets)
        self.classes = list(classes)
        self.class_small = [0] * len(classes)
        self.class_large: NDArray[np.int64] = np.zeros(len(classes), dtype=np.int64)

    def observe(self, scores: NDArray[Any], class_index: NDArray[Any] | None) -> None:
        self.rows += len(scores)
        self.values.observe_many(scores)
        if class_index is None:
            return
        if len(class_index) <= _SMALL:
            for index in class_index.tolist():
                self.class_small[index] += 1
        else:
            self.class_large += np.bincount(class_index, minlength=len(self.classes))[: len(self.classes)]

    def collect(self) -> Iterator[Metric]:
        names = list(LABELS)
        rows = CounterMetricFamily("mloop_predictions", "Rows predicted", labels=names)
        rows.add_metric(self.labels, float(self.rows))
        yield rows
        yield self.duration.family(
            "mloop_request_duration_seconds", "Inference request latency (body read to response ready)",
            names, self.labels,
        )  # fmt: skip
        yield self.values.family(
            "mloop_prediction_value",
            "Distribution of predictions: positive-class (binary) or top-class (multiclass) probability, "
            "or the predicted value (regression)",
            names,
            self.labels,
        )
        if self.classes:
            counter = CounterMetricFamily(
                "mloop_prediction_class", "Predicted rows per class", labels=[*names, "class"]
            )
            totals = self.class_large + np.asarray(self.class_small, dtype=np.int64)
            for cls, count in zip(self.classes, totals, strict=True):
                counter.add_metric([*self.labels, cls], float(count))
            yield counter


def _le(bound: float) -> str:
    text: str = floatToGoString(float(bound))  # type: ignore[no-untyped-call]
    return text


class ServerMetrics:
    """Every metric of the server, children pre-bound to (model, version, role)."""

    def __init__(
        self, model: str, version: str, role: str, *, buckets: Sequence[float], classes: Sequence[str]
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = (model, version, role)
        r = self.registry
        errors = Counter(
            "mloop_prediction_errors",
            "Failed inference requests by HTTP status",
            [*LABELS, "code"],
            registry=r,
        )
        self._errors_family = errors
        self._labels = labels
        self.errors = {code: errors.labels(*labels, code) for code in ERROR_CODES}
        self.rows = RowStats(labels, buckets, classes)
        r.register(self.rows)
        self.log_written = Counter(
            "mloop_traffic_log_written", "Traffic-log lines written to S3", LABELS, registry=r
        ).labels(*labels)
        dropped = Counter(
            "mloop_traffic_log_dropped",
            "Traffic-log lines dropped (buffer_full: the buffer was full; storage: unwritten at shutdown)",
            [*LABELS, "reason"],
            registry=r,
        )
        self.log_dropped_full = dropped.labels(*labels, "buffer_full")
        self.log_dropped_storage = dropped.labels(*labels, "storage")
        self.log_held = Gauge(
            "mloop_traffic_log_held",
            "Traffic-log lines whose S3 write failed, kept (within --log-buffer) to be written again",
            LABELS,
            registry=r,
        ).labels(*labels)
        self.feedback = Counter("mloop_feedback", "Feedback labels received", LABELS, registry=r).labels(
            *labels
        )

    def error(self, status: int) -> None:
        code = str(status)
        child = self.errors.get(code)
        if child is None:
            child = self.errors[code] = self._errors_family.labels(*self._labels, code)
        child.inc()

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))
