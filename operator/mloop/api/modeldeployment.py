"""ModelDeployment: serving with a canary, analysis, promotion and rollback (SPEC §1, step 10)."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints, field_validator, model_validator

from mloop.api.common import (
    ApiModel,
    CelRule,
    Duration,
    ImageRef,
    KubeName,
    LocalObjectReference,
    ObjectMeta,
    ResourceRequirements,
    StatusBase,
    StatusModel,
)

__all__ = [
    "CEL_RULES",
    "Analysis",
    "AnalysisStatus",
    "Autoscaling",
    "Canary",
    "CanaryStep",
    "GatewayRef",
    "HistoryEntry",
    "ModelDeployment",
    "ModelDeploymentSpec",
    "ModelDeploymentStatus",
    "ModelRef",
    "RequestLogging",
    "Traffic",
]


class ModelRef(ApiModel):
    """Which model to serve: a fixed version, or an alias the operator resolves (GitOps never edits it)."""

    version_ref: LocalObjectReference | None = Field(default=None, description="A ModelVersion by name.")
    alias: Literal["champion"] | None = Field(
        default=None, description="champion: always serve the project's current champion."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> ModelRef:
        if (self.version_ref is None) == (self.alias is None):
            raise ValueError("model: set exactly one of versionRef or alias")
        return self


class Autoscaling(ApiModel):
    """A HorizontalPodAutoscaler on the stable track."""

    min_replicas: int = Field(default=1, ge=1, le=100, description="Fewest stable replicas (default 1).")
    max_replicas: int = Field(ge=1, le=100, description="Most stable replicas.")
    target_cpu_utilization: int = Field(
        default=80,
        ge=1,
        le=100,
        alias="targetCPUUtilization",
        description="Target CPU use in percent (default 80).",
    )

    @model_validator(mode="after")
    def _ordered(self) -> Autoscaling:
        if self.min_replicas > self.max_replicas:
            raise ValueError("autoscaling: minReplicas must not exceed maxReplicas")
        return self


class GatewayRef(ApiModel):
    """A Gateway API Gateway the HTTPRoute attaches to."""

    name: KubeName = Field(description="Gateway name.")
    namespace: KubeName | None = Field(
        default=None, description="Gateway namespace; default: this namespace."
    )
    section_name: Annotated[str, StringConstraints(max_length=253)] | None = Field(
        default=None, description="Listener name on the Gateway."
    )


class Traffic(ApiModel):
    """How traffic is split between stable and canary."""

    mode: Literal["replicas", "gateway-api"] = Field(
        default="replicas",
        description="replicas: the Service <name> spans every version and the replica ratio is the split "
        "(no mesh; status reports the real share). gateway-api: the HTTPRoute <name> on gatewayRef sends the "
        "canary step's exact weight to the Service <name>-canary and the rest to <name>-stable; the Service "
        "<name> then selects the stable version only (callers that bypass the Gateway get the stable model), "
        "and each track keeps at least one replica while a canary runs.",
    )
    gateway_ref: GatewayRef | None = Field(
        default=None, description="Gateway the HTTPRoute attaches to (required for mode gateway-api)."
    )
    hostnames: list[Annotated[str, StringConstraints(max_length=253)]] = Field(
        default_factory=list, max_length=16, description="HTTPRoute hostnames (mode gateway-api)."
    )

    @model_validator(mode="after")
    def _gateway(self) -> Traffic:
        if self.mode == "gateway-api" and self.gateway_ref is None:
            raise ValueError("traffic: mode gateway-api requires gatewayRef")
        return self


class CanaryStep(ApiModel):
    """One canary step: send this share of traffic to the canary, then analyse for the pause."""

    weight: int = Field(ge=0, le=100, description="Percent of traffic to the canary, 0-100.")
    pause: Duration = Field(default="1m", description="How long to hold and analyse this step (default 1m).")


class Analysis(ApiModel):
    """Health checks of the canary at every interval; failures beyond the limit roll it back."""

    interval: Duration = Field(default="30s", description="Time between analysis runs (default 30s).")
    min_requests: int = Field(
        default=50, ge=0, description="Canary requests needed before a step can pass (default 50)."
    )
    max_error_rate: float = Field(
        default=0.05, ge=0.0, le=1.0, description="Largest share of failed canary requests (default 0.05)."
    )
    max_latency_p95_ms: float | None = Field(
        default=None,
        gt=0,
        description="Largest 95th-percentile canary latency in milliseconds; unset: no check.",
    )
    max_prediction_shift: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Largest distance (KS statistic or total variation) between canary and stable "
        "prediction distributions; unset: no check.",
    )
    failure_limit: int = Field(
        default=2, ge=0, le=100, description="Failed analyses tolerated before rollback (default 2)."
    )
    prometheus_url: Annotated[str, StringConstraints(pattern=r"^https?://", max_length=512)] | None = Field(
        default=None, description="Read metrics from this Prometheus instead of the pods' /metrics."
    )


def _default_steps() -> list[CanaryStep]:
    return [CanaryStep(weight=10, pause="1m"), CanaryStep(weight=50, pause="1m")]


class Canary(ApiModel):
    """Progressive delivery of a new version."""

    steps: list[CanaryStep] = Field(
        default=_default_steps(),
        min_length=1,
        max_length=20,
        description="Steps with strictly increasing weights; after the last, the canary is promoted.",
    )
    analysis: Analysis = Field(
        default_factory=Analysis, description="Canary analysis.", json_schema_extra={"default": {}}
    )
    approval: Literal["auto", "manual"] = Field(
        default="auto", description="manual waits for mloop.io/promote before full promotion."
    )

    @field_validator("steps")
    @classmethod
    def _increasing(cls, steps: list[CanaryStep]) -> list[CanaryStep]:
        if any(b.weight <= a.weight for a, b in pairwise(steps)):
            raise ValueError("step weights must be strictly increasing")
        return steps


class RequestLogging(ApiModel):
    """Request and prediction logging to S3, the input of drift detection."""

    enabled: bool = Field(default=True, description="Log requests and predictions (default true).")
    sample_fraction: float = Field(
        default=1.0, gt=0.0, le=1.0, description="Share of requests logged (default 1.0)."
    )
    flush_interval: Duration = Field(default="30s", description="Longest time between batches (default 30s).")


class ModelDeploymentSpec(ApiModel):
    """Desired state of a ModelDeployment."""

    project_ref: LocalObjectReference = Field(description="The MLProject.")
    model: ModelRef = Field(description="The version to serve: versionRef or alias.")
    replicas: int = Field(
        default=1, ge=0, le=100, description="Stable replicas without autoscaling (default 1)."
    )
    autoscaling: Autoscaling | None = Field(default=None, description="Autoscale the stable track.")
    resources: ResourceRequirements | None = Field(default=None, description="Resources of each server pod.")
    image: ImageRef | None = Field(default=None, description="Prediction server image override.")
    traffic: Traffic = Field(
        default_factory=Traffic, description="Traffic splitting.", json_schema_extra={"default": {}}
    )
    canary: Canary = Field(
        default_factory=Canary, description="Canary rollout.", json_schema_extra={"default": {}}
    )
    logging: RequestLogging = Field(
        default_factory=RequestLogging, description="Request logging.", json_schema_extra={"default": {}}
    )


class HistoryEntry(StatusModel):
    """One promotion, rollback or abort."""

    time: datetime = Field(description="When it happened.")
    action: Literal["promoted", "rolledBack", "aborted"] = Field(description="What happened.")
    from_version: str | None = Field(default=None, description="Version served before.")
    to_version: str | None = Field(default=None, description="Version served after.")
    reason: str = Field(default="", description="Why, e.g. AnalysisPassed, ErrorRate, ManualRollback.")


class AnalysisStatus(StatusModel):
    """The last canary analysis."""

    time: datetime | None = Field(default=None, description="When it ran.")
    requests: int = Field(default=0, ge=0, description="Canary requests in the window.")
    error_rate: float | None = Field(default=None, description="Share of failed canary requests.")
    latency_p95_ms: float | None = Field(default=None, description="Canary 95th-percentile latency (ms).")
    prediction_shift: float | None = Field(
        default=None, description="Canary versus stable prediction distance."
    )
    failures: int = Field(default=0, ge=0, description="Failed analyses at this rollout so far.")
    passed: bool | None = Field(default=None, description="Outcome of the last analysis.")


class ModelDeploymentStatus(StatusBase):
    """Observed state: conditions Available, Progressing, Degraded, Ready."""

    stable_version: str | None = Field(default=None, description="ModelVersion on the stable track.")
    canary_version: str | None = Field(
        default=None, description="ModelVersion on the canary, if rolling out."
    )
    previous_stable_version: str | None = Field(
        default=None, description="Former stable, kept at zero replicas for instant rollback."
    )
    target_version: str | None = Field(default=None, description="Version the spec resolves to now.")
    canary_weight: int = Field(default=0, ge=0, le=100, description="Intended canary traffic percent.")
    canary_traffic_share: float | None = Field(
        default=None,
        description="Real canary share: the ready-replica ratio in replicas mode, the weight written in the "
        "HTTPRoute in gateway-api mode.",
    )
    step: int | None = Field(default=None, ge=0, description="Index of the current canary step.")
    step_start_time: datetime | None = Field(default=None, description="When the current step began.")
    awaiting_approval: bool = Field(
        default=False, description="Waiting for mloop.io/promote (manual approval)."
    )
    analysis: AnalysisStatus | None = Field(default=None, description="Last canary analysis.")
    endpoint: str | None = Field(
        default=None, description="In-cluster URL of the Service <name> (stable only in gateway-api mode)."
    )
    ready_replicas: int = Field(default=0, ge=0, description="Ready server pods across tracks.")
    blocked_version: str | None = Field(
        default=None,
        description="A version that was rolled back or aborted; not rolled out again until the target moves.",
    )
    handled_actions: dict[str, str] = Field(
        default_factory=dict,
        max_length=8,
        description="Values of the mloop.io/promote, abort and rollback annotations already acted on.",
    )
    history: list[HistoryEntry] = Field(
        default_factory=list, max_length=50, description="Promotions, rollbacks and aborts (latest 50)."
    )


class ModelDeployment(ApiModel):
    """A served model with canary rollout and automatic rollback."""

    model_config = ConfigDict(extra="ignore")

    api_version: Literal["mloop.io/v1alpha1"] = Field(default="mloop.io/v1alpha1", description="API version.")
    kind: Literal["ModelDeployment"] = Field(default="ModelDeployment", description="Kind.")
    metadata: ObjectMeta = Field(default_factory=ObjectMeta, description="Standard object metadata.")
    spec: ModelDeploymentSpec = Field(description="Desired state.")
    status: ModelDeploymentStatus = Field(
        default_factory=ModelDeploymentStatus, description="Observed state."
    )


CEL_RULES: tuple[CelRule, ...] = (
    CelRule(
        "spec.model", "has(self.versionRef) != has(self.alias)", "set exactly one of versionRef or alias"
    ),
    CelRule(
        "spec.canary.steps",
        "self.map(s, s.weight).isSorted() && self.all(s, self.exists_one(t, t.weight == s.weight))",
        "step weights must be strictly increasing",
    ),
    CelRule(
        "spec.autoscaling",
        "!has(self.minReplicas) || self.minReplicas <= self.maxReplicas",
        "minReplicas must not exceed maxReplicas",
    ),
    CelRule(
        "spec.traffic",
        "!has(self.mode) || self.mode != 'gateway-api' || has(self.gatewayRef)",
        "mode gateway-api requires gatewayRef",
        field_path=".gatewayRef",
    ),
)
