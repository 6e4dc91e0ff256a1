"""OpenAPI v3 keyword checks: one row per keyword, with the kube-apiserver wording of the message."""

from __future__ import annotations

from typing import Any

import pytest

from mloop.local.apiserver.validation import FieldError, validate_object


def _wrap(field: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"spec": {"type": "object", "properties": {"f": field}}}}


def _errors(field: dict[str, Any], value: Any) -> list[FieldError]:
    return validate_object(_wrap(field), {"spec": {"f": value}}, None)


CASES: list[tuple[str, dict[str, Any], Any, str, str, str]] = [
    # id, field schema, value, path, type, message (exact unless it ends with "...")
    (
        "type-integer",
        {"type": "integer"},
        "3",
        "spec.f",
        "FieldValueTypeInvalid",
        'spec.f: Invalid value: "string": spec.f in body must be of type integer: "string"',
    ),
    (
        "type-integer-float",
        {"type": "integer"},
        1.5,
        "spec.f",
        "FieldValueTypeInvalid",
        'spec.f: Invalid value: "number": spec.f in body must be of type integer: "number"',
    ),
    (
        "type-number",
        {"type": "number"},
        True,
        "spec.f",
        "FieldValueTypeInvalid",
        'spec.f: Invalid value: "boolean": spec.f in body must be of type number: "boolean"',
    ),
    (
        "type-string",
        {"type": "string"},
        5,
        "spec.f",
        "FieldValueTypeInvalid",
        'spec.f: Invalid value: "integer": spec.f in body must be of type string: "integer"',
    ),
    (
        "type-boolean",
        {"type": "boolean"},
        "true",
        "spec.f",
        "FieldValueTypeInvalid",
        'spec.f: Invalid value: "string": spec.f in body must be of type boolean: "string"',
    ),
    (
        "type-array",
        {"type": "array", "items": {"type": "string"}},
        {"a": 1},
        "spec.f",
        "FieldValueTypeInvalid",
        'spec.f: Invalid value: "object": spec.f in body must be of type array: "object"',
    ),
    (
        "type-object",
        {"type": "object"},
        [1],
        "spec.f",
        "FieldValueTypeInvalid",
        'spec.f: Invalid value: "array": spec.f in body must be of type object: "array"',
    ),
    (
        "null-in-list",
        {"type": "array", "items": {"type": "string"}},
        ["a", None],
        "spec.f[1]",
        "FieldValueTypeInvalid",
        'spec.f[1]: Invalid value: "null": spec.f[1] in body must be of type string: "null"',
    ),
    (
        "int-or-string",
        {"x-kubernetes-int-or-string": True},
        True,
        "spec.f",
        "FieldValueTypeInvalid",
        'spec.f: Invalid value: "boolean": spec.f in body must be of type integer,string: "boolean"',
    ),
    (
        "enum",
        {"type": "string", "enum": ["binary-classification", "regression"]},
        "foo",
        "spec.f",
        "FieldValueNotSupported",
        'spec.f: Unsupported value: "foo": supported values: "binary-classification", "regression"',
    ),
    (
        "enum-int",
        {"type": "integer", "enum": [1, 2]},
        3,
        "spec.f",
        "FieldValueNotSupported",
        'spec.f: Unsupported value: 3: supported values: "1", "2"',
    ),
    (
        "maximum",
        {"type": "number", "maximum": 1},
        1.5,
        "spec.f",
        "FieldValueInvalid",
        "spec.f: Invalid value: 1.5: spec.f in body should be less than or equal to 1",
    ),
    (
        "exclusiveMaximum",
        {"type": "number", "maximum": 1, "exclusiveMaximum": True},
        1,
        "spec.f",
        "FieldValueInvalid",
        "spec.f: Invalid value: 1: spec.f in body should be less than 1",
    ),
    (
        "minimum",
        {"type": "integer", "minimum": 0},
        -1,
        "spec.f",
        "FieldValueInvalid",
        "spec.f: Invalid value: -1: spec.f in body should be greater than or equal to 0",
    ),
    (
        "exclusiveMinimum",
        {"type": "number", "minimum": 0, "exclusiveMinimum": True},
        0.0,
        "spec.f",
        "FieldValueInvalid",
        "spec.f: Invalid value: 0: spec.f in body should be greater than 0",
    ),
    (
        "multipleOf",
        {"type": "integer", "multipleOf": 5},
        12,
        "spec.f",
        "FieldValueInvalid",
        "spec.f: Invalid value: 12: spec.f in body should be a multiple of 5",
    ),
    (
        "multipleOf-float",
        {"type": "number", "multipleOf": 0.5},
        0.7,
        "spec.f",
        "FieldValueInvalid",
        "spec.f: Invalid value: 0.7: spec.f in body should be a multiple of 0.5",
    ),
    (
        "minLength",
        {"type": "string", "minLength": 3},
        "ab",
        "spec.f",
        "FieldValueInvalid",
        'spec.f: Invalid value: "ab": spec.f in body should be at least 3 chars long',
    ),
    (
        "maxLength",
        {"type": "string", "maxLength": 3},
        "abcd",
        "spec.f",
        "FieldValueTooLong",
        "spec.f: Too long: may not be longer than 3",
    ),
    (
        "pattern",
        {"type": "string", "pattern": "^s3://"},
        "http://x",
        "spec.f",
        "FieldValueInvalid",
        "spec.f: Invalid value: \"http://x\": spec.f in body should match '^s3://'",
    ),
    (
        "format-date-time",
        {"type": "string", "format": "date-time"},
        "yesterday",
        "spec.f",
        "FieldValueTypeInvalid",
        'spec.f: Invalid value: "yesterday": spec.f in body must be of type date-time: "yesterday"',
    ),
    (
        "format-int32",
        {"type": "integer", "format": "int32"},
        2**31,
        "spec.f",
        "FieldValueTypeInvalid",
        "spec.f: Invalid value: 2147483648: spec.f in body must be of type int32",
    ),
    (
        "format-int64",
        {"type": "integer", "format": "int64"},
        2**63,
        "spec.f",
        "FieldValueTypeInvalid",
        "spec.f: Invalid value: 9223372036854775808: spec.f in body must be of type int64",
    ),
    (
        "minItems",
        {"type": "array", "minItems": 1, "items": {"type": "string"}},
        [],
        "spec.f",
        "FieldValueInvalid",
        "spec.f: Invalid value: 0: spec.f in body should have at least 1 items",
    ),
    (
        "maxItems",
        {"type": "array", "maxItems": 2, "items": {"type": "integer"}},
        [1, 2, 3],
        "spec.f",
        "FieldValueTooMany",
        "spec.f: Too many: 3: must have at most 2 items",
    ),
    (
        "uniqueItems",
        {"type": "array", "uniqueItems": True, "items": {"type": "string"}},
        ["a", "a"],
        "spec.f",
        "FieldValueInvalid",
        'spec.f: Invalid value: []interface {}{"a", "a"}: spec.f in body shouldn\'t contain duplicates',
    ),
    (
        "minProperties",
        {"type": "object", "minProperties": 1, "additionalProperties": {"type": "string"}},
        {},
        "spec.f",
        "FieldValueInvalid",
        "spec.f: Invalid value: 0: spec.f in body should have at least 1 properties",
    ),
    (
        "maxProperties",
        {"type": "object", "maxProperties": 1, "additionalProperties": {"type": "string"}},
        {"a": "1", "b": "2"},
        "spec.f",
        "FieldValueTooMany",
        "spec.f: Too many: 2: must have at most 1 items",
    ),
    (
        "additionalProperties",
        {"type": "object", "additionalProperties": {"type": "integer"}},
        {"a": "x"},
        "spec.f.a",
        "FieldValueTypeInvalid",
        'spec.f.a: Invalid value: "string": spec.f.a in body must be of type integer: "string"',
    ),
    (
        "required",
        {"type": "object", "required": ["owner"], "properties": {"owner": {"type": "string"}}},
        {},
        "spec.f.owner",
        "FieldValueRequired",
        "spec.f.owner: Required value",
    ),
    (
        "items-nested",
        {
            "type": "array",
            "items": {"type": "object", "properties": {"weight": {"type": "integer", "maximum": 100}}},
        },
        [{"weight": 10}, {"weight": 150}],
        "spec.f[1].weight",
        "FieldValueInvalid",
        "spec.f[1].weight: Invalid value: 150: spec.f[1].weight in body should be less than or equal to 100",
    ),
    (
        "list-set",
        {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
        ["a", "b", "a"],
        "spec.f[2]",
        "FieldValueDuplicate",
        'spec.f[2]: Duplicate value: "a"',
    ),
    (
        "list-map",
        {
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
            "items": {"type": "object", "properties": {"name": {"type": "string"}, "v": {"type": "integer"}}},
        },
        [{"name": "a", "v": 1}, {"name": "a", "v": 2}],
        "spec.f[1]",
        "FieldValueDuplicate",
        'spec.f[1]: Duplicate value: map[string]interface {}{"name":"a"}',
    ),
]


@pytest.mark.parametrize(
    ("field", "value", "path", "kind", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_keyword_is_enforced_with_kubernetes_wording(
    field: dict[str, Any], value: Any, path: str, kind: str, message: str
) -> None:
    errors = _errors(field, value)
    assert FieldError(path, kind, message) in errors, errors


VALID: list[tuple[str, dict[str, Any], Any]] = [
    ("number-accepts-int", {"type": "number", "maximum": 1}, 1),
    ("integer-accepts-integral-float", {"type": "integer"}, 2.0),
    ("nullable", {"type": "string", "nullable": True}, None),
    ("int-or-string-int", {"x-kubernetes-int-or-string": True}, 3),
    ("int-or-string-string", {"x-kubernetes-int-or-string": True}, "50%"),
    ("date-time", {"type": "string", "format": "date-time"}, "2024-05-01T12:30:00Z"),
    ("date-time-fraction-offset", {"type": "string", "format": "date-time"}, "2024-05-01T12:30:00.5+02:00"),
    ("unknown-format-ignored", {"type": "string", "format": "k8s-special"}, "anything"),
    ("double-format", {"type": "number", "format": "double"}, 0.25),
    (
        "preserve-unknown-anything",
        {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        {"a": [1]},
    ),
    (
        "embedded-resource",
        {
            "type": "object",
            "x-kubernetes-embedded-resource": True,
            "x-kubernetes-preserve-unknown-fields": True,
        },
        {"apiVersion": "v1", "kind": "Pod"},
    ),
    (
        "list-map-distinct",
        {
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
            "items": {"type": "object", "properties": {"name": {"type": "string"}}},
        },
        [{"name": "a"}, {"name": "b"}],
    ),
    ("enum-bool-not-int", {"type": "boolean", "enum": [True]}, True),
]


@pytest.mark.parametrize(("field", "value"), [c[1:] for c in VALID], ids=[c[0] for c in VALID])
def test_valid_values_pass(field: dict[str, Any], value: Any) -> None:
    assert _errors(field, value) == []


def test_required_at_root_and_error_order_is_stable() -> None:
    schema = {"type": "object", "required": ["spec"], "properties": {"spec": {"type": "object"}}}
    assert validate_object(schema, {}, None) == [
        FieldError("spec", "FieldValueRequired", "spec: Required value")
    ]


def test_type_error_stops_checks_below_that_node() -> None:
    field = {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}}
    assert [e.path for e in _errors(field, "oops")] == ["spec.f"]


def test_large_and_small_floats_print_like_go() -> None:
    errs = _errors({"type": "number", "maximum": 1000000}, 12345678.5)
    assert errs[0].message.endswith("should be less than or equal to 1e+06")
    assert "Invalid value: 1.23456785e+07:" in errs[0].message
