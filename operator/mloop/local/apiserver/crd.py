"""CustomResourceDefinition admission: the checks and the status a real apiextensions server sets.

The status is filled synchronously on write (``Established`` and ``NamesAccepted`` are ``True``
at once), where a real cluster takes a moment; clients that wait for Established still work.
"""

from __future__ import annotations

from typing import Any

from .errors import invalid
from .objects import now_rfc3339
from .registry import accepted_names

__all__ = ["CLEANUP_FINALIZER", "crd_status", "validate_crd"]

CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


def validate_crd(crd: dict[str, Any]) -> None:
    """The structural checks kubectl users hit first; raises a 422 naming the field."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    name = str(crd.get("metadata", {}).get("name", ""))
    errors: list[tuple[str, str, str]] = []
    for field, value in (
        ("spec.group", spec.get("group")),
        ("spec.names.plural", names.get("plural")),
        ("spec.names.kind", names.get("kind")),
    ):
        if not value:
            errors.append(("FieldValueRequired", field, f"{field}: Required value"))
    scope = spec.get("scope")
    if scope not in ("Namespaced", "Cluster"):
        errors.append(
            (
                "FieldValueNotSupported",
                "spec.scope",
                f'spec.scope: Unsupported value: "{scope or ""}": supported values: "Cluster", "Namespaced"',
            )
        )
    versions = spec.get("versions") or []
    if not versions:
        errors.append(
            (
                "FieldValueInvalid",
                "spec.versions",
                'spec.versions: Invalid value: "null": '
                "must have exactly one version marked as storage version",
            )
        )
    elif sum(1 for v in versions if v.get("storage")) != 1:
        errors.append(
            (
                "FieldValueInvalid",
                "spec.versions",
                "spec.versions: Invalid value: must have exactly one version marked as storage version",
            )
        )
    expected = f"{names.get('plural')}.{spec.get('group')}"
    if not errors and name != expected:
        errors.append(
            (
                "FieldValueInvalid",
                "metadata.name",
                f'metadata.name: Invalid value: "{name}": must be spec.names.plural+"."+spec.group',
            )
        )
    if errors:
        raise invalid("CustomResourceDefinition", "apiextensions.k8s.io", name, errors)


def crd_status(crd: dict[str, Any], old_status: dict[str, Any] | None) -> dict[str, Any]:
    """``status`` of an accepted, established CRD (transition times kept across writes)."""
    old_conditions = {c.get("type"): c for c in (old_status or {}).get("conditions") or []}
    now = now_rfc3339()

    def condition(kind: str, reason: str, message: str) -> dict[str, Any]:
        previous = old_conditions.get(kind) or {}
        return {
            "type": kind,
            "status": "True",
            "lastTransitionTime": previous.get("lastTransitionTime", now),
            "reason": reason,
            "message": message,
        }

    versions = crd.get("spec", {}).get("versions") or []
    stored = list((old_status or {}).get("storedVersions") or [])
    for version in versions:
        if version.get("storage") and version.get("name") not in stored:
            stored.append(version.get("name"))
    return {
        "acceptedNames": accepted_names(crd),
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "storedVersions": stored,
    }
