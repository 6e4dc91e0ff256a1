"""Version conversion between a request's resource type and the shared storage form.

CRD versions share storage with the ``None`` strategy (only ``apiVersion`` changes, as on a real
server without a conversion webhook). ``events.k8s.io/v1`` Events are the core/v1 Events under
other field names; the renames below are the apiserver's mapping.
"""

from __future__ import annotations

import copy
from typing import Any

from .builtin import ResourceType

__all__ = ["from_storage", "to_storage"]

# events.k8s.io/v1 field → core/v1 field
_EVENT_FIELDS = {
    "regarding": "involvedObject",
    "note": "message",
    "deprecatedCount": "count",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedSource": "source",
    "reportingController": "reportingComponent",
}


def _is_events_v1(rt: ResourceType) -> bool:
    return rt.group == "events.k8s.io"


def to_storage(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    """The stored form of a request body (core/v1 field names for events)."""
    if not _is_events_v1(rt):
        return obj
    result = {_EVENT_FIELDS.get(key, key): value for key, value in obj.items()}
    result["apiVersion"], result["kind"] = "v1", "Event"
    return result


def from_storage(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    """A stored object as the requested type shows it (a copy; callers may mutate it)."""
    result = copy.deepcopy(obj)
    if _is_events_v1(rt):
        reverse = {core: new for new, core in _EVENT_FIELDS.items()}
        result = {reverse.get(key, key): value for key, value in result.items()}
    result["apiVersion"] = rt.api_version
    result["kind"] = rt.kind
    return result
