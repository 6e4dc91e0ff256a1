"""Every pod template, the chart's and the operator's own builders', meets the Pod Security Standard
``restricted``, mounts writable paths as emptyDirs, and is selected by a NetworkPolicy."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from mloop.api.driftmonitor import DriftMonitor
from mloop.api.mlproject import MLProject
from mloop.api.modelversion import ModelVersion
from mloop.reconcile.drift import build_drift_job, current_window
from mloop.reconcile.pods import S3Access
from mloop.reconcile.serving import build_serving_deployment
from mloop.reconcile.training import build_training_job
from tests.packaging.chart import NAMESPACE, POD_KINDS, VALUE_SETS, of_kind, pod_templates, render
from tests.packaging.networkpolicy import assert_selected, selecting
from tests.packaging.podsecurity import assert_restricted, violations

ROOT = Path(__file__).resolve().parents[2]

#: The labels every pod the operator creates must carry so the chart's NetworkPolicies select it (the
#: trainer's come from its builder below; server and drift builders must carry the same two keys).
WORKLOAD_LABELS: dict[str, dict[str, str]] = {
    kind: {"app.kubernetes.io/part-of": "mloop", "app.kubernetes.io/component": kind}
    for kind in ("trainer", "server", "drift")
}


def training_job(namespace: str = "default") -> dict[str, Any]:
    body = yaml.safe_load((ROOT / "examples" / "mlproject.yaml").read_text())
    body["metadata"]["namespace"] = namespace
    project = MLProject.model_validate(body)
    run = {
        "apiVersion": "mloop.io/v1alpha1",
        "kind": "TrainingRun",
        "metadata": {"name": "credit-run-1", "namespace": namespace, "uid": "0000-1111"},
        "spec": {"projectRef": {"name": "credit"}},
    }
    return build_training_job(
        run,
        project,
        image="ghcr.io/mloop-io/mloop-trainer:0.1.0",
        s3=S3Access(endpoint="minio:9000", secret_name="mloop-s3"),
        champion=None,
    )


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_chart_pods_are_restricted_with_a_read_only_root(name: str) -> None:
    templates = list(pod_templates(render(VALUE_SETS[name])))
    assert templates
    for where, template in templates:
        spec = template["spec"]
        assert_restricted(spec)
        for container in spec["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, where
            assert container["resources"].get("limits"), where


def serving_deployment() -> dict[str, Any]:
    project = MLProject.model_validate({**yaml.safe_load((ROOT / "examples" / "mlproject.yaml").read_text())})
    version = ModelVersion.model_validate(
        yaml.safe_load((ROOT / "examples" / "modelversion.yaml").read_text())
    )
    md = yaml.safe_load((ROOT / "examples" / "modeldeployment.yaml").read_text())
    md["metadata"].update(namespace="default", uid="0000-2222")
    del project  # the serving pod needs only the deployment and the version
    return build_serving_deployment(
        md,
        version,
        role="canary",
        replicas=1,
        image="ghcr.io/mloop-io/mloop-server:0.1.0",
        s3=S3Access(endpoint="minio:9000", secret_name="mloop-s3"),
        traffic_uri="s3://b/default/credit/traffic/",
    )


def drift_job() -> dict[str, Any]:
    project = MLProject.model_validate(yaml.safe_load((ROOT / "examples" / "mlproject.yaml").read_text()))
    version = ModelVersion.model_validate(
        yaml.safe_load((ROOT / "examples" / "modelversion.yaml").read_text())
    )
    monitor = yaml.safe_load((ROOT / "examples" / "driftmonitor.yaml").read_text())
    monitor["metadata"].update(namespace="default", uid="0000-3333")
    window = current_window(DriftMonitor.model_validate(monitor), datetime(2026, 1, 1, tzinfo=UTC))
    return build_drift_job(
        monitor,
        project,
        version,
        window,
        deployment="credit",
        image="ghcr.io/mloop-io/mloop-drift:0.1.0",
        s3=S3Access(endpoint="minio:9000", secret_name="mloop-s3"),
    )


@pytest.mark.parametrize(
    ("kind", "build"), [("trainer", training_job), ("server", serving_deployment), ("drift", drift_job)]
)
def test_every_operator_built_pod_is_restricted(kind: str, build: Any) -> None:
    workload = build()
    spec = workload["spec"]["template"]["spec"]
    assert_restricted(spec)
    assert spec["automountServiceAccountToken"] is False
    (container,) = spec["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["resources"].get("limits")
    assert WORKLOAD_LABELS[kind].items() <= workload["spec"]["template"]["metadata"]["labels"].items()


def _contexts(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [spec["securityContext"], *[c["securityContext"] for c in spec["containers"]]]


def _drop(key: str) -> Any:
    return lambda spec: [context.pop(key, None) for context in _contexts(spec)]


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        (lambda s: s.update(hostNetwork=True), "hostNetwork"),
        (lambda s: s["volumes"].append({"name": "h", "hostPath": {"path": "/"}}), "hostPath"),
        (lambda s: s["containers"][0]["securityContext"].update(privileged=True), "privileged"),
        (_drop("allowPrivilegeEscalation"), "allowPrivilegeEscalation"),
        (lambda s: s["containers"][0]["securityContext"].update(capabilities={"add": ["SYS_ADMIN"]}), "ALL"),
        (lambda s: s["securityContext"].update(runAsUser=0), "runAsUser"),
        (_drop("seccompProfile"), "seccompProfile"),
        (_drop("runAsNonRoot"), "runAsNonRoot"),
    ],
)
def test_the_checker_catches_each_violation(mutation: Any, message: str) -> None:
    spec = copy.deepcopy(training_job()["spec"]["template"]["spec"])
    assert violations(spec) == []
    mutation(spec)
    found = violations(spec)
    assert found
    assert any(message in problem for problem in found), found
    with pytest.raises(AssertionError, match="restricted"):
        assert_restricted(spec)


@pytest.mark.parametrize("name", sorted(set(VALUE_SETS) - {"no-networkpolicy"}))
def test_every_pod_kind_is_selected_by_a_network_policy(name: str) -> None:
    values = VALUE_SETS[name]
    objects = render(values)
    policies = of_kind(objects, "NetworkPolicy")
    # The chart's own pods, in the release namespace.
    kinds_seen = set()
    for _where, template in pod_templates(objects):
        labels = template["metadata"]["labels"]
        kinds_seen.add(labels["app.kubernetes.io/component"])
        assert_selected(policies, NAMESPACE, labels)
    assert kinds_seen == ({"operator", "minio"} if values.get("minio", {}).get("enabled") else {"operator"})
    # The operator's pods, in every namespace with projects.
    namespaces = values.get("watchNamespaces") or values.get("projectNamespaces") or ["default"]
    for namespace in namespaces:
        trainer_labels = training_job(namespace)["spec"]["template"]["metadata"]["labels"]
        assert_selected(policies, namespace, trainer_labels)
        for kind in ("server", "drift"):
            assert_selected(policies, namespace, WORKLOAD_LABELS[kind])
    assert set(POD_KINDS) >= kinds_seen | set(WORKLOAD_LABELS)


def test_batch_pods_take_no_ingress_and_servers_only_on_8080() -> None:
    policies = of_kind(render(), "NetworkPolicy")
    for kind in ("trainer", "drift"):
        (policy,) = selecting(policies, "default", WORKLOAD_LABELS[kind])
        assert policy["spec"]["ingress"] == []
        ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}
        assert ports == {53, 443, 9000}
    (server,) = selecting(policies, "default", WORKLOAD_LABELS["server"])
    assert [p["port"] for rule in server["spec"]["ingress"] for p in rule["ports"]] == [8080]
    minio = of_kind(render(VALUE_SETS["bundled-minio"]), "NetworkPolicy")
    (trainer,) = selecting(minio, "ml-a", WORKLOAD_LABELS["trainer"])
    s3_rule = trainer["spec"]["egress"][1]
    assert s3_rule["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "minio"
    assert [p["port"] for p in s3_rule["ports"]] == [9000]
