"""The bridge to ``validation.py`` (structural schema + CEL): imported lazily so importing the
emulator does not pay for cel-python until the first custom resource is written, plus the
``fieldValidation=Strict`` check (which fields pruning would drop).
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol, cast

__all__ = ["FieldErrorLike", "apply_defaults_and_prune", "unknown_fields", "validate_object"]


class FieldErrorLike(Protocol):
    """What the server reads from a field error (``validation.FieldError``)."""

    path: str
    type: str
    message: str


class _Module(Protocol):
    def validate_object(
        self, schema: dict[str, Any], obj: dict[str, Any], old_obj: dict[str, Any] | None
    ) -> list[FieldErrorLike]: ...

    def apply_defaults_and_prune(self, schema: dict[str, Any], obj: dict[str, Any]) -> dict[str, Any]: ...


def _module() -> _Module:
    return cast(_Module, importlib.import_module("mloop.local.apiserver.validation"))


def validate_object(
    schema: dict[str, Any], obj: dict[str, Any], old_obj: dict[str, Any] | None
) -> list[FieldErrorLike]:
    """Field errors of ``obj`` against the version's ``openAPIV3Schema`` (empty when valid)."""
    return _module().validate_object(schema, obj, old_obj)


def apply_defaults_and_prune(schema: dict[str, Any], obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with schema defaults applied and unknown fields dropped."""
    return _module().apply_defaults_and_prune(schema, obj)


def unknown_fields(before: Any, after: Any, path: str = "") -> list[str]:
    """Paths present in ``before`` but pruned from ``after`` (``unknown field "spec.x"`` errors)."""
    if not isinstance(before, dict) or not isinstance(after, dict):
        if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
            return [
                p
                for i, (b, a) in enumerate(zip(before, after, strict=True))
                for p in unknown_fields(b, a, f"{path}[{i}]")
            ]
        return []
    found: list[str] = []
    for key, value in before.items():
        child = f"{path}.{key}" if path else key
        if key not in after:
            found.append(child)
        else:
            found.extend(unknown_fields(value, after[key], child))
    return found
