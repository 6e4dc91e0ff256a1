"""MLProject: the problem, its data and the rules every later step of the loop follows (SPEC §1)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from mloop.api.common import (
    ApiModel,
    CelRule,
    ColumnName,
    Cron,
    Duration,
    KubeName,
    ObjectMeta,
    StatusBase,
    StatusModel,
)
from mloop.api.data import (
    DATA_CEL_RULES,
    DataQuality,
    DataSource,
    DataSpec,
    FeatureSelection,
    Split,
)
from mloop.api.feedback import RetrainingFeedback
from mloop.api.training import (
    CLASSIFICATION_ONLY_ALGORITHMS,
    REGRESSION_ONLY_ALGORITHMS,
    TRAINING_CEL_RULES,
    Algorithm,
    Candidate,
    Search,
    Training,
)

__all__ = [
    "CEL_RULES",
    "CLASSIFICATION_METRICS",
    "REGRESSION_METRICS",
    "Algorithm",
    "Baseline",
    "Candidate",
    "DataQuality",
    "DataSource",
    "DataSpec",
    "FeatureSelection",
    "Kpi",
    "MLProject",
    "MLProjectCounts",
    "MLProjectSpec",
    "MLProjectStatus",
    "Metric",
    "Problem",
    "PromotionPolicy",
    "Retraining",
    "RetrainingFeedback",
    "S3CredentialsSecretRef",
    "Search",
    "Split",
    "Storage",
    "Task",
    "Training",
]

Task = Literal["binary-classification", "multiclass-classification", "regression"]
Metric = Literal["roc_auc", "f1", "precision", "recall", "accuracy", "log_loss", "rmse", "mae", "r2", "mape"]
Baseline = Literal["auto", "most_frequent", "prior", "stratified", "mean", "median"]
CLASSIFICATION_METRICS: tuple[str, ...] = ("roc_auc", "f1", "precision", "recall", "accuracy", "log_loss")
REGRESSION_METRICS: tuple[str, ...] = ("rmse", "mae", "r2", "mape")
REGRESSION_BASELINES: tuple[str, ...] = ("mean", "median")


def _cel_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


class Kpi(ApiModel):
    """A threshold the sealed test set must meet; a version that misses one is rejected by the gate."""

    metric: Metric = Field(description="Metric the threshold applies to, computed on the test set.")
    min: float | None = Field(default=None, description="Lowest acceptable value (for higher-is-better).")
    max: float | None = Field(default=None, description="Highest acceptable value (for lower-is-better).")

    @model_validator(mode="after")
    def _exactly_one_bound(self) -> Kpi:
        if (self.min is None) == (self.max is None):
            raise ValueError(f"kpis[{self.metric}]: set exactly one of min or max")
        return self


class Problem(ApiModel):
    """What is predicted and how success is measured."""

    task: Task = Field(
        description="Learning task: binary-classification, multiclass-classification, regression."
    )
    target: ColumnName = Field(description="Name of the label column in the data.")
    positive_class: int | Annotated[str, StringConstraints(max_length=256)] | None = Field(
        default=None,
        description="Label of the positive class (binary-classification only); default: the larger label.",
    )
    primary_metric: Metric = Field(
        description="Metric that ranks candidates and decides champion versus challenger "
        "(classification: roc_auc, f1, precision, recall, accuracy, log_loss; "
        "regression: rmse, mae, r2, mape)."
    )
    kpis: list[Kpi] = Field(
        default_factory=list,
        max_length=16,
        description="Thresholds the test set must meet, e.g. {metric: f1, min: 0.7}.",
    )
    baseline: Baseline = Field(
        default="auto",
        description="Reference model every version must beat: auto (majority class or mean), most_frequent, "
        "prior, stratified (classification), mean, median (regression).",
    )

    @model_validator(mode="after")
    def _metrics_suit_task(self) -> Problem:
        regression = self.task == "regression"
        if regression != (self.primary_metric in REGRESSION_METRICS):
            raise ValueError(f"primaryMetric {self.primary_metric} does not suit task {self.task}")
        for kpi in self.kpis:
            if regression != (kpi.metric in REGRESSION_METRICS):
                raise ValueError(f"kpis: metric {kpi.metric} does not suit task {self.task}")
        if self.positive_class is not None and self.task != "binary-classification":
            raise ValueError("positiveClass is only allowed for binary-classification")
        if self.baseline != "auto" and regression != (self.baseline in REGRESSION_BASELINES):
            raise ValueError(f"baseline {self.baseline} does not suit task {self.task}")
        return self


class S3CredentialsSecretRef(ApiModel):
    """A Secret in the project's namespace holding S3 credentials (never inline values)."""

    name: KubeName = Field(description="Name of the Secret.")
    access_key_id_key: Annotated[str, StringConstraints(min_length=1, max_length=253)] = Field(
        default="AWS_ACCESS_KEY_ID", description="Key holding the access key id (default AWS_ACCESS_KEY_ID)."
    )
    secret_access_key_key: Annotated[str, StringConstraints(min_length=1, max_length=253)] = Field(
        default="AWS_SECRET_ACCESS_KEY",
        description="Key holding the secret access key (default AWS_SECRET_ACCESS_KEY).",
    )


class Storage(ApiModel):
    """The S3 bucket holding runs, versions, reports and logged traffic."""

    bucket: Annotated[
        str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$", max_length=63)
    ] = Field(description="Bucket name; artifacts go under <bucket>/<namespace>/<project>/.")
    endpoint: (
        Annotated[
            str, StringConstraints(pattern=r"^(https?://)?[A-Za-z0-9.\-]+(:[0-9]+)?/?$", max_length=512)
        ]
        | None
    ) = Field(default=None, description="S3 endpoint (host:port or URL); default: the operator's endpoint.")
    region: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, description="S3 region; default: the operator's region."
    )
    secure: bool | None = Field(default=None, description="Use TLS; default: true for https:// endpoints.")
    credentials_secret_ref: S3CredentialsSecretRef | None = Field(
        default=None, description="Secret with credentials; default: the operator's credentials."
    )


class PromotionPolicy(ApiModel):
    """When a validated version may become champion."""

    policy: Literal["auto", "manual"] = Field(
        default="auto", description="auto promotes on a passed gate; manual also needs mloop.io/approved-by."
    )
    min_improvement: float = Field(
        default=0.0,
        ge=0.0,
        description="Least gain over the champion on the primary metric (same test data).",
    )
    max_slice_gap: float = Field(
        default=0.1, ge=0.0, le=1.0, description="Largest allowed drop of any slice below the overall metric."
    )


class Retraining(ApiModel):
    """When new TrainingRuns are started automatically."""

    on_drift: bool = Field(
        default=True, description="Retrain when a DriftMonitor with action.retrain alerts."
    )
    cooldown: Duration = Field(default="1h", description="Least time between automatic runs (default 1h).")
    max_concurrent_runs: int = Field(
        default=1, ge=1, le=16, description="Most runs in progress at once (default 1)."
    )
    schedule: Cron | None = Field(
        default=None, description="Cron schedule for periodic retraining, e.g. '0 3 * * 0'."
    )
    feedback: RetrainingFeedback | None = Field(
        default=None,
        description="Also train drift-triggered runs on the drifting deployment's logged requests joined "
        "with the labels sent to its /feedback endpoint (see TrainingRun spec.feedback); default: off.",
    )


class MLProjectSpec(ApiModel):
    """Desired state of an MLProject."""

    owner: Annotated[str, StringConstraints(min_length=1, max_length=253)] = Field(
        description="Team or person accountable for the model (shown in model cards)."
    )
    description: Annotated[str, StringConstraints(max_length=4096)] | None = Field(
        default=None, description="What the model is for."
    )
    problem: Problem = Field(description="Task, target, metrics and KPIs.")
    data: DataSpec = Field(description="Data source, validation, split and leakage rules.")
    training: Training = Field(description="Candidates, search, resources.")
    storage: Storage = Field(description="S3 storage for artifacts.")
    promotion: PromotionPolicy = Field(
        default_factory=PromotionPolicy,
        description="Champion gate policy.",
        json_schema_extra={"default": {}},
    )
    retraining: Retraining = Field(
        default_factory=Retraining, description="Automatic retraining.", json_schema_extra={"default": {}}
    )

    @model_validator(mode="after")
    def _task_consistency(self) -> MLProjectSpec:
        regression = self.problem.task == "regression"
        if regression and self.data.split.strategy == "stratified":
            raise ValueError("data.split.strategy stratified requires a classification task")
        forbidden = REGRESSION_ONLY_ALGORITHMS if not regression else CLASSIFICATION_ONLY_ALGORITHMS
        for cand in self.training.candidates:
            if cand.algorithm in forbidden:
                raise ValueError(
                    f"training.candidates: {cand.algorithm} does not suit task {self.problem.task}"
                )
        return self


class MLProjectCounts(StatusModel):
    """Numbers of children, for display."""

    runs: int = Field(default=0, ge=0, description="TrainingRuns of this project.")
    active_runs: int = Field(default=0, ge=0, description="TrainingRuns not yet finished.")
    versions: int = Field(default=0, ge=0, description="ModelVersions of this project.")


class MLProjectStatus(StatusBase):
    """Observed state of an MLProject."""

    champion: str | None = Field(default=None, description="Name of the champion ModelVersion.")
    champion_metric: float | None = Field(
        default=None, description="Champion's primary metric on its test set."
    )
    latest_run: str | None = Field(default=None, description="Name of the most recent TrainingRun.")
    handled_retrain_request: str | None = Field(
        default=None,
        description="Value of the mloop.io/retrain annotation already turned into a TrainingRun.",
    )
    last_retrain_time: datetime | None = Field(
        default=None, description="When the last automatic TrainingRun was created (for the cooldown)."
    )
    counts: MLProjectCounts = Field(
        default_factory=MLProjectCounts, description="Numbers of runs and versions."
    )


class MLProject(ApiModel):
    """An ML problem with its data, KPIs and policies; the root of the loop."""

    model_config = ConfigDict(extra="ignore")

    api_version: Literal["mloop.io/v1alpha1"] = Field(default="mloop.io/v1alpha1", description="API version.")
    kind: Literal["MLProject"] = Field(default="MLProject", description="Kind.")
    metadata: ObjectMeta = Field(default_factory=ObjectMeta, description="Standard object metadata.")
    spec: MLProjectSpec = Field(description="Desired state.")
    status: MLProjectStatus = Field(default_factory=MLProjectStatus, description="Observed state.")


_REG = _cel_list(REGRESSION_METRICS)
_ALGO_RULE = (
    "self.training.candidates.all(c, self.problem.task == 'regression' ? "
    f"!(c.algorithm in {_cel_list(CLASSIFICATION_ONLY_ALGORITHMS)}) : "
    f"!(c.algorithm in {_cel_list(REGRESSION_ONLY_ALGORITHMS)}))"
)
CEL_RULES: tuple[CelRule, ...] = (
    CelRule(
        "spec.problem",
        f"(self.task == 'regression') == (self.primaryMetric in {_REG})",
        "primaryMetric must suit the task (rmse, mae, r2, mape only for regression)",
        field_path=".primaryMetric",
    ),
    CelRule(
        "spec.problem",
        f"!has(self.kpis) || self.kpis.all(k, (self.task == 'regression') == (k.metric in {_REG}))",
        "kpis metrics must suit the task (rmse, mae, r2, mape only for regression)",
        field_path=".kpis",
    ),
    CelRule(
        "spec.problem",
        "!has(self.positiveClass) || self.task == 'binary-classification'",
        "positiveClass is only allowed for binary-classification",
        field_path=".positiveClass",
    ),
    CelRule(
        "spec.problem",
        "!has(self.baseline) || self.baseline == 'auto' || "
        f"(self.task == 'regression') == (self.baseline in {_cel_list(REGRESSION_BASELINES)})",
        "baseline must suit the task (mean, median only for regression)",
        field_path=".baseline",
    ),
    CelRule("spec.problem.kpis[]", "has(self.min) != has(self.max)", "set exactly one of min or max"),
    CelRule(
        "spec",
        "self.problem.task != 'regression' || !has(self.data.split) || !has(self.data.split.strategy) "
        "|| self.data.split.strategy != 'stratified'",
        "data.split.strategy stratified requires a classification task",
        field_path=".data.split.strategy",
    ),
    CelRule(
        "spec",
        _ALGO_RULE,
        "training.candidates algorithm must suit the task (logistic_regression: classification; "
        "linear_regression, ridge: regression)",
        field_path=".training.candidates",
    ),
    *DATA_CEL_RULES,
    *TRAINING_CEL_RULES,
)
