"""DriftMonitor: watches a deployment's traffic for drift and closes the loop (SPEC §1, step 10)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from mloop.api.common import (
    ApiModel,
    CelRule,
    ColumnName,
    Duration,
    ImageRef,
    LocalObjectReference,
    ObjectMeta,
    StatusBase,
    StatusModel,
)
from mloop.api.mlproject import Metric

__all__ = [
    "CEL_RULES",
    "ActiveCheck",
    "Alert",
    "Detector",
    "DriftAction",
    "DriftMonitor",
    "DriftMonitorSpec",
    "DriftMonitorStatus",
    "DriftSchedule",
    "DriftWindow",
    "DriftedFeature",
    "PerformanceCheck",
]


class DriftSchedule(ApiModel):
    """How often a check runs."""

    interval: Duration = Field(default="10m", description="Time between checks (default 10m).")


class DriftWindow(ApiModel):
    """Which logged requests a check compares with the reference sample."""

    duration: Duration | None = Field(default=None, description="Requests of this recent period, e.g. 1h.")
    min_samples: int | None = Field(
        default=None, ge=1, le=10_000_000, description="Skip the check until this many requests are logged."
    )
    max_samples: int = Field(
        default=10_000, ge=1, le=10_000_000, description="Most requests read per check (newest first)."
    )

    @model_validator(mode="after")
    def _bounded(self) -> DriftWindow:
        if self.duration is None and self.min_samples is None:
            raise ValueError("window: set duration or minSamples")
        return self


class Detector(ApiModel):
    """The statistical tests."""

    backend: Literal["native", "alibi-detect"] = Field(
        default="native", description="native (scipy) or alibi-detect; default native."
    )
    numeric_test: Literal["ks"] = Field(
        default="ks", description="Test for numeric features: ks (Kolmogorov-Smirnov)."
    )
    categorical_test: Literal["chi2"] = Field(
        default="chi2", description="Test for categorical features: chi2."
    )
    multivariate: Literal["none", "mmd"] = Field(
        default="none", description="Optional multivariate test: mmd (maximum mean discrepancy)."
    )
    p_value: float = Field(default=0.05, gt=0.0, lt=1.0, description="Significance level (default 0.05).")
    correction: Literal["bonferroni", "fdr"] = Field(
        default="bonferroni", description="Multiple-testing correction across features (default bonferroni)."
    )
    features: list[ColumnName] = Field(
        default_factory=list, max_length=1024, description="Features to test; empty means all inputs."
    )


class PerformanceCheck(ApiModel):
    """Live model quality, computed when labels arrive through the feedback endpoint."""

    metric: Metric = Field(description="Metric computed on labelled requests.")
    min: float = Field(description="Alert when the metric falls below this (above for error metrics).")
    min_labels: int = Field(default=50, ge=1, description="Labelled requests needed first (default 50).")


class Alert(ApiModel):
    """Hysteresis: how many drifted windows in a row raise an alert."""

    consecutive_windows: int = Field(
        default=2, ge=1, le=100, description="Drifted checks in a row (default 2)."
    )


class DriftAction(ApiModel):
    """What an alert does."""

    retrain: bool = Field(
        default=False,
        description="Create a TrainingRun with trigger drift (if the project allows, cooldown).",
    )


class DriftMonitorSpec(ApiModel):
    """Desired state of a DriftMonitor."""

    deployment_ref: LocalObjectReference = Field(description="The ModelDeployment to watch.")
    schedule: DriftSchedule = Field(
        default_factory=DriftSchedule, description="Check schedule.", json_schema_extra={"default": {}}
    )
    window: DriftWindow = Field(description="Window of logged requests per check.")
    detector: Detector = Field(
        default_factory=Detector, description="Statistical tests.", json_schema_extra={"default": {}}
    )
    prediction_drift: bool = Field(default=True, description="Also test the prediction distribution.")
    performance: PerformanceCheck | None = Field(default=None, description="Live performance check.")
    alert: Alert = Field(
        default_factory=Alert, description="Alert hysteresis.", json_schema_extra={"default": {}}
    )
    action: DriftAction = Field(
        default_factory=DriftAction, description="Alert action.", json_schema_extra={"default": {}}
    )
    image: ImageRef | None = Field(default=None, description="Drift checker image override.")


class DriftedFeature(StatusModel):
    """A feature whose distribution changed."""

    name: str = Field(description="Feature name (or _prediction).")
    statistic: float = Field(description="Test statistic.")
    p_value: float = Field(description="p-value before correction.")
    test: str | None = Field(default=None, description="ks, chi2 or mmd.")


class ActiveCheck(StatusModel):
    """The check Job last started and its window: a Job that outlasts the interval is still read to the end
    before the next window is checked, so no started check goes unrecorded."""

    job: str = Field(description="Name of the check Job.")
    window_start: datetime = Field(description="Start of the window it checks.")
    window_end: datetime = Field(description="End of the window it checks.")


class DriftMonitorStatus(StatusBase):
    """Observed state: conditions Healthy, Drifted, Checked (the last check ran and its report was read;
    False with the reason when it could not run, which never counts as "no drift"), Retrained, Ready."""

    model_version: str | None = Field(default=None, description="Version whose reference was compared.")
    last_check_time: datetime | None = Field(default=None, description="When the last check finished.")
    last_check_job: str | None = Field(default=None, description="Job of the last check.")
    active_check: ActiveCheck | None = Field(default=None, description="The check Job last started.")
    last_report: str | None = Field(default=None, description="S3 URI of the last drift report.")
    samples: int | None = Field(default=None, ge=0, description="Requests in the last window.")
    drifted: bool = Field(default=False, description="Whether the last check found drift.")
    drifted_features: list[DriftedFeature] = Field(default_factory=list, description="Drifted features.")
    consecutive_drift_windows: int = Field(default=0, ge=0, description="Drifted checks in a row.")
    performance_value: float | None = Field(default=None, description="Last live performance value.")
    last_retrain_run: str | None = Field(default=None, description="TrainingRun created by the last alert.")
    last_retrain_data_digest: str | None = Field(
        default=None, description="Data digest of that run (one run per digest)."
    )


class DriftMonitor(ApiModel):
    """Drift detection on a deployment's logged traffic, with optional retraining."""

    model_config = ConfigDict(extra="ignore")

    api_version: Literal["mloop.io/v1alpha1"] = Field(default="mloop.io/v1alpha1", description="API version.")
    kind: Literal["DriftMonitor"] = Field(default="DriftMonitor", description="Kind.")
    metadata: ObjectMeta = Field(default_factory=ObjectMeta, description="Standard object metadata.")
    spec: DriftMonitorSpec = Field(description="Desired state.")
    status: DriftMonitorStatus = Field(default_factory=DriftMonitorStatus, description="Observed state.")


CEL_RULES: tuple[CelRule, ...] = (
    CelRule("spec.window", "has(self.duration) || has(self.minSamples)", "set duration or minSamples"),
)
