"""Checks that a generated schema is one the Kubernetes API server accepts and can cost-estimate."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["FORBIDDEN_KEYS", "structural_problems", "unbounded_nodes", "walk"]

Schema = dict[str, Any]
FORBIDDEN_KEYS = frozenset({"anyOf", "oneOf", "allOf", "not", "$ref", "$defs", "const", "title", "$schema"})


def walk(schema: Schema, path: str = "") -> Iterator[tuple[str, Schema]]:
    """Yield ``(dotted path, node)`` for every schema node; list items get a ``[]`` suffix."""
    yield path, schema
    for name, sub in schema.get("properties", {}).items():
        yield from walk(sub, f"{path}.{name}" if path else name)
    if isinstance(schema.get("items"), dict):
        yield from walk(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from walk(schema["additionalProperties"], f"{path}{{}}")


def _typed(node: Schema) -> bool:
    return bool(
        node.get("type")
        or node.get("x-kubernetes-int-or-string")
        or node.get("x-kubernetes-preserve-unknown-fields")
    )


def structural_problems(schema: Schema) -> list[str]:
    """Return every violation of the structural-schema rules we rely on (empty means fine)."""
    problems: list[str] = []
    for path, node in walk(schema):
        where = path or "<root>"
        for key in FORBIDDEN_KEYS & node.keys():
            problems.append(f"{where}: forbidden keyword {key}")
        if not _typed(node):
            problems.append(f"{where}: no type")
        if node.get("uniqueItems"):
            problems.append(f"{where}: uniqueItems is not allowed")
        if "properties" in node and "additionalProperties" in node:
            problems.append(f"{where}: properties and additionalProperties are exclusive")
        for name, sub in node.get("properties", {}).items():
            if not sub.get("description") and not (path == "" and name in ("apiVersion", "kind", "metadata")):
                problems.append(f"{where}.{name}: no description")
    return problems


def _unbounded(node: Schema) -> bool:
    kind = node.get("type")
    if kind == "string":
        return not ({"maxLength", "enum", "format"} & node.keys())
    if kind == "array":
        return "maxItems" not in node
    if kind == "object":
        return "properties" not in node and "maxProperties" not in node
    return False


def unbounded_nodes(schema: Schema) -> list[str]:
    """Strings without maxLength, lists without maxItems, maps without maxProperties.

    The API server's CEL cost estimator multiplies by these bounds; unbounded nodes under a rule
    (such as ``self == oldSelf`` on a whole spec) can push a rule over the cost limit.
    """
    return [path for path, node in walk(schema) if _unbounded(node)]
