"""The Helm chart rendered by real Helm (v4, through helm-python-sdk) for several value sets, every object
validated against the Kubernetes JSON schemas of the newest version kubernetes-validate ships."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import helm_python as helm
import jsonschema
import kubernetes_validate
import pytest
import yaml

from mloop import __version__
from mloop.controller.settings import OperatorSettings
from tests.packaging.chart import (
    CHART,
    NAMESPACE,
    ROOT,
    VALUE_SETS,
    of_kind,
    operator_deployment,
    operator_env,
    render,
)

K8S_VERSION = kubernetes_validate.latest_version()
#: CRD-typed objects kubernetes-validate has no schema for, checked against a minimal one here.
MINIMAL_SCHEMAS: dict[str, dict[str, Any]] = {
    "ServiceMonitor": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "spec": {
                "type": "object",
                "required": ["selector", "endpoints"],
                "properties": {"endpoints": {"type": "array", "minItems": 1}},
            },
        },
    }
}


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_every_rendered_object_is_valid_kubernetes(name: str) -> None:
    objects = render(VALUE_SETS[name])
    assert objects
    for obj in objects:
        if obj["kind"] in MINIMAL_SCHEMAS:
            jsonschema.validate(obj, MINIMAL_SCHEMAS[obj["kind"]])
            continue
        try:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            pytest.fail(f"{name}: {obj['kind']}/{obj['metadata']['name']}: {path}: {exc.message}")


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_helm_lint_is_clean(name: str) -> None:
    report = helm.lint(str(CHART), VALUE_SETS[name], strict=True, namespace=NAMESPACE)
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert not report["errors"], report
    assert not problems, report


def test_chart_version_follows_mloop() -> None:
    meta = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert meta["apiVersion"] == "v2"
    assert meta["appVersion"] == __version__
    assert "dependencies" not in meta, "MinIO is an in-chart template; nothing to download"


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"replicas": 2}, "/replicas", "value must be 1"),
        ({"replica": 1}, "", "additional properties 'replica' not allowed"),
        ({"operator": {"resyncSeconds": "fast"}}, "/operator/resyncSeconds", "got string, want number"),
        ({"watchNamespaces": "team-a"}, "/watchNamespaces", "got string, want array"),
        ({"watchNamespaces": ["Team_A"]}, "/watchNamespaces/0", "does not match pattern"),
        ({"s3": {"endpoint": "http://minio:9000"}}, "/s3/endpoint", "does not match pattern"),
        ({"s3": {"secure": "yes"}}, "/s3/secure", "got string, want boolean"),
        ({"minio": {"enabled": True, "unknown": 1}}, "/minio", "additional properties 'unknown'"),
        ({"image": {"tag": "latest"}}, "/image/tag", "'not' failed"),
        ({"operator": {"logLevel": "LOUD"}}, "/operator/logLevel", "value must be one of"),
        ({"networkPolicy": {"s3": {"ports": [70000]}}}, "/networkPolicy/s3/ports/0", "maximum"),
    ],
)
def test_invalid_values_are_rejected_naming_the_field(
    values: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(helm.HelmValuesError) as caught:
        render(values)
    text = str(caught.value)
    assert f"at '{field}'" in text, text
    assert message in text, text


def test_every_schema_property_is_described_and_closed() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["additionalProperties"] is False
    for key, prop in schema["properties"].items():
        assert prop.get("description"), f"{key} has no description"
        if prop.get("type") == "object":
            assert prop.get("additionalProperties") is False, key
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    assert set(defaults) == set(schema["properties"]), "values.yaml and values.schema.json disagree"


def test_crds_render_from_the_generated_copies_and_are_kept() -> None:
    rendered = {c["metadata"]["name"]: c for c in of_kind(render(), "CustomResourceDefinition")}
    sources = {p.name: p for p in sorted((ROOT / "crds").glob("*.yaml"))}
    assert len(rendered) == len(sources) == 5
    for name, path in sources.items():
        copy = CHART / "files" / "crds" / name
        assert copy.read_text() == path.read_text(), f"{copy} differs from crds/{name}: run `make manifests`"
        wanted = yaml.safe_load(path.read_text())
        got = rendered[wanted["metadata"]["name"]]
        assert got["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        assert got["spec"] == wanted["spec"]
        assert wanted["metadata"]["labels"].items() <= got["metadata"]["labels"].items()
    assert not of_kind(render({"crds": {"install": False}}), "CustomResourceDefinition")
    assert not (CHART / "crds").exists(), "Helm never upgrades a chart's crds/ folder: use templates"


def test_operator_deployment_shape() -> None:
    deployment = operator_deployment(render())
    spec = deployment["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    pod = spec["template"]["spec"]
    assert pod["automountServiceAccountToken"] is True
    (container,) = pod["containers"]
    assert container["image"] == f"ghcr.io/mloop-io/mloop-operator:{__version__}"
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert {"name": "http", "containerPort": 8080, "protocol": "TCP"} in container["ports"]
    assert container["resources"]["limits"]
    assert container["resources"]["requests"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]


def test_only_the_operator_mounts_a_service_account_token() -> None:
    objects = render(VALUE_SETS["bundled-minio"])
    for account in of_kind(objects, "ServiceAccount"):
        assert account["automountServiceAccountToken"] is False
    for obj in of_kind(objects, "StatefulSet"):
        assert obj["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_s3_settings_reach_the_operator() -> None:
    env = operator_env(render(VALUE_SETS["external-s3"]))
    assert env["MLOOP_S3_ENDPOINT"]["value"] == "s3.eu-west-1.amazonaws.com"
    assert env["MLOOP_S3_SECURE"]["value"] == "true"
    assert env["MLOOP_S3_REGION"]["value"] == "eu-west-1"
    assert env["MLOOP_S3_DEFAULT_SECRET"]["value"] == "mloop-s3"
    for name, key in (
        ("MLOOP_S3_ACCESS_KEY", "AWS_ACCESS_KEY_ID"),
        ("MLOOP_S3_SECRET_KEY", "AWS_SECRET_ACCESS_KEY"),
    ):
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": "mloop-s3", "key": key}
        assert "value" not in env[name]
    minio = operator_env(render(VALUE_SETS["bundled-minio"]))
    assert minio["MLOOP_S3_ENDPOINT"]["value"] == f"mloop-minio.{NAMESPACE}.svc:9000"
    assert minio["MLOOP_S3_SECURE"]["value"] == "false"
    assert minio["MLOOP_S3_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "mloop-minio"
    namespaced = operator_env(render(VALUE_SETS["namespaced"]))
    assert namespaced["MLOOP_NAMESPACES"]["value"] == "team-a,team-b"
    images = operator_env(
        render({"image": {"overrides": {"trainer": "registry.local/t@sha256:" + "a" * 64}}})
    )
    assert images["MLOOP_TRAINER_IMAGE"]["value"] == "registry.local/t@sha256:" + "a" * 64
    assert images["MLOOP_DRIFT_IMAGE"]["value"] == f"ghcr.io/mloop-io/mloop-drift:{__version__}"


def test_every_mloop_variable_the_chart_sets_is_read_by_the_operator() -> None:
    source = (ROOT / "operator" / "mloop" / "controller" / "settings.py").read_text()
    read = set(re.findall(r"\"(MLOOP_[A-Z0-9_]+)\"", source))
    assert "MLOOP_S3_ENDPOINT" in read, "settings.py no longer reads MLOOP_* names as literals"
    for name in sorted(VALUE_SETS):
        set_by_chart = {key for key in operator_env(render(VALUE_SETS[name])) if key.startswith("MLOOP_")}
        unknown = set_by_chart - read
        assert not unknown, f"{name}: the chart sets {sorted(unknown)}, which the operator never reads"


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_the_operator_accepts_the_chart_settings(name: str) -> None:
    env = {
        key: item["value"] for key, item in operator_env(render(VALUE_SETS[name])).items() if "value" in item
    }
    settings = OperatorSettings.from_env(env)
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())["operator"]
    assert settings.resync_seconds == defaults["resyncSeconds"]
    assert settings.health_port == 8080
    assert settings.trainer_image.startswith("ghcr.io/mloop-io/mloop-trainer:")


def test_deploy_is_the_chart_with_default_values() -> None:
    deployed = [
        doc
        for path in sorted((ROOT / "deploy").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
    ]
    assert deployed[0]["kind"] == "Namespace"
    assert deployed[0]["metadata"]["name"] == NAMESPACE
    assert deployed[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert not of_kind(deployed, "CustomResourceDefinition"), "CRDs are applied from crds/"
    assert deployed[1:] == render({"crds": {"install": False}})


def test_dashboard_covers_the_spec_metrics() -> None:
    text = (CHART / "dashboards" / "mloop.json").read_text()
    for metric in (
        "mloop_predictions_total",
        "mloop_prediction_errors_total",
        "mloop_request_duration_seconds",
        "mloop_prediction_value",
        "mloop_drift_p_value",
        "mloop_drift_detected",
        "mloop_canary_weight",
        "mloop_rollouts_total",
        "mloop_training_runs_total",
        "mloop_reconcile_errors_total",
    ):
        assert metric in text, metric
    (configmap,) = of_kind(render(VALUE_SETS["monitoring"]), "ConfigMap")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["data"]["mloop.json"].strip() == text.strip()


def test_notes_tell_what_to_apply_next() -> None:
    with helm.Chart.load(str(CHART)) as chart:
        notes = chart.render({"crds": {"install": False}}, name="mloop", namespace=NAMESPACE)
    text = next(v for k, v in notes.items() if k.endswith("NOTES.txt"))
    assert "kubectl apply" in text
    assert "CRDs were not installed" in text


def test_no_unused_files_in_the_chart() -> None:
    assert {p.name for p in Path(CHART).iterdir()} == {
        ".helmignore",
        "Chart.yaml",
        "values.yaml",
        "values.schema.json",
        "templates",
        "files",
        "dashboards",
        "argocd",
    }
