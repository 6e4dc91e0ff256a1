"""TrainingRun: one execution of the trainer for a project (SPEC §1, steps 3-9)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints, field_validator

from mloop.api.common import (
    ApiModel,
    CelRule,
    ColumnName,
    FreeForm,
    LocalObjectReference,
    MetricValues,
    ObjectMeta,
    S3Uri,
    Sha256,
    SliceMetrics,
    StatusBase,
    StatusModel,
)
from mloop.api.feedback import FeedbackData
from mloop.api.training import (
    UNIQUE_CANDIDATES_MESSAGE,
    UNIQUE_CANDIDATES_RULE,
    Candidate,
    unique_candidates,
)

__all__ = [
    "CEL_RULES",
    "DataOverride",
    "DataProvenance",
    "FeedbackData",
    "LeakageFinding",
    "RunMetrics",
    "TrainingResults",
    "TrainingRun",
    "TrainingRunSpec",
    "TrainingRunStatus",
    "TrialsSummary",
    "Trigger",
]

Trigger = Literal["manual", "drift", "schedule"]
ShortText = Annotated[str, StringConstraints(max_length=1024)]


class DataOverride(ApiModel):
    """Train on different data than the project's source, optionally pinned to a digest."""

    uri: S3Uri = Field(description="s3://bucket/key of a CSV or Parquet object or prefix.")
    sha256: Sha256 | None = Field(
        default=None, description="Expected SHA-256 of the data; the run fails if the object differs."
    )
    format: Literal["auto", "csv", "parquet"] = Field(
        default="auto", description="File format; auto infers it from the key suffix."
    )


class TrainingRunSpec(ApiModel):
    """Desired state of a TrainingRun; immutable once created (a new run is a new object)."""

    project_ref: LocalObjectReference = Field(description="The MLProject this run trains for.")
    data: DataOverride | None = Field(
        default=None, description="Data override; default: the project's source."
    )
    candidates: list[Candidate] | None = Field(
        default=None, max_length=16, description="Candidates override; default: the project's candidates."
    )
    seed: int | None = Field(
        default=None,
        ge=0,
        le=2**31 - 1,
        description="Split and search seed override; default: the project's.",
    )
    trigger: Trigger = Field(
        default="manual", description="Why the run exists: manual, drift (DriftMonitor) or schedule (cron)."
    )
    reason: ShortText | None = Field(
        default=None, description="Human-readable cause, filled by the operator for automatic runs."
    )
    feedback: FeedbackData | None = Field(
        default=None,
        description="Also train on a deployment's logged requests that got a label through POST /feedback "
        "(filled by the operator for drift runs when the project sets retraining.feedback). Each logged row "
        "(requestId, row) is joined with its label: the latest label wins, duplicate log lines count once, "
        "rows without a label are dropped. Its features fill the project's columns, the label fills the "
        "target, the request time fills data.timeColumn (in the source's format) and, as traffic carries no "
        "group, each request is its own group in data.groupColumn; other columns stay empty. Rows whose "
        "features do not match the project's feature columns, or whose label is not a known class (a number "
        "for regression), are rejected and counted by reason in result.json, never failing the run. Only "
        "what was logged before the run was created is read, so a retried Job trains on the same rows. The "
        "rows are added before profiling and splitting; their digest is folded into status.dataDigest.",
    )

    @field_validator("candidates")
    @classmethod
    def _unique_names(cls, candidates: list[Candidate] | None) -> list[Candidate] | None:
        return None if candidates is None else unique_candidates(candidates)


class DataProvenance(StatusModel):
    """Exactly which data the run read (DataLoaded)."""

    uri: str | None = Field(default=None, description="URI that was read.")
    sha256: str | None = Field(default=None, description="SHA-256 of the bytes read.")
    rows: int | None = Field(default=None, ge=0, description="Rows loaded, feedback rows included.")
    columns: int | None = Field(default=None, ge=0, description="Columns loaded.")
    feedback_rows: int | None = Field(
        default=None, ge=0, description="Rows added from logged traffic joined with labels (spec.feedback)."
    )
    feedback_rejected: int | None = Field(
        default=None,
        ge=0,
        description="Labelled rows left out because they did not fit the project's columns; "
        "result.json counts them by reason.",
    )


class LeakageFinding(StatusModel):
    """One suspicion raised by the leakage audit (LeakageAudited)."""

    column: ColumnName = Field(description="The flagged column.")
    check: Literal["forbidden", "single-feature-auc", "correlation", "identifier", "time-order"] = Field(
        description="Which check flagged it."
    )
    score: float | None = Field(default=None, description="Score of the check (e.g. AUC 0.99), if any.")
    action: Literal["dropped", "failed", "allowed"] = Field(
        description="dropped (forbidden column), failed (run fails) or allowed (project allows it)."
    )
    detail: ShortText = Field(default="", description="Explanation for humans.")


class RunMetrics(StatusModel):
    """Metric name to value on each data set."""

    validation: MetricValues = Field(default_factory=dict, description="Best candidate on validation.")
    test: MetricValues = Field(default_factory=dict, description="Best candidate on the sealed test set.")
    baseline: MetricValues = Field(default_factory=dict, description="Baseline on the same test set.")
    champion: MetricValues = Field(
        default_factory=dict, description="The champion re-scored on the same test set, when there is one."
    )
    champion_name: str | None = Field(default=None, description="Name of the champion that was re-scored.")


class TrialsSummary(StatusModel):
    """How much search was done; every trial is in the run's trials log in S3."""

    total: int = Field(default=0, ge=0, description="Trials run across all candidates.")
    per_candidate: dict[str, int] = Field(default_factory=dict, description="Trials per candidate name.")
    best_validation_score: dict[str, float] = Field(
        default_factory=dict, description="Best primary metric on validation per candidate name."
    )
    log_uri: str | None = Field(default=None, description="S3 URI of the JSON Lines trial log.")


class TrainingResults(StatusModel):
    """What the run produced (Trained, Evaluated, Exported)."""

    best_candidate: str | None = Field(default=None, description="Name of the winning candidate.")
    best_params: FreeForm = Field(
        default_factory=dict, description="Hyperparameters of the winning candidate."
    )
    metrics: RunMetrics = Field(
        default_factory=RunMetrics, description="Validation, test and baseline metrics."
    )
    slices: list[SliceMetrics] = Field(default_factory=list, description="Per-slice test metrics.")
    fairness_gaps: dict[str, float] = Field(
        default_factory=dict,
        description="Sensitive feature to the largest primary-metric gap between its values.",
    )
    leakage: list[LeakageFinding] = Field(default_factory=list, description="Leakage audit findings.")
    trials: TrialsSummary = Field(default_factory=TrialsSummary, description="Search summary.")
    onnx_parity_max_abs_diff: float | None = Field(
        default=None, description="Largest difference between ONNX and sklearn outputs on the test rows."
    )
    artifacts_uri: str | None = Field(default=None, description="s3:// prefix holding the run's outputs.")
    summary_uri: str | None = Field(default=None, description="S3 URI of the full JSON result summary.")


class TrainingRunStatus(StatusBase):
    """Observed state of a TrainingRun; phases are Pending, Running, Succeeded, Failed."""

    job_name: str | None = Field(default=None, description="Name of the training Job.")
    start_time: datetime | None = Field(default=None, description="When the Job started.")
    completion_time: datetime | None = Field(default=None, description="When the run succeeded or failed.")
    data_digest: str | None = Field(default=None, description="SHA-256 of the data read.")
    config_digest: str | None = Field(default=None, description="SHA-256 of the effective training config.")
    data: DataProvenance | None = Field(default=None, description="Provenance of the data read.")
    results: TrainingResults | None = Field(default=None, description="Results once the run has finished.")
    model_version: str | None = Field(
        default=None, description="Name of the ModelVersion created from the run."
    )


class TrainingRun(ApiModel):
    """One training execution: validate, audit, split, train, evaluate, export."""

    model_config = ConfigDict(extra="ignore")

    api_version: Literal["mloop.io/v1alpha1"] = Field(default="mloop.io/v1alpha1", description="API version.")
    kind: Literal["TrainingRun"] = Field(default="TrainingRun", description="Kind.")
    metadata: ObjectMeta = Field(default_factory=ObjectMeta, description="Standard object metadata.")
    spec: TrainingRunSpec = Field(description="Desired state.")
    status: TrainingRunStatus = Field(default_factory=TrainingRunStatus, description="Observed state.")


CEL_RULES: tuple[CelRule, ...] = (
    CelRule("spec", "self == oldSelf", "spec is immutable", reason="FieldValueForbidden"),
    CelRule("spec.candidates", UNIQUE_CANDIDATES_RULE, UNIQUE_CANDIDATES_MESSAGE),
)
