"""The pydantic models mirror the CEL rules, parse the examples and keep their defaults."""

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from mloop.api import API_VERSION, KINDS
from mloop.api.common import Condition, parse_duration
from mloop.api.driftmonitor import DriftMonitor
from mloop.api.kinds import kind_info
from mloop.api.mlproject import MLProject
from mloop.api.modeldeployment import ModelDeployment
from mloop.api.modelversion import ModelVersion

EXAMPLES = Path(__file__).parents[2] / "examples"


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    return data


def rejects(model: Any, body: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValidationError) as info:
        model.model_validate(body)
    assert needle in str(info.value)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_examples_parse(path: Path) -> None:
    body = yaml.safe_load(path.read_text())
    obj = kind_info(body["kind"]).model.model_validate(body)
    assert body["apiVersion"] == API_VERSION
    assert "namespace" not in body["metadata"]
    dumped = obj.model_dump(by_alias=True, exclude_none=True, mode="json")
    assert dumped["spec"]  # round-trips with camelCase names


def test_every_kind_has_an_example() -> None:
    kinds = {yaml.safe_load(p.read_text())["kind"] for p in EXAMPLES.glob("*.yaml")}
    assert kinds == {info.kind for info in KINDS}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("1m", 60), ("1h30m", 5400), ("250ms", 0.25), ("1.5h", 5400), ("2h0m10s", 7210)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "10", "1d", "-5s", "1 h", "m"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_defaults() -> None:
    project = MLProject.model_validate(
        {
            "metadata": {"name": "p"},
            "spec": {
                "owner": "me",
                "problem": {"task": "regression", "target": "y", "primaryMetric": "rmse"},
                "data": {"source": {"uri": "s3://bucket/d.csv"}},
                "training": {"candidates": [{"algorithm": "ridge"}]},
                "storage": {"bucket": "bucket"},
            },
        }
    )
    spec = project.spec
    assert (spec.data.split.validation_fraction, spec.data.split.test_fraction, spec.data.split.seed) == (
        0.2,
        0.2,
        42,
    )
    assert (spec.promotion.policy, spec.promotion.min_improvement, spec.promotion.max_slice_gap) == (
        "auto",
        0.0,
        0.1,
    )
    assert (spec.retraining.cooldown, spec.retraining.max_concurrent_runs) == ("1h", 1)
    deployment = ModelDeployment.model_validate(
        {"spec": {"projectRef": {"name": "p"}, "model": {"alias": "champion"}}}
    )
    steps = [(s.weight, s.pause) for s in deployment.spec.canary.steps]
    assert steps == [(10, "1m"), (50, "1m")]
    analysis = deployment.spec.canary.analysis
    assert (analysis.interval, analysis.min_requests, analysis.max_error_rate, analysis.failure_limit) == (
        "30s",
        50,
        0.05,
        2,
    )
    monitor = DriftMonitor.model_validate(
        {"spec": {"deploymentRef": {"name": "d"}, "window": {"minSamples": 10}}}
    )
    detector = monitor.spec.detector
    assert (detector.p_value, detector.correction, detector.backend) == (0.05, "bonferroni", "native")
    assert monitor.spec.alert.consecutive_windows == 2


def test_status_serialises_with_camel_case() -> None:
    condition = Condition(type="Ready", status="True", reason="Ready", observed_generation=3)
    assert condition.model_dump(by_alias=True, exclude_none=True, mode="json") == {
        "type": "Ready",
        "status": "True",
        "reason": "Ready",
        "message": "",
        "observedGeneration": 3,
    }


def test_unknown_spec_fields_are_rejected() -> None:
    body = example("mlproject.yaml")
    body["spec"]["problem"]["primaryMetrc"] = "f1"
    rejects(MLProject, body, "primaryMetrc")


def test_metadata_and_status_tolerate_server_fields() -> None:
    body = example("modeldeployment.yaml")
    body["metadata"]["managedFields"] = [{"manager": "kubectl"}]
    body["status"] = {"stableVersion": "credit-1", "futureField": 1}
    assert ModelDeployment.model_validate(body).status.stable_version == "credit-1"


def _project(**changes: Any) -> dict[str, Any]:
    body = example("mlproject.yaml")
    for dotted, value in changes.items():
        node = body["spec"]
        *parents, leaf = dotted.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return body


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"problem__primaryMetric": "rmse"}, "primaryMetric"),
        ({"problem__kpis": [{"metric": "mae", "max": 1.0}]}, "kpis"),
        ({"problem__kpis": [{"metric": "f1"}]}, "exactly one of min or max"),
        ({"problem__kpis": [{"metric": "f1", "min": 0.1, "max": 0.9}]}, "exactly one of min or max"),
        ({"problem__baseline": "mean"}, "baseline"),
        (
            {"data__split": {"validationFraction": 0.5, "testFraction": 0.5}},
            "validationFraction + testFraction",
        ),
        ({"data__split": {"strategy": "time"}}, "timeColumn"),
        ({"data__split": {"strategy": "group"}}, "groupColumn"),
        ({"training__candidates": [{"algorithm": "ridge"}]}, "does not suit task"),
        (
            {"training__candidates": [{"algorithm": "random_forest"}, {"algorithm": "random_forest"}]},
            "names must be unique",
        ),
        (
            {"training__candidates": [{"algorithm": "ridge", "search": {"space": {"alpha": 1}}}]},
            "grid search",
        ),
    ],
)
def test_project_cross_field_rules(changes: dict[str, Any], needle: str) -> None:
    rejects(MLProject, _project(**changes), needle)


def test_regression_rules() -> None:
    body = _project(problem__task="regression", problem__primaryMetric="rmse", problem__kpis=[])
    del body["spec"]["problem"]["positiveClass"]
    body["spec"]["training"]["candidates"] = [{"algorithm": "ridge"}]
    rejects(MLProject, body, "stratified requires a classification task")
    body["spec"]["data"]["split"]["strategy"] = "random"
    MLProject.model_validate(body)
    body["spec"]["problem"]["positiveClass"] = 1
    rejects(MLProject, body, "positiveClass")


def test_deployment_rules() -> None:
    body = example("modeldeployment.yaml")
    both = copy.deepcopy(body)
    both["spec"]["model"]["versionRef"] = {"name": "credit-1"}
    rejects(ModelDeployment, both, "exactly one of versionRef or alias")
    neither = copy.deepcopy(body)
    neither["spec"]["model"] = {}
    rejects(ModelDeployment, neither, "exactly one of versionRef or alias")
    steps = copy.deepcopy(body)
    steps["spec"]["canary"]["steps"] = [{"weight": 50}, {"weight": 50}]
    rejects(ModelDeployment, steps, "strictly increasing")
    scaling = copy.deepcopy(body)
    scaling["spec"]["autoscaling"] = {"minReplicas": 5, "maxReplicas": 2}
    rejects(ModelDeployment, scaling, "minReplicas")
    gateway = copy.deepcopy(body)
    gateway["spec"]["traffic"] = {"mode": "gateway-api"}
    rejects(ModelDeployment, gateway, "gatewayRef")


def test_drift_window_needs_a_bound() -> None:
    body = example("driftmonitor.yaml")
    body["spec"]["window"] = {}
    rejects(DriftMonitor, body, "duration or minSamples")


def test_model_version_checksum_is_validated() -> None:
    body = example("modelversion.yaml")
    body["spec"]["artifact"]["sha256"] = "abc"
    rejects(ModelVersion, body, "sha256")
