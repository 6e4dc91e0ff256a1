"""Reading the prediction servers' own ``/metrics`` text into per-track totals (no Prometheus needed)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from prometheus_client.parser import text_string_to_metric_families

from mloop.reconcile.canary import TrackMetrics

__all__ = ["track_metrics"]

REQUESTS = "mloop_request_duration_seconds"
ERRORS = "mloop_prediction_errors_total"
PREDICTIONS = "mloop_prediction_value"


def track_metrics(texts: Iterable[str]) -> TrackMetrics:
    """Sum one track's pods: requests (latency histogram count), server errors (5xx), and both histograms.

    Client errors (4xx) are the caller's fault, not the canary's, so they do not count against it.
    """
    requests = 0.0
    errors = 0.0
    latency: defaultdict[float, float] = defaultdict(float)
    predictions: defaultdict[float, float] = defaultdict(float)
    for text in texts:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == f"{REQUESTS}_count":
                    requests += sample.value
                elif sample.name == f"{REQUESTS}_bucket":
                    latency[float(sample.labels["le"])] += sample.value
                elif sample.name == f"{PREDICTIONS}_bucket":
                    predictions[float(sample.labels["le"])] += sample.value
                elif sample.name in (ERRORS, ERRORS.removesuffix("_total")) and str(
                    sample.labels.get("code", "500")
                ).startswith("5"):
                    errors += sample.value
    return TrackMetrics(
        requests=requests,
        errors=errors,
        latency=sorted(latency.items()),
        predictions=sorted(predictions.items()),
    )
