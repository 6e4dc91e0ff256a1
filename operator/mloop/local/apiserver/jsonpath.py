"""The JSONPath subset CRD printer columns use: ``.a.b``, ``['a.b']``, ``[0]``, ``[*]``, ``[?(@.k=="v")]``.

Enough for ``.spec.problem.task`` and ``.status.conditions[?(@.type=="Ready")].status``; the
full kubectl JSONPath (templates, ranges, recursive descent) is out of scope.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["JsonPathError", "find", "parse"]


class JsonPathError(ValueError):
    """An expression outside the supported subset."""


_FILTER_RE = re.compile(
    r"""^\?\(@((?:\.[A-Za-z0-9_\-]+)+)\s*(==|!=)\s*(?:"([^"]*)"|'([^']*)'|([^)\s]+))\)$"""
)

Step = tuple[str, Any]  # ("key", name) | ("index", n) | ("all", None) | ("filter", (path, equal, value))


def parse(expression: str) -> list[Step]:
    """Parse an expression (with or without ``{}`` around it) into steps."""
    text = expression.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    text = text.removeprefix("$")
    steps: list[Step] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == ".":
            match = re.match(r"[A-Za-z0-9_\-]+", text[i + 1 :])
            if not match:
                if text[i + 1 : i + 2] in ("", "["):
                    i += 1
                    continue
                raise JsonPathError(f"unexpected character at {i + 1} in {expression!r}")
            steps.append(("key", match.group(0)))
            i += 1 + len(match.group(0))
        elif char == "[":
            end = _closing(text, i)
            inner = text[i + 1 : end].strip()
            steps.append(_bracket(inner, expression))
            i = end + 1
        else:
            raise JsonPathError(f"unexpected character {char!r} in {expression!r}")
    return steps


def _closing(text: str, start: int) -> int:
    depth = 0
    quote = ""
    for j in range(start, len(text)):
        char = text[j]
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                return j
    raise JsonPathError(f"unclosed bracket in {text!r}")


def _bracket(inner: str, expression: str) -> Step:
    if inner == "*":
        return ("all", None)
    if re.fullmatch(r"-?\d+", inner):
        return ("index", int(inner))
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "\"'":
        return ("key", inner[1:-1])
    if match := _FILTER_RE.match(inner):
        path = match.group(1)[1:].split(".")
        value = next(v for v in match.groups()[2:] if v is not None)
        return ("filter", (path, match.group(2) == "==", value))
    raise JsonPathError(f"unsupported JSONPath element [{inner}] in {expression!r}")


def _field(node: Any, path: list[str]) -> Any:
    for part in path:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def find(obj: Any, expression: str | list[Step]) -> list[Any]:
    """All values the expression selects (missing paths select nothing)."""
    steps = parse(expression) if isinstance(expression, str) else expression
    nodes = [obj]
    for kind, arg in steps:
        selected: list[Any] = []
        for node in nodes:
            if (kind == "key" and isinstance(node, dict) and arg in node) or (
                kind == "index" and isinstance(node, list) and -len(node) <= arg < len(node)
            ):
                selected.append(node[arg])
            elif kind == "all" and isinstance(node, list):
                selected.extend(node)
            elif kind == "all" and isinstance(node, dict):
                selected.extend(node.values())
            elif kind == "filter" and isinstance(node, list):
                path, equal, value = arg
                selected.extend(
                    item
                    for item in node
                    if (_as_text(_field(item, path)) == value) == equal and _field(item, path) is not None
                )
        nodes = selected
    return nodes
