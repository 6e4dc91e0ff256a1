"""Every field SPEC §1 names exists in the generated schema, so the contract cannot silently shrink."""

from functools import cache
from typing import Any

import pytest

from mloop.api.kinds import kind_info
from mloop.crdgen import openapi_schema

SPEC_FIELDS: dict[str, tuple[str, ...]] = {
    "MLProject": (
        "spec.owner",
        "spec.description",
        "spec.problem.task",
        "spec.problem.target",
        "spec.problem.positiveClass",
        "spec.problem.primaryMetric",
        "spec.problem.kpis[].metric",
        "spec.problem.kpis[].min",
        "spec.problem.kpis[].max",
        "spec.problem.baseline",
        "spec.data.source.uri",
        "spec.data.source.format",
        "spec.data.features.include",
        "spec.data.features.exclude",
        "spec.data.features.categorical",
        "spec.data.features.numeric",
        "spec.data.timeColumn",
        "spec.data.groupColumn",
        "spec.data.forbiddenColumns",
        "spec.data.allowLeakyFeatures",
        "spec.data.allowedLeakyColumns",
        "spec.data.quality.minRows",
        "spec.data.quality.maxMissingFraction",
        "spec.data.quality.maxDuplicateFraction",
        "spec.data.split.strategy",
        "spec.data.split.validationFraction",
        "spec.data.split.testFraction",
        "spec.data.split.seed",
        "spec.data.slices",
        "spec.data.sensitiveFeatures",
        "spec.training.candidates[].algorithm",
        "spec.training.candidates[].params",
        "spec.training.candidates[].search.type",
        "spec.training.candidates[].search.space",
        "spec.training.candidates[].search.maxTrials",
        "spec.training.resources.requests",
        "spec.training.resources.limits",
        "spec.training.timeout",
        "spec.training.image",
        "spec.storage.bucket",
        "spec.storage.endpoint",
        "spec.storage.region",
        "spec.storage.secure",
        "spec.storage.credentialsSecretRef.name",
        "spec.storage.credentialsSecretRef.accessKeyIdKey",
        "spec.storage.credentialsSecretRef.secretAccessKeyKey",
        "spec.promotion.policy",
        "spec.promotion.minImprovement",
        "spec.promotion.maxSliceGap",
        "spec.retraining.onDrift",
        "spec.retraining.cooldown",
        "spec.retraining.maxConcurrentRuns",
        "spec.retraining.schedule",
        "status.champion",
        "status.latestRun",
        "status.counts.runs",
        "status.counts.versions",
    ),
    "TrainingRun": (
        "spec.projectRef.name",
        "spec.data.uri",
        "spec.data.sha256",
        "spec.candidates[].algorithm",
        "spec.seed",
        "spec.trigger",
        "spec.reason",
        "status.jobName",
        "status.startTime",
        "status.completionTime",
        "status.dataDigest",
        "status.configDigest",
        "status.data.uri",
        "status.data.sha256",
        "status.data.rows",
        "status.data.columns",
        "status.results.bestCandidate",
        "status.results.metrics.validation",
        "status.results.metrics.test",
        "status.results.metrics.baseline",
        "status.results.slices[].metrics",
        "status.results.leakage[].column",
        "status.results.trials.total",
        "status.modelVersion",
    ),
    "ModelVersion": (
        "spec.projectRef.name",
        "spec.trainingRunRef.name",
        "spec.artifact.uri",
        "spec.artifact.sha256",
        "spec.artifact.sizeBytes",
        "spec.artifact.format",
        "spec.artifact.opset",
        "spec.signature.inputs[].name",
        "spec.signature.inputs[].dtype",
        "spec.signature.outputs[].name",
        "spec.lineage.dataUri",
        "spec.lineage.dataDigest",
        "spec.lineage.configDigest",
        "spec.lineage.trainerVersion",
        "spec.metrics.test",
        "spec.metrics.validation",
        "spec.metrics.baseline",
        "spec.metrics.slices",
        "spec.modelCardUri",
        "spec.reportUri",
        "spec.referenceUri",
        "status.stage",
        "status.gate.kpis[].metric",
        "status.gate.kpis[].value",
        "status.gate.kpis[].threshold",
        "status.gate.kpis[].op",
        "status.gate.kpis[].passed",
        "status.gate.baseline",
        "status.gate.champion.name",
        "status.gate.champion.value",
        "status.gate.champion.delta",
        "status.gate.champion.passed",
        "status.gate.sliceGaps",
        "status.gate.verdict",
        "status.gate.reason",
        "status.approval.approvedBy",
        "status.approval.time",
    ),
    "ModelDeployment": (
        "spec.projectRef.name",
        "spec.model.versionRef.name",
        "spec.model.alias",
        "spec.replicas",
        "spec.autoscaling.minReplicas",
        "spec.autoscaling.maxReplicas",
        "spec.autoscaling.targetCPUUtilization",
        "spec.resources.requests",
        "spec.image",
        "spec.traffic.mode",
        "spec.traffic.gatewayRef.name",
        "spec.canary.steps[].weight",
        "spec.canary.steps[].pause",
        "spec.canary.analysis.interval",
        "spec.canary.analysis.minRequests",
        "spec.canary.analysis.maxErrorRate",
        "spec.canary.analysis.maxLatencyP95Ms",
        "spec.canary.analysis.maxPredictionShift",
        "spec.canary.analysis.failureLimit",
        "spec.canary.analysis.prometheusUrl",
        "spec.canary.approval",
        "status.stableVersion",
        "status.canaryVersion",
        "status.canaryWeight",
        "status.step",
        "status.endpoint",
        "status.history[].time",
        "status.history[].action",
        "status.history[].fromVersion",
        "status.history[].toVersion",
        "status.history[].reason",
    ),
    "DriftMonitor": (
        "spec.deploymentRef.name",
        "spec.schedule.interval",
        "spec.window.duration",
        "spec.window.minSamples",
        "spec.detector.backend",
        "spec.detector.pValue",
        "spec.detector.correction",
        "spec.detector.multivariate",
        "spec.predictionDrift",
        "spec.performance.metric",
        "spec.performance.min",
        "spec.alert.consecutiveWindows",
        "spec.action.retrain",
        "status.lastCheckTime",
        "status.lastReport",
        "status.drifted",
        "status.driftedFeatures[].name",
        "status.driftedFeatures[].statistic",
        "status.driftedFeatures[].pValue",
        "status.consecutiveDriftWindows",
        "status.lastRetrainRun",
    ),
}
COMMON_STATUS = (
    "status.observedGeneration",
    "status.phase",
    "status.conditions[].type",
    "status.conditions[].status",
    "status.conditions[].reason",
    "status.conditions[].message",
    "status.conditions[].lastTransitionTime",
    "status.conditions[].observedGeneration",
)


@cache
def schema_of(kind: str) -> dict[str, Any]:
    return openapi_schema(kind_info(kind))


def lookup(schema: dict[str, Any], path: str) -> dict[str, Any]:
    node = schema
    for part in path.split("."):
        name = part.removesuffix("[]")
        node = node["properties"][name]
        if part.endswith("[]"):
            node = node["items"]
    return node


CASES = [(kind, path) for kind, paths in SPEC_FIELDS.items() for path in (*paths, *COMMON_STATUS)]


@pytest.mark.parametrize(("kind", "path"), CASES)
def test_spec_field_exists_and_is_documented(kind: str, path: str) -> None:
    node = lookup(schema_of(kind), path)
    assert node.get("description"), f"{kind} {path} has no description"


def test_enums_match_the_spec() -> None:
    project = schema_of("MLProject")
    assert set(lookup(project, "spec.problem.task")["enum"]) == {
        "binary-classification",
        "multiclass-classification",
        "regression",
    }
    metrics = set(lookup(project, "spec.problem.primaryMetric")["enum"])
    assert metrics >= {
        "roc_auc",
        "f1",
        "precision",
        "recall",
        "accuracy",
        "log_loss",
        "rmse",
        "mae",
        "r2",
        "mape",
    }
    algorithms = set(lookup(project, "spec.training.candidates[].algorithm")["enum"])
    assert algorithms >= {
        "logistic_regression",
        "linear_regression",
        "ridge",
        "random_forest",
        "gradient_boosting",
    }
    assert set(lookup(project, "spec.data.split.strategy")["enum"]) == {
        "random",
        "stratified",
        "time",
        "group",
    }
    version = schema_of("ModelVersion")
    assert set(lookup(version, "status.stage")["enum"]) == {"candidate", "champion", "retired", "rejected"}
    deployment = schema_of("ModelDeployment")
    assert set(lookup(deployment, "status.history[].action")["enum"]) == {"promoted", "rolledBack", "aborted"}
    assert set(lookup(deployment, "spec.traffic.mode")["enum"]) == {"replicas", "gateway-api"}
    monitor = schema_of("DriftMonitor")
    assert set(lookup(monitor, "spec.detector.backend")["enum"]) == {"native", "alibi-detect"}
    assert set(lookup(monitor, "spec.detector.correction")["enum"]) == {"bonferroni", "fdr"}
