"""Defaulting and pruning as the apiserver does before it validates and stores a custom resource."""

from __future__ import annotations

from typing import Any

from mloop.local.apiserver.validation import apply_defaults_and_prune

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "properties": {
                "replicas": {"type": "integer", "default": 1},
                "traffic": {
                    "type": "object",
                    "default": {},
                    "properties": {
                        "mode": {"type": "string", "default": "replicas"},
                        "gatewayRef": {"type": "string"},
                    },
                },
                "split": {
                    "type": "object",
                    "properties": {
                        "strategy": {"type": "string", "default": "random"},
                        "testFraction": {"type": "number", "default": 0.2},
                    },
                },
                "steps": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "weight": {"type": "integer"},
                            "pause": {"type": "string", "default": "1m"},
                        },
                    },
                },
                "params": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "note": {"type": "string", "nullable": True, "default": "n/a"},
                "owner": {"type": "string"},
                "template": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "properties": {"spec": {"type": "object", "properties": {"x": {"type": "integer"}}}},
                },
            },
        },
        "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
    },
}


def _spec(spec: dict[str, Any]) -> dict[str, Any]:
    out = apply_defaults_and_prune(SCHEMA, {"apiVersion": "mloop.io/v1alpha1", "kind": "X", "spec": spec})
    result: dict[str, Any] = out["spec"]
    return result


def test_absent_fields_get_defaults_and_defaults_are_defaulted_recursively() -> None:
    spec = _spec({})
    assert spec == {"replicas": 1, "traffic": {"mode": "replicas"}, "note": "n/a"}


def test_present_nested_object_gets_its_defaults_but_absent_one_without_default_does_not() -> None:
    assert _spec({"split": {"testFraction": 0.3}})["split"] == {"strategy": "random", "testFraction": 0.3}
    assert "split" not in _spec({})


def test_given_values_win_over_defaults() -> None:
    spec = _spec({"replicas": 3, "traffic": {"mode": "gateway-api", "gatewayRef": "gw"}})
    assert spec["replicas"] == 3
    assert spec["traffic"] == {"mode": "gateway-api", "gatewayRef": "gw"}


def test_list_items_are_defaulted_and_pruned() -> None:
    steps = _spec({"steps": [{"weight": 10}, {"weight": 50, "pause": "5m", "junk": True}]})["steps"]
    assert steps == [{"weight": 10, "pause": "1m"}, {"weight": 50, "pause": "5m"}]


def test_unknown_fields_are_pruned_everywhere_but_preserve_unknown_fields() -> None:
    out = apply_defaults_and_prune(
        SCHEMA,
        {
            "apiVersion": "mloop.io/v1alpha1",
            "kind": "X",
            "metadata": {"name": "a", "labels": {"x": "y"}, "whatever": 1},
            "spec": {
                "unknown": 1,
                "params": {"max_depth": 3, "nested": {"a": [1, 2]}},
                "labels": {"team": "ml"},
            },
            "status": {"phase": "Ready", "extra": "gone"},
            "extra": "gone",
        },
    )
    assert out["metadata"] == {"name": "a", "labels": {"x": "y"}, "whatever": 1}
    assert "extra" not in out
    assert out["status"] == {"phase": "Ready"}
    assert "unknown" not in out["spec"]
    assert out["spec"]["params"] == {"max_depth": 3, "nested": {"a": [1, 2]}}
    assert out["spec"]["labels"] == {"team": "ml"}


def test_embedded_resource_keeps_type_and_metadata_but_prunes_the_rest() -> None:
    template = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"x": 1, "y": 2},
        "z": 0,
    }
    assert _spec({"template": template})["template"] == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"x": 1},
    }


def test_null_in_non_nullable_field_is_dropped_or_defaulted_and_kept_when_nullable() -> None:
    spec = _spec({"owner": None, "replicas": None, "note": None})
    assert "owner" not in spec
    assert spec["replicas"] == 1
    assert spec["note"] is None


def test_input_is_not_mutated() -> None:
    body: dict[str, Any] = {"spec": {"steps": [{"weight": 1}]}}
    apply_defaults_and_prune(SCHEMA, body)
    assert body == {"spec": {"steps": [{"weight": 1}]}}
