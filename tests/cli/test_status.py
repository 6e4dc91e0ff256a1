"""``mloop status`` against the emulator, with statuses written the way the operator writes them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.cli.conftest import Cluster, cond, example

pytestmark = pytest.mark.integration


def populate(cluster: Cluster, namespace: str = "default") -> None:
    cluster.create(
        example("MLProject", "credit", namespace),
        {
            "champion": "credit-1",
            "championMetric": 0.8123,
            "counts": {"runs": 2, "versions": 2},
            "conditions": [cond("Ready", "True", "ChampionServing")],
        },
    )
    cluster.create(
        example("TrainingRun", "credit-run-1", namespace),
        {"phase": "Succeeded", "modelVersion": "credit-1"},
    )
    cluster.create(
        example("TrainingRun", "credit-run-2", namespace, trigger="drift", reason="drift in income"),
        {"phase": "Failed", "conditions": [cond("Ready", "False", "TargetMissing")]},
    )
    cluster.create(
        example("ModelVersion", "credit-1", namespace),
        {
            "stage": "champion",
            "primaryMetric": "roc_auc",
            "primaryMetricValue": 0.81,
            "conditions": [cond("Validated", "True", "GatePassed")],
        },
    )
    cluster.create(
        example("ModelVersion", "credit-2", namespace),
        {
            "stage": "rejected",
            "primaryMetric": "roc_auc",
            "primaryMetricValue": 0.79,
            "conditions": [cond("Validated", "False", "WorseThanChampion")],
        },
    )
    cluster.create(
        example("ModelDeployment", "credit", namespace),
        {
            "stableVersion": "credit-1",
            "canaryVersion": "credit-3",
            "canaryWeight": 10,
            "step": 0,
            "conditions": [cond("Ready", "True", "Available")],
        },
    )
    cluster.create(
        example("DriftMonitor", "credit", namespace),
        {
            "drifted": True,
            "consecutiveDriftWindows": 2,
            "lastCheckTime": "2025-01-01T00:00:00Z",
            "driftedFeatures": [{"name": "income", "statistic": 0.4, "pValue": 0.001}],
        },
    )


def lines_after(out: str, title: str) -> list[str]:
    block = out.split(title + "\n", 1)[1].split("\n\n", 1)[0]
    return block.splitlines()


def test_status_shows_one_table_per_kind(cluster: Cluster, run_cli: Any) -> None:
    populate(cluster)
    result = run_cli("status")
    assert result.code == 0, result.err
    out = result.out
    projects = lines_after(out, "PROJECTS")
    assert projects[0].split() == ["NAME", "TASK", "CHAMPION", "METRIC", "RUNS", "READY", "AGE"]
    assert projects[1].split()[:6] == [
        "credit",
        "binary-classification",
        "credit-1",
        "roc_auc=0.8123",
        "2",
        "True",
    ]
    runs = lines_after(out, "TRAINING RUNS")
    assert runs[0].split() == ["NAME", "PROJECT", "PHASE", "TRIGGER", "VERSION", "AGE"]
    assert runs[1].split()[:5] == ["credit-run-1", "credit", "Succeeded", "manual", "credit-1"]
    assert "Failed (TargetMissing)  drift" in runs[2]
    versions = lines_after(out, "MODEL VERSIONS")
    assert versions[1].split()[:6] == [
        "credit-1",
        "credit",
        "champion",
        "roc_auc=0.8100",
        "True",
        "(GatePassed)",
    ]
    assert "rejected  roc_auc=0.7900  False (WorseThanChampion)" in versions[2]
    deployments = lines_after(out, "DEPLOYMENTS")
    assert deployments[0].split() == ["NAME", "STABLE", "CANARY", "WEIGHT", "STEP", "READY", "AGE"]
    assert deployments[1].split()[:6] == ["credit", "credit-1", "credit-3", "10%", "1/2", "True"]
    monitors = lines_after(out, "DRIFT MONITORS")
    assert monitors[0].split() == ["NAME", "DEPLOYMENT", "DRIFTED", "WINDOWS", "LAST", "CHECK", "AGE"]
    assert monitors[1].split()[:5] == ["credit", "credit", "yes", "(income)", "2"]
    assert "NAMESPACE" not in out

    as_json = json.loads(run_cli("status", "-o", "json").out)
    assert set(as_json) == {"projects", "training_runs", "model_versions", "deployments", "drift_monitors"}
    assert as_json["model_versions"][1]["validated"] == "False (WorseThanChampion)"
    assert as_json["deployments"][0]["canary"] == "credit-3"


def test_status_omits_empty_kinds_and_says_when_nothing_exists(cluster: Cluster, run_cli: Any) -> None:
    result = run_cli("status")
    assert result.code == 0
    assert result.out.startswith("no mloop objects in namespace default")

    cluster.create(example("MLProject", "credit"))  # no status yet: the operator has not seen it
    out = run_cli("status").out
    assert "PROJECTS" in out
    assert all(title not in out for title in ("TRAINING RUNS", "MODEL VERSIONS", "DEPLOYMENTS", "DRIFT"))
    assert out.splitlines()[2].split()[:4] == ["credit", "binary-classification", "-", "roc_auc"]


def test_status_namespaces(cluster: Cluster, run_cli: Any) -> None:
    cluster.kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-b"}}, None)
    populate(cluster, "team-b")
    cluster.create(example("MLProject", "churn"))
    default_only = run_cli("status").out
    assert "churn" in default_only
    assert "credit" not in default_only
    assert "credit-run-1" in run_cli("status", "-n", "team-b").out
    everywhere = run_cli("status", "-A").out
    projects = lines_after(everywhere, "PROJECTS")
    assert projects[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert sorted(line.split()[0] for line in projects[1:]) == ["default", "team-b"]
    assert run_cli("status", "-A", "-o", "json").code == 0
