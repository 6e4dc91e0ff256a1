"""Rewrite a pydantic JSON Schema into a Kubernetes structural schema.

Kubernetes accepts only a subset of OpenAPI v3 in a CRD (the structural-schema rules): every node
typed, no ``$ref``, no ``anyOf``/``oneOf``/``allOf`` except in narrow forms, ``nullable`` instead of a
``null`` type, boolean ``exclusiveMinimum``. The rewrites follow kube-rs'
``StructuralSchemaRewriter`` (kube-core/src/schema.rs), adapted to what pydantic emits.
"""

from __future__ import annotations

from typing import Any

__all__ = ["NULLABLE_MARKER", "strip_defaults", "structural_schema"]

Schema = dict[str, Any]

#: ``json_schema_extra`` key a field sets when ``null`` is a meaningful value (kept as ``nullable``).
NULLABLE_MARKER = "x-mloop-nullable"

_KEEP = frozenset(
    {
        "description",
        "type",
        "enum",
        "default",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
        "required",
        "nullable",
    }
)
_FORMATS = frozenset({"date-time", "date", "int32", "int64", "float", "double", "byte"})
_COMBINATORS = ("anyOf", "oneOf")


def structural_schema(schema: Schema) -> Schema:
    """Convert a pydantic ``model_json_schema(by_alias=True)`` into a structural schema."""
    defs = schema.get("$defs", {})
    return _convert(schema, defs, depth=0)


def strip_defaults(schema: Schema) -> Schema:
    """Remove every ``default``: status is written by the operator, server-side defaults would fake it."""
    out: Schema = {}
    for key, value in schema.items():
        if key == "default":
            continue
        if key == "properties":
            out[key] = {name: strip_defaults(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = strip_defaults(value)
        else:
            out[key] = value
    return out


def _resolve(node: Schema, defs: Schema) -> Schema:
    """Inline a ``$ref`` (siblings such as a field's description win over the target's)."""
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        node = {**defs[name], **siblings}
    return node


def _convert(node: Schema, defs: Schema, depth: int) -> Schema:
    if depth > 64:
        raise ValueError("schema nesting too deep (recursive model?)")
    node = _resolve(node, defs)
    if "allOf" in node:
        parts = node["allOf"]
        if len(parts) != 1:
            raise ValueError("allOf with several schemas cannot be made structural")
        rest = {k: v for k, v in node.items() if k != "allOf"}
        return _convert({**_resolve(parts[0], defs), **rest}, defs, depth + 1)
    for combinator in _COMBINATORS:
        if combinator in node:
            return _convert_union(node, combinator, defs, depth)
    return _convert_plain(node, defs, depth)


def _convert_union(node: Schema, combinator: str, defs: Schema, depth: int) -> Schema:
    """``X | None`` becomes X (not required, nullable only if marked); ``int | str`` is int-or-string."""
    rest = {k: v for k, v in node.items() if k != combinator}
    variants = [_resolve(v, defs) for v in node[combinator]]
    non_null = [v for v in variants if v.get("type") != "null"]
    has_null = len(non_null) < len(variants)
    if len(non_null) == 1:
        out = _convert({**non_null[0], **rest}, defs, depth + 1)
    elif {v.get("type") for v in non_null} == {"integer", "string"}:
        out = _convert_plain({k: v for k, v in rest.items() if k != NULLABLE_MARKER}, defs, depth)
        out.pop("type", None)
        out.pop("x-kubernetes-preserve-unknown-fields", None)
        out["x-kubernetes-int-or-string"] = True
    elif all("enum" in v for v in non_null):
        merged = [item for v in non_null for item in v["enum"]]
        out = _convert({**rest, "type": "string", "enum": merged}, defs, depth + 1)
    else:
        out = _convert_plain(rest, defs, depth)
        out.pop("type", None)
        out["x-kubernetes-preserve-unknown-fields"] = True
    if has_null and rest.get(NULLABLE_MARKER):
        out["nullable"] = True
    if out.get("default", 0) is None:
        del out["default"]
    return out


def _convert_plain(node: Schema, defs: Schema, depth: int) -> Schema:
    out: Schema = {k: v for k, v in node.items() if k in _KEEP or k.startswith("x-kubernetes-")}
    if "const" in node:
        out["enum"] = [node["const"]]
    if "enum" in out and node.get("type", "string") == "string":
        out["type"] = "string"
        out.setdefault("maxLength", max(len(str(v)) for v in out["enum"]))
    if node.get("format") in _FORMATS:
        out["format"] = node["format"]
    for bound, flag in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if bound in node and not isinstance(node[bound], bool):
            out[flag] = node[bound]
            out[bound] = True
    if out.get("default", 0) is None:
        del out["default"]
    if "properties" in node:
        out["type"] = "object"
        out["properties"] = {name: _convert(sub, defs, depth + 1) for name, sub in node["properties"].items()}
        if node.get("required"):
            out["required"] = list(node["required"])
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and "properties" not in node:
        converted = _convert(extra, defs, depth + 1)
        if converted == {"x-kubernetes-preserve-unknown-fields": True}:
            out["x-kubernetes-preserve-unknown-fields"] = True
        else:
            out["additionalProperties"] = converted
        out["type"] = "object"
    elif extra is True and "properties" not in node:
        out["type"] = "object"
        out["x-kubernetes-preserve-unknown-fields"] = True
    if "items" in node:
        out["type"] = "array"
        out["items"] = _convert(node["items"], defs, depth + 1)
    has_shape = "type" in out or out.get("x-kubernetes-int-or-string")
    if not has_shape:
        out["x-kubernetes-preserve-unknown-fields"] = True
    return out
