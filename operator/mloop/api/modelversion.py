"""ModelVersion: the immutable registry record of one trained model, and its gate (SPEC §1)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints

from mloop.api.common import (
    ApiModel,
    CelRule,
    ColumnName,
    LocalObjectReference,
    MetricValues,
    ObjectMeta,
    S3Uri,
    Sha256,
    SliceMetrics,
    StatusBase,
    StatusModel,
)

__all__ = [
    "CEL_RULES",
    "Approval",
    "Artifact",
    "BaselineComparison",
    "ChampionComparison",
    "DType",
    "Gate",
    "InputFeature",
    "KpiResult",
    "Lineage",
    "ModelMetrics",
    "ModelVersion",
    "ModelVersionSpec",
    "ModelVersionStatus",
    "OutputSpec",
    "Signature",
    "SliceGap",
    "Stage",
]

Stage = Literal["candidate", "champion", "retired", "rejected"]
DType = Literal["float64", "float32", "int64", "int32", "string", "bool"]
ShortText = Annotated[str, StringConstraints(max_length=1024)]


class Artifact(ApiModel):
    """The ONNX model file; the server refuses to serve it unless its SHA-256 matches."""

    uri: S3Uri = Field(description="s3:// URI of model.onnx.")
    sha256: Sha256 = Field(description="SHA-256 of the file, checked before serving.")
    size_bytes: int = Field(ge=0, description="Size of the file in bytes.")
    format: Literal["onnx"] = Field(default="onnx", description="Model format; only onnx (never pickle).")
    opset: int = Field(ge=1, le=100, description="ONNX opset of the model.")


class InputFeature(ApiModel):
    """One input column, in the order the model expects."""

    name: ColumnName = Field(description="Feature name as sent in prediction requests.")
    dtype: DType = Field(description="Data type: float64, float32, int64, int32, string, bool.")
    kind: Literal["numeric", "categorical"] = Field(
        default="numeric",
        description="How the feature is treated (decides the drift test: KS or chi-square).",
    )
    nullable: bool = Field(default=True, description="Whether missing values (null) are accepted.")


class OutputSpec(ApiModel):
    """One output of the model."""

    name: ColumnName = Field(description="Output name, e.g. label, probabilities, variable.")
    dtype: DType = Field(description="Data type of the output.")


class Signature(ApiModel):
    """The model's interface; requests are validated against it."""

    inputs: list[InputFeature] = Field(min_length=1, max_length=1024, description="Ordered input features.")
    outputs: list[OutputSpec] = Field(min_length=1, max_length=8, description="Model outputs.")
    classes: list[Annotated[str, StringConstraints(max_length=256)]] = Field(
        default_factory=list, max_length=1000, description="Class labels in output order (classifiers)."
    )


class Lineage(ApiModel):
    """Where the model came from, enough to reproduce it."""

    data_uri: S3Uri = Field(description="Data the model was trained on.")
    data_digest: Sha256 = Field(description="SHA-256 of that data.")
    config_digest: Sha256 = Field(description="SHA-256 of the effective training config.")
    trainer_version: Annotated[str, StringConstraints(max_length=128)] = Field(
        description="Version of the mloop trainer."
    )
    algorithm: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, description="Winning candidate's algorithm."
    )


class ModelMetrics(ApiModel):
    """Metrics recorded at training time."""

    test: MetricValues = Field(
        default_factory=dict, max_length=64, description="Metrics on the sealed test set."
    )
    validation: MetricValues = Field(
        default_factory=dict, max_length=64, description="Metrics on validation."
    )
    baseline: MetricValues = Field(
        default_factory=dict, max_length=64, description="Baseline's metrics on the same test set."
    )
    slices: list[SliceMetrics] = Field(
        default_factory=list, max_length=256, description="Per-slice test metrics."
    )
    champion: MetricValues = Field(
        default_factory=dict,
        max_length=64,
        description="The champion at training time, re-scored on this version's sealed test set.",
    )
    champion_name: Annotated[str, StringConstraints(max_length=253)] | None = Field(
        default=None, description="Name of the champion ModelVersion that was re-scored, if any."
    )


class ModelVersionSpec(ApiModel):
    """The immutable record of a version, written once by the operator."""

    project_ref: LocalObjectReference = Field(description="The MLProject.")
    training_run_ref: LocalObjectReference = Field(description="The TrainingRun that produced it.")
    artifact: Artifact = Field(description="The ONNX model file.")
    signature: Signature = Field(description="Inputs and outputs.")
    lineage: Lineage = Field(description="Data and config provenance.")
    metrics: ModelMetrics = Field(default_factory=ModelMetrics, description="Training-time metrics.")
    model_card_uri: S3Uri | None = Field(default=None, description="Model card (markdown).")
    report_uri: S3Uri | None = Field(default=None, description="Evaluation report with plots.")
    reference_uri: S3Uri | None = Field(default=None, description="Reference feature sample for drift.")
    test_data_uri: S3Uri | None = Field(
        default=None, description="Sealed test set, used to re-score the champion on the same data."
    )


class KpiResult(StatusModel):
    """One KPI check of the gate."""

    metric: str = Field(description="Metric name.")
    value: float | None = Field(default=None, description="The version's test value.")
    threshold: float = Field(description="The KPI threshold.")
    op: Literal[">=", "<="] = Field(description=">= for a min KPI, <= for a max KPI.")
    passed: bool = Field(description="Whether the KPI is met.")


class BaselineComparison(StatusModel):
    """The version versus the baseline on the same test set."""

    metric: str = Field(description="Primary metric.")
    value: float | None = Field(default=None, description="Baseline's value.")
    delta: float | None = Field(
        default=None, description="Improvement over the baseline (positive is better)."
    )
    passed: bool = Field(description="Whether the version beats the baseline.")


class ChampionComparison(StatusModel):
    """The version versus the current champion, re-scored on this version's test set."""

    name: str | None = Field(default=None, description="Champion ModelVersion; empty if there is none.")
    value: float | None = Field(default=None, description="Champion's primary metric on the same test set.")
    delta: float | None = Field(
        default=None, description="Improvement over the champion (positive is better)."
    )
    passed: bool = Field(description="Whether the improvement reaches promotion.minImprovement.")


class SliceGap(StatusModel):
    """How far one slice falls below the overall primary metric."""

    column: str = Field(description="Slice column.")
    value: str = Field(description="Slice value.")
    metric_value: float | None = Field(default=None, description="Primary metric on the slice.")
    gap: float = Field(description="Drop below the overall metric (positive means worse).")
    passed: bool = Field(description="Whether the gap is within promotion.maxSliceGap.")


class Gate(StatusModel):
    """The promotion gate: KPIs, baseline, champion and slices."""

    kpis: list[KpiResult] = Field(default_factory=list, description="Each KPI with value and threshold.")
    baseline: BaselineComparison | None = Field(default=None, description="Versus the baseline.")
    champion: ChampionComparison | None = Field(default=None, description="Versus the champion.")
    slice_gaps: list[SliceGap] = Field(default_factory=list, description="Gap of every gated slice.")
    verdict: Literal["pending", "passed", "failed"] = Field(default="pending", description="Outcome.")
    reason: str | None = Field(
        default=None, description="Why it failed: BelowKPI, WorseThanBaseline, WorseThanChampion, SliceGap."
    )
    evaluated_at: datetime | None = Field(default=None, description="When the gate was evaluated.")


class Approval(StatusModel):
    """Manual approval, from the mloop.io/approved-by annotation."""

    approved_by: str = Field(description="Who approved.")
    time: datetime = Field(description="When the approval was recorded.")


class ModelVersionStatus(StatusBase):
    """Observed state of a ModelVersion: conditions ArtifactVerified, Validated, Approved, Ready."""

    stage: Stage | None = Field(default=None, description="candidate, champion, retired or rejected.")
    primary_metric: str | None = Field(default=None, description="The project's primary metric.")
    primary_metric_value: float | None = Field(default=None, description="Its value on the test set.")
    gate: Gate | None = Field(default=None, description="Outcome of the promotion gate.")
    approval: Approval | None = Field(default=None, description="Manual approval, if any.")
    promoted_at: datetime | None = Field(default=None, description="When it became champion.")
    retired_at: datetime | None = Field(default=None, description="When it stopped being champion.")


class ModelVersion(ApiModel):
    """An immutable, checksummed model with its lineage, metrics and gate outcome."""

    model_config = ConfigDict(extra="ignore")

    api_version: Literal["mloop.io/v1alpha1"] = Field(default="mloop.io/v1alpha1", description="API version.")
    kind: Literal["ModelVersion"] = Field(default="ModelVersion", description="Kind.")
    metadata: ObjectMeta = Field(default_factory=ObjectMeta, description="Standard object metadata.")
    spec: ModelVersionSpec = Field(description="The immutable record.")
    status: ModelVersionStatus = Field(default_factory=ModelVersionStatus, description="Observed state.")


CEL_RULES: tuple[CelRule, ...] = (
    CelRule("spec", "self == oldSelf", "spec is immutable", reason="FieldValueForbidden"),
)
