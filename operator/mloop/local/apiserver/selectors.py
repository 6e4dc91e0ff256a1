"""Label and field selectors, parsed once per request and matched against stored objects.

Grammar as in apimachinery: requirements separated by commas (commas inside ``in (...)`` belong to
the set). Label operators ``=``, ``==``, ``!=``, ``in``, ``notin``, existence ``key`` / ``!key`` and
``gt``/``lt`` (``key>3``). Field selectors support ``=``, ``==``, ``!=`` on any dotted path (a real
server allows only a per-resource list; accepting more is harmless for tests).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FieldSelector",
    "LabelSelector",
    "SelectorError",
    "selector_from_label_selector",
]


class SelectorError(ValueError):
    """An unparsable selector (answered as 400 Bad Request)."""


@dataclass(frozen=True)
class _Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!exists", "gt", "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!exists":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        if not present or value is None:
            return False
        try:
            number, bound = int(value), int(self.values[0])
        except ValueError:
            return False
        return number > bound if self.op == "gt" else number < bound


def _split_requirements(text: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    current = ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [part.strip() for part in parts if part.strip()]


_SET_RE = re.compile(r"^([^\s!=<>()]+)\s+(in|notin)\s*\((.*)\)$")
_OP_RE = re.compile(r"^([^\s!=<>()]+)\s*(==|!=|=|>|<)\s*([^\s()]*)$")
_KEY_RE = re.compile(r"^(!?)\s*([^\s!=<>(),]+)$")


def _parse_requirement(text: str) -> _Requirement:
    if match := _SET_RE.match(text):
        values = tuple(v.strip() for v in match.group(3).split(",") if v.strip())
        return _Requirement(match.group(1), match.group(2), values)
    if match := _OP_RE.match(text):
        key, op, value = match.groups()
        if op in (">", "<"):
            if not value.lstrip("-").isdigit():
                raise SelectorError(
                    f"for 'gt', 'lt' operators, exactly one integer value is required: {text}"
                )
            return _Requirement(key, "gt" if op == ">" else "lt", (value,))
        return _Requirement(key, "!=" if op == "!=" else "=", (value,))
    if match := _KEY_RE.match(text):
        return _Requirement(match.group(2), "!exists" if match.group(1) else "exists")
    raise SelectorError(f"unable to parse requirement: {text!r}")


@dataclass(frozen=True)
class LabelSelector:
    """A parsed ``labelSelector`` query parameter; the empty selector matches everything."""

    requirements: tuple[_Requirement, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> LabelSelector:
        """Parse ``app=x,tier in (a,b),!legacy``."""
        if not text:
            return cls()
        return cls(tuple(_parse_requirement(part) for part in _split_requirements(text)))

    def matches(self, obj: dict[str, Any]) -> bool:
        """Whether the object's ``metadata.labels`` satisfy every requirement."""
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(req.matches(labels) for req in self.requirements)


def _lookup(obj: dict[str, Any], path: str) -> str:
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, dict):
            return ""
        node = node.get(part)
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


@dataclass(frozen=True)
class FieldSelector:
    """A parsed ``fieldSelector``: ``metadata.name=x,status.phase!=Running``."""

    terms: tuple[tuple[str, bool, str], ...] = ()  # (path, equal, value)

    @classmethod
    def parse(cls, text: str | None) -> FieldSelector:
        """Parse the query parameter; raises ``SelectorError`` on anything but (in)equalities."""
        if not text:
            return cls()
        terms: list[tuple[str, bool, str]] = []
        for part in _split_requirements(text):
            match = re.match(r"^([A-Za-z0-9_.\-]+)\s*(==|!=|=)\s*(.*)$", part)
            if not match:
                raise SelectorError(f"invalid selector: {part!r}; can't understand {part!r}")
            path, op, value = match.groups()
            terms.append((path, op != "!=", value.strip()))
        return cls(tuple(terms))

    def matches(self, obj: dict[str, Any]) -> bool:
        """Whether every term holds for the object."""
        return all((_lookup(obj, path) == value) == equal for path, equal, value in self.terms)


def selector_from_label_selector(selector: dict[str, Any] | None) -> str:
    """Render a ``metav1.LabelSelector`` (matchLabels/matchExpressions) as its query string form."""
    if not selector:
        return ""
    parts = [f"{key}={value}" for key, value in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key", ""), expr.get("operator", ""), expr.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)
