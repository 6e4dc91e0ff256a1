"""The operator's own Prometheus metrics, in a private registry served on the health port."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

__all__ = ["OperatorMetrics"]


class OperatorMetrics:
    """Counters named per SPEC §2; one instance per operator process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.reconciles = Counter(
            "mloop_reconciles_total",
            "Reconciles run, by kind and result (ok, retry, invalid).",
            ["kind", "result"],
            registry=self.registry,
        )
        self.reconcile_errors = Counter(
            "mloop_reconcile_errors_total",
            "Reconciles that ended in an error, by kind and reason.",
            ["kind", "reason"],
            registry=self.registry,
        )
        self.drift_p_value = Gauge(
            "mloop_drift_p_value",
            "p-value of the last drift test per monitor and feature (lower means more drift).",
            ["monitor", "feature"],
            registry=self.registry,
        )
        self.drift_detected = Gauge(
            "mloop_drift_detected",
            "1 if the monitor's last window drifted, else 0.",
            ["monitor"],
            registry=self.registry,
        )
        self.status_writes = Counter(
            "mloop_status_writes_total",
            "Status subresource writes, by kind: zero while everything is settled.",
            ["kind"],
            registry=self.registry,
        )
