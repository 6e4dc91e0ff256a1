"""Server-side printing: the ``meta.k8s.io/v1`` Table that ``kubectl get`` asks for.

CRDs print their ``additionalPrinterColumns`` (JSONPath subset, typed cells, dates as ages like
the apiserver's ``ConvertToHumanReadableDateType``); a few built-ins get their familiar columns;
everything else gets Name and Age.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any

from . import jsonpath
from .builtin import ResourceType

__all__ = ["human_duration", "to_table"]

Column = tuple[str, str, Callable[[dict[str, Any]], Any]]  # (name, type, cell)


def human_duration(seconds: float) -> str:
    """apimachinery's ``duration.HumanDuration``."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    years, days = hours // 24 // 365, (hours // 24) % 365
    if hours < 24 * 365 * 8:
        return f"{years}y" if days == 0 else f"{years}y{days}d"
    return f"{years}y"


def _age(value: Any) -> str:
    if not isinstance(value, str) or not value:
        return "<unknown>"
    try:
        then = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return "<invalid>"
    return human_duration((datetime.datetime.now(datetime.UTC) - then).total_seconds())


def _path(obj: dict[str, Any], *keys: str) -> Any:
    node: Any = obj
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _name(obj: dict[str, Any]) -> Any:
    return _path(obj, "metadata", "name")


def _created(obj: dict[str, Any]) -> Any:
    return _age(_path(obj, "metadata", "creationTimestamp"))


def _pod_status(obj: dict[str, Any]) -> str:
    if _path(obj, "metadata", "deletionTimestamp"):
        return "Terminating"
    for status in _path(obj, "status", "containerStatuses") or []:
        waiting = _path(status, "state", "waiting", "reason") or _path(
            status, "state", "terminated", "reason"
        )
        if waiting and waiting not in ("Completed",):
            return str(waiting)
    return str(_path(obj, "status", "reason") or _path(obj, "status", "phase") or "Pending")


def _job_status(obj: dict[str, Any]) -> str:
    for condition in _path(obj, "status", "conditions") or []:
        if condition.get("status") == "True" and condition.get("type") in ("Complete", "Failed", "Suspended"):
            return str(condition["type"])
    return "Running"


def _ports(obj: dict[str, Any]) -> str:
    ports = _path(obj, "spec", "ports") or []
    return ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>"


_AGE: Column = ("Age", "string", _created)
_BUILTIN_COLUMNS: dict[str, list[Column]] = {
    "pods.": [
        (
            "Ready",
            "string",
            lambda o: "{}/{}".format(
                sum(1 for s in _path(o, "status", "containerStatuses") or [] if s.get("ready")),
                len(_path(o, "spec", "containers") or []),
            ),
        ),
        ("Status", "string", _pod_status),
        (
            "Restarts",
            "string",
            lambda o: str(
                sum(int(s.get("restartCount", 0)) for s in _path(o, "status", "containerStatuses") or [])
            ),
        ),
        _AGE,
    ],
    "deployments.apps": [
        (
            "Ready",
            "string",
            lambda o: f"{_path(o, 'status', 'readyReplicas') or 0}/{_path(o, 'spec', 'replicas') or 0}",
        ),
        ("Up-to-date", "integer", lambda o: _path(o, "status", "updatedReplicas") or 0),
        ("Available", "integer", lambda o: _path(o, "status", "availableReplicas") or 0),
        _AGE,
    ],
    "jobs.batch": [
        ("Status", "string", _job_status),
        (
            "Completions",
            "string",
            lambda o: f"{_path(o, 'status', 'succeeded') or 0}/{_path(o, 'spec', 'completions') or 1}",
        ),
        _AGE,
    ],
    "services.": [
        ("Type", "string", lambda o: _path(o, "spec", "type") or "ClusterIP"),
        ("Cluster-IP", "string", lambda o: _path(o, "spec", "clusterIP") or "<none>"),
        ("External-IP", "string", lambda o: "<none>"),
        ("Port(s)", "string", _ports),
        _AGE,
    ],
    "namespaces.": [("Status", "string", lambda o: _path(o, "status", "phase") or "Active"), _AGE],
    "configmaps.": [
        ("Data", "integer", lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {})),
        _AGE,
    ],
    "secrets.": [
        ("Type", "string", lambda o: o.get("type", "Opaque")),
        ("Data", "integer", lambda o: len(o.get("data") or {})),
        _AGE,
    ],
    "events.": [
        (
            "Last Seen",
            "string",
            lambda o: _age(
                o.get("lastTimestamp") or o.get("eventTime") or _path(o, "metadata", "creationTimestamp")
            ),
        ),
        ("Type", "string", lambda o: o.get("type", "")),
        ("Reason", "string", lambda o: o.get("reason", "")),
        (
            "Object",
            "string",
            lambda o: "{}/{}".format(
                str(_path(o, "involvedObject", "kind") or "").lower(),
                _path(o, "involvedObject", "name") or "",
            ),
        ),
        ("Message", "string", lambda o: o.get("message", "")),
    ],
    "customresourcedefinitions.apiextensions.k8s.io": [
        ("Created At", "date", lambda o: _path(o, "metadata", "creationTimestamp")),
    ],
}


def _typed_cell(kind: str, value: Any) -> Any:
    """``cellForJSONValue``: a value of the wrong type prints as empty."""
    if value is None:
        return None
    if kind == "date":
        return _age(value)
    if kind == "integer":
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if kind == "number":
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    return value if isinstance(value, str) else json.dumps(value)


def _crd_column(column: dict[str, Any]) -> Column:
    steps = jsonpath.parse(str(column.get("jsonPath", "")))
    kind = str(column.get("type", "string"))

    def cell(obj: dict[str, Any]) -> Any:
        values = jsonpath.find(obj, steps)
        if not values:
            return None
        if len(values) == 1:
            return _typed_cell(kind, values[0])
        return ",".join(v if isinstance(v, str) else json.dumps(v) for v in values)

    return (str(column.get("name", "")), kind, cell)


def _columns(rt: ResourceType) -> tuple[list[Column], list[dict[str, Any]]]:
    if rt.custom:
        declared = list(rt.printer_columns) or [
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
        ]
        columns = [_crd_column(c) for c in declared]
        extra = [
            {"description": c.get("description", ""), "priority": c.get("priority", 0)} for c in declared
        ]
        return columns, extra
    columns = _BUILTIN_COLUMNS.get(rt.storage_key, [_AGE])
    return columns, [{"description": "", "priority": 0} for _ in columns]


def to_table(
    rt: ResourceType, objects: list[dict[str, Any]], include_object: str, list_meta: dict[str, Any]
) -> dict[str, Any]:
    """A Table of ``objects``; rows carry the full object, its metadata only, or nothing."""
    columns, extra = _columns(rt)
    definitions = [
        {
            "name": "Name",
            "type": "string",
            "format": "name",
            "description": "Name must be unique within a namespace.",
            "priority": 0,
        }
    ]
    for (name, kind, _), more in zip(columns, extra, strict=True):
        definitions.append({"name": name, "type": kind, "format": "", **more})
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": [_name(obj)] + [cell(obj) for _, _, cell in columns]}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj.get("metadata", {}),
            }
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": definitions,
        "rows": rows,
    }
