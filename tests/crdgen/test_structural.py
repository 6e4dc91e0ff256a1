"""Generated schemas are structural, documented, bounded for CEL cost, and carry their CEL rules."""

from typing import Any

import pytest
import yaml

from mloop.api import GROUP, KINDS, VERSION
from mloop.api.kinds import KindInfo, kind_info
from mloop.crdgen import (
    build_crd,
    openapi_schema,
    structural_problems,
    structural_schema,
    unbounded_nodes,
    walk,
)

IDS = [info.kind for info in KINDS]


@pytest.mark.parametrize("info", KINDS, ids=IDS)
def test_schema_is_structural_and_documented(info: KindInfo) -> None:
    schema = openapi_schema(info)
    assert structural_problems(schema) == []
    for path, node in walk(schema):
        forbidden = {"anyOf", "oneOf", "allOf", "not", "$ref", "$defs", "const", "title", "$schema"}
        assert not forbidden & node.keys(), path
        typed = node.get("type") or node.get("x-kubernetes-int-or-string")
        assert typed or node.get("x-kubernetes-preserve-unknown-fields"), f"{path} has no type"
        if node.get("type") == "number" or node.get("type") == "integer":
            assert not isinstance(node.get("exclusiveMinimum", False), float), path


@pytest.mark.parametrize("info", KINDS, ids=IDS)
def test_spec_is_bounded_for_the_cel_cost_estimator(info: KindInfo) -> None:
    assert unbounded_nodes(openapi_schema(info)["properties"]["spec"]) == []


@pytest.mark.parametrize("info", KINDS, ids=IDS)
def test_only_free_form_fields_preserve_unknown(info: KindInfo) -> None:
    allowed = ("params", "space", "bestParams")
    schema = openapi_schema(info)
    assert "x-kubernetes-preserve-unknown-fields" not in schema["properties"]["spec"]
    assert "x-kubernetes-preserve-unknown-fields" not in schema["properties"]["status"]
    for path, node in walk(schema):
        if node.get("x-kubernetes-preserve-unknown-fields"):
            assert path.rsplit(".", 1)[-1] in allowed, path


@pytest.mark.parametrize("info", KINDS, ids=IDS)
def test_crd_shape(info: KindInfo) -> None:
    crd = build_crd(info)
    assert crd["metadata"]["name"] == f"{info.plural}.{GROUP}"
    spec = crd["spec"]
    assert spec["scope"] == "Namespaced"
    assert spec["names"]["categories"] == ["mloop"]
    assert spec["names"]["shortNames"] == list(info.short_names)
    (version,) = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == (VERSION, True, True)
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    assert columns[-1] == "Age"
    root = version["schema"]["openAPIV3Schema"]
    assert set(root["properties"]) == {"apiVersion", "kind", "metadata", "spec", "status"}
    assert root["properties"]["metadata"] == {"type": "object"}
    assert "default" not in yaml.safe_dump(root["properties"]["status"])


def rules_at(kind: str, path: str) -> list[str]:
    node: dict[str, Any] = openapi_schema(kind_info(kind))
    for part in path.split("."):
        node = node["properties"][part.removesuffix("[]")]
        if part.endswith("[]"):
            node = node["items"]
    return [r["rule"] for r in node.get("x-kubernetes-validations", [])]


@pytest.mark.parametrize(
    ("kind", "path", "needle"),
    [
        ("ModelVersion", "spec", "self == oldSelf"),
        ("TrainingRun", "spec", "self == oldSelf"),
        ("ModelDeployment", "spec.model", "has(self.versionRef) != has(self.alias)"),
        ("ModelDeployment", "spec.canary.steps", "isSorted()"),
        ("ModelDeployment", "spec.canary.steps", "exists_one"),
        ("ModelDeployment", "spec.autoscaling", "self.minReplicas <= self.maxReplicas"),
        ("ModelDeployment", "spec.traffic", "gatewayRef"),
        ("MLProject", "spec.data.split", "< 1.0"),
        ("MLProject", "spec.problem.kpis[]", "has(self.min) != has(self.max)"),
        ("MLProject", "spec.problem", "self.primaryMetric in"),
        ("MLProject", "spec.data", "has(self.timeColumn)"),
        ("MLProject", "spec.data", "has(self.groupColumn)"),
        ("MLProject", "spec", "stratified"),
        ("DriftMonitor", "spec.window", "has(self.duration) || has(self.minSamples)"),
    ],
)
def test_cel_rules_are_placed(kind: str, path: str, needle: str) -> None:
    assert any(needle in rule for rule in rules_at(kind, path))


def test_immutability_message() -> None:
    crd = build_crd(kind_info("ModelVersion"))
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert {
        "rule": "self == oldSelf",
        "message": "spec is immutable",
        "reason": "FieldValueForbidden",
    } in spec["x-kubernetes-validations"]


def test_canary_weights_are_bounded_in_the_schema() -> None:
    weight = openapi_schema(kind_info("ModelDeployment"))["properties"]["spec"]["properties"]["canary"][
        "properties"
    ]["steps"]["items"]["properties"]["weight"]
    assert (weight["minimum"], weight["maximum"]) == (0, 100)


# Rewriter unit cases: pydantic JSON Schema in, structural schema out.
REWRITES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}, {"type": "string"}),
    (
        {"anyOf": [{"type": "string"}, {"type": "null"}], "x-mloop-nullable": True},
        {"type": "string", "nullable": True},
    ),
    ({"anyOf": [{"type": "integer"}, {"type": "string"}]}, {"x-kubernetes-int-or-string": True}),
    ({"const": "onnx", "type": "string"}, {"type": "string", "enum": ["onnx"], "maxLength": 4}),
    (
        {"type": "number", "exclusiveMinimum": 0, "title": "X"},
        {"type": "number", "minimum": 0, "exclusiveMinimum": True},
    ),
    (
        {"type": "object", "additionalProperties": True},
        {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    ),
    (
        {"type": "object", "additionalProperties": {"type": "number"}},
        {"type": "object", "additionalProperties": {"type": "number"}},
    ),
    ({}, {"x-kubernetes-preserve-unknown-fields": True}),
    (
        {
            "$defs": {
                "A": {"type": "object", "description": "A doc", "properties": {"x": {"type": "integer"}}}
            },
            "type": "object",
            "properties": {"a": {"$ref": "#/$defs/A", "description": "field doc"}},
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {
                "a": {"type": "object", "description": "field doc", "properties": {"x": {"type": "integer"}}}
            },
        },
    ),
]


@pytest.mark.parametrize(("source", "expected"), REWRITES)
def test_rewrites(source: dict[str, Any], expected: dict[str, Any]) -> None:
    assert structural_schema(source) == expected
