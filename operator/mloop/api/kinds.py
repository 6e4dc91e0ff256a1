"""Registry of the five kinds: names, printer columns and CEL rules, everything the CRD generator needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mloop.api import driftmonitor, mlproject, modeldeployment, modelversion, trainingrun
from mloop.api.common import ApiModel, CelRule

__all__ = ["CATEGORIES", "KINDS", "KindInfo", "PrinterColumn", "kind_info"]

CATEGORIES: tuple[str, ...] = ("mloop",)
_READY = '.status.conditions[?(@.type=="Ready")].status'


@dataclass(frozen=True)
class PrinterColumn:
    """One ``additionalPrinterColumns`` entry, so ``kubectl get`` is useful on its own."""

    name: str
    json_path: str
    type: Literal["string", "integer", "number", "boolean", "date"]
    description: str
    priority: int = 0


@dataclass(frozen=True)
class KindInfo:
    """Everything about one kind that is not in its pydantic model."""

    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]
    model: type[ApiModel]
    printer_columns: tuple[PrinterColumn, ...]
    cel_rules: tuple[CelRule, ...]


def _ready() -> PrinterColumn:
    return PrinterColumn("Ready", _READY, "string", "Aggregate Ready condition.")


def _age() -> PrinterColumn:
    return PrinterColumn("Age", ".metadata.creationTimestamp", "date", "Time since creation.")


KINDS: tuple[KindInfo, ...] = (
    KindInfo(
        kind="MLProject",
        plural="mlprojects",
        singular="mlproject",
        short_names=("mlp",),
        model=mlproject.MLProject,
        printer_columns=(
            PrinterColumn("Task", ".spec.problem.task", "string", "Learning task."),
            PrinterColumn("Target", ".spec.problem.target", "string", "Label column."),
            PrinterColumn("Metric", ".spec.problem.primaryMetric", "string", "Primary metric.", priority=1),
            PrinterColumn("Champion", ".status.champion", "string", "Champion ModelVersion."),
            PrinterColumn("Runs", ".status.counts.runs", "integer", "TrainingRuns.", priority=1),
            _ready(),
            _age(),
        ),
        cel_rules=mlproject.CEL_RULES,
    ),
    KindInfo(
        kind="TrainingRun",
        plural="trainingruns",
        singular="trainingrun",
        short_names=("tr",),
        model=trainingrun.TrainingRun,
        printer_columns=(
            PrinterColumn("Project", ".spec.projectRef.name", "string", "MLProject."),
            PrinterColumn("Trigger", ".spec.trigger", "string", "manual, drift or schedule."),
            PrinterColumn("Phase", ".status.phase", "string", "Pending, Running, Succeeded or Failed."),
            PrinterColumn("Version", ".status.modelVersion", "string", "ModelVersion created by the run."),
            PrinterColumn("Job", ".status.jobName", "string", "Training Job.", priority=1),
            _age(),
        ),
        cel_rules=trainingrun.CEL_RULES,
    ),
    KindInfo(
        kind="ModelVersion",
        plural="modelversions",
        singular="modelversion",
        short_names=("mv",),
        model=modelversion.ModelVersion,
        printer_columns=(
            PrinterColumn("Project", ".spec.projectRef.name", "string", "MLProject."),
            PrinterColumn("Stage", ".status.stage", "string", "candidate, champion, retired or rejected."),
            PrinterColumn("Metric", ".status.primaryMetric", "string", "Primary metric."),
            PrinterColumn("Value", ".status.primaryMetricValue", "number", "Primary metric on the test set."),
            PrinterColumn(
                "Validated", '.status.conditions[?(@.type=="Validated")].status', "string", "Gate outcome."
            ),
            PrinterColumn("Run", ".spec.trainingRunRef.name", "string", "TrainingRun.", priority=1),
            _age(),
        ),
        cel_rules=modelversion.CEL_RULES,
    ),
    KindInfo(
        kind="ModelDeployment",
        plural="modeldeployments",
        singular="modeldeployment",
        short_names=("mdep",),
        model=modeldeployment.ModelDeployment,
        printer_columns=(
            PrinterColumn("Stable", ".status.stableVersion", "string", "Stable ModelVersion."),
            PrinterColumn("Canary", ".status.canaryVersion", "string", "Canary ModelVersion."),
            PrinterColumn("Weight", ".status.canaryWeight", "integer", "Canary traffic percent."),
            _ready(),
            PrinterColumn("Endpoint", ".status.endpoint", "string", "Service URL.", priority=1),
            _age(),
        ),
        cel_rules=modeldeployment.CEL_RULES,
    ),
    KindInfo(
        kind="DriftMonitor",
        plural="driftmonitors",
        singular="driftmonitor",
        short_names=("dm",),
        model=driftmonitor.DriftMonitor,
        printer_columns=(
            PrinterColumn("Deployment", ".spec.deploymentRef.name", "string", "Watched ModelDeployment."),
            PrinterColumn("Drifted", ".status.drifted", "boolean", "Drift in the last check."),
            PrinterColumn(
                "Windows", ".status.consecutiveDriftWindows", "integer", "Drifted checks in a row."
            ),
            PrinterColumn("Last Check", ".status.lastCheckTime", "date", "Time of the last check."),
            _age(),
        ),
        cel_rules=driftmonitor.CEL_RULES,
    ),
)


def kind_info(kind: str) -> KindInfo:
    """Look up a kind by name, plural or short name."""
    for info in KINDS:
        if kind in (info.kind, info.plural, info.singular, *info.short_names):
            return info
    raise KeyError(kind)
