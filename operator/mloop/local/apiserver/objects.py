"""Object-level semantics that do not depend on the store: metadata on create, what an update may
change (status subresource separation, immutable metadata), when ``generation`` moves, and the few
server-side defaults of built-ins that controllers rely on.
"""

from __future__ import annotations

import base64
import copy
import datetime
import re
import secrets
import uuid
from typing import Any

from .builtin import ResourceType
from .errors import ApiError, bad_request, invalid

__all__ = [
    "apply_update",
    "generate_name",
    "now_rfc3339",
    "prepare_create",
    "spec_changed",
    "validate_metadata",
]

_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_NAME_HINT = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation "
    "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
# Metadata the server owns: a client's update can never change these.
_SERVER_METADATA = (
    "uid",
    "creationTimestamp",
    "name",
    "namespace",
    "generation",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generateName",
)


def now_rfc3339() -> str:
    """Kubernetes timestamps: RFC 3339 in UTC with second precision and a ``Z``."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def generate_name(prefix: str) -> str:
    """``generateName`` plus five random characters from the apiserver's alphabet."""
    return prefix + "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(5))


def validate_metadata(rt: ResourceType, obj: dict[str, Any]) -> None:
    """Name rules every resource shares; raises a 422 like the apiserver."""
    meta = obj.get("metadata", {})
    name = meta.get("name", "")
    errors: list[tuple[str, str, str]] = []
    if not name:
        errors.append(
            (
                "FieldValueRequired",
                "metadata.name",
                "metadata.name: Required value: name or generateName is required",
            )
        )
    elif rt.plural == "namespaces" and (len(name) > 63 or not _LABEL_NAME_RE.match(name)):
        hint = _NAME_HINT.replace("RFC 1123 subdomain", "RFC 1123 label").replace("or '.', ", "")
        errors.append(
            ("FieldValueInvalid", "metadata.name", f'metadata.name: Invalid value: "{name}": {hint}')
        )
    elif len(name) > 253 or not _NAME_RE.match(name):
        errors.append(
            ("FieldValueInvalid", "metadata.name", f'metadata.name: Invalid value: "{name}": {_NAME_HINT}')
        )
    if errors:
        raise invalid(rt.kind, rt.group, name, errors)


def _defaults(rt: ResourceType, obj: dict[str, Any]) -> None:
    """Server-side defaults of built-ins that controllers and the pod runner read."""
    spec = obj.setdefault("spec", {}) if rt.plural in ("deployments", "replicasets", "jobs") else None
    meta = obj["metadata"]
    if rt.group == "" and rt.plural == "namespaces":
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj["status"] = {"phase": "Active"}
    elif rt.group == "" and rt.plural == "pods":
        obj["status"] = {"phase": "Pending"}
    elif rt.group == "" and rt.plural == "secrets":
        _fold_string_data(obj)
        obj["type"] = obj.get("type") or "Opaque"
    elif spec is not None and rt.plural in ("deployments", "replicasets"):
        spec.setdefault("replicas", 1)
    elif spec is not None and rt.plural == "jobs":
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completions", 1)
        spec.setdefault("parallelism", 1)
        if not spec.get("manualSelector"):
            labels = {"batch.kubernetes.io/controller-uid": meta["uid"]}
            spec.setdefault("selector", {"matchLabels": labels})
            template_labels = (
                spec.setdefault("template", {}).setdefault("metadata", {}).setdefault("labels", {})
            )
            template_labels.update(
                {
                    **labels,
                    "batch.kubernetes.io/job-name": meta["name"],
                    "controller-uid": meta["uid"],
                    "job-name": meta["name"],
                }
            )


def _fold_string_data(obj: dict[str, Any]) -> None:
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict):
        data = obj.setdefault("data", {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def prepare_create(rt: ResourceType, obj: dict[str, Any], namespace: str | None) -> dict[str, Any]:
    """A new object as the store will keep it (before ``resourceVersion`` is assigned)."""
    obj = copy.deepcopy(obj)
    obj["apiVersion"] = rt.api_version
    obj["kind"] = rt.kind
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise bad_request("metadata must be an object")
    if rt.namespaced:
        body_ns = meta.get("namespace")
        if body_ns and namespace and body_ns != namespace:
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        meta["namespace"] = namespace or body_ns or "default"
    else:
        meta.pop("namespace", None)
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = generate_name(str(meta["generateName"]))
    for key in ("uid", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields"):
        meta.pop(key, None)
    meta["uid"] = str(uuid.uuid4())
    meta["creationTimestamp"] = now_rfc3339()
    if rt.generation:
        meta["generation"] = 1
    else:
        meta.pop("generation", None)
    if rt.has_status:
        obj.pop("status", None)
    validate_metadata(rt, obj)
    _defaults(rt, obj)
    return obj


def spec_changed(rt: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether a write changes what ``generation`` counts: all but metadata (and status, if separate)."""
    ignored = {"metadata", "status"} if rt.has_status else {"metadata"}
    if not rt.custom:
        ignored = {"metadata", "status"}
    keys = (set(old) | set(new)) - ignored
    return any(old.get(key) != new.get(key) for key in keys)


def apply_update(
    rt: ResourceType, old: dict[str, Any], new: dict[str, Any], subresource: str | None
) -> dict[str, Any]:
    """The object after a write to the main resource or to ``/status``, before validation.

    Main writes keep the stored status when ``/status`` is separate; ``/status`` writes keep all but
    the status. Server-owned metadata is restored; ``generation`` moves when ``spec_changed``.
    """
    new = copy.deepcopy(new)
    if subresource == "status":
        result = copy.deepcopy(old)
        if "status" in new:
            result["status"] = new["status"]
        else:
            result.pop("status", None)
        new_meta = new.get("metadata") or {}
        if "resourceVersion" in new_meta:
            result["metadata"]["resourceVersion"] = new_meta["resourceVersion"]
        return result
    new["apiVersion"] = rt.api_version
    new["kind"] = rt.kind
    meta = new.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise bad_request("metadata must be an object")
    body_name = meta.get("name")
    if body_name and body_name != old["metadata"]["name"]:
        raise bad_request(
            f"the name of the object ({body_name}) does not match the name on the URL "
            f"({old['metadata']['name']})"
        )
    for key in _SERVER_METADATA:
        if key in old["metadata"]:
            meta[key] = old["metadata"][key]
        else:
            meta.pop(key, None)
    meta.pop("managedFields", None)
    if rt.has_status:
        if "status" in old:
            new["status"] = copy.deepcopy(old["status"])
        else:
            new.pop("status", None)
    if rt.group == "" and rt.plural == "secrets":
        _fold_string_data(new)
    if old["metadata"].get("deletionTimestamp"):
        added = set(meta.get("finalizers") or []) - set(old["metadata"].get("finalizers") or [])
        if added:
            found = ", ".join(f'"{f}"' for f in sorted(added))
            message = (
                "metadata.finalizers: Forbidden: "
                "no new finalizers can be added if the object is being deleted, "
                f"found new finalizers []string{{{found}}}"
            )
            raise invalid(
                rt.kind,
                rt.group,
                old["metadata"]["name"],
                [("FieldValueForbidden", "metadata.finalizers", message)],
            )
    if rt.generation and spec_changed(rt, old, new):
        meta["generation"] = int(old["metadata"].get("generation", 1)) + 1
    return new


def check_kind(rt: ResourceType, obj: dict[str, Any]) -> None:
    """A body whose ``kind`` names another type is a client bug the apiserver refuses."""
    kind = obj.get("kind")
    if kind and kind != rt.kind:
        raise ApiError(
            400, f"the kind of the provided object ({kind}) does not match the resource ({rt.kind})"
        )
