"""Discovery documents: ``/version``, ``/api``, ``/apis``, per group-version resource lists, and the
OpenAPI documents kubectl fetches before ``apply``/``explain``.

Aggregated discovery (``as=APIGroupDiscoveryList``) is not offered: answering with the plain
``APIGroupList`` makes client-go fall back to the per-group-version documents, which kubectl 1.32
does. OpenAPI v2 is an empty protobuf ``Document`` (kubectl then skips client-side schema checks);
OpenAPI v3 holds one document per group-version, built from CRD schemas, so ``kubectl explain``
works for custom resources and kubectl sends ``fieldValidation`` to the server.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from .builtin import ResourceType
from .registry import Registry

__all__ = [
    "api_group",
    "api_group_list",
    "api_resource_list",
    "api_versions",
    "openapi_v3_document",
    "openapi_v3_index",
    "version_info",
]

KUBERNETES_VERSION = "v1.32.0"


def version_info() -> dict[str, str]:
    """``/version``: what ``kubectl version`` and kopf's startup read."""
    return {
        "major": "1",
        "minor": "32",
        "gitVersion": f"{KUBERNETES_VERSION}-mloop-emulator",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def api_versions(server_address: str) -> dict[str, Any]:
    """``/api``: the legacy core group has a single version."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _version_priority(version: str) -> tuple[int, int, int]:
    """Kubernetes version ordering: GA before beta before alpha, higher numbers first."""
    match = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not match:
        return (3, 0, 0)
    major, stage, minor = int(match.group(1)), match.group(2), int(match.group(3) or 0)
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -major, -minor)


def _group_entry(group: str, versions: list[str]) -> dict[str, Any]:
    ordered = sorted(versions, key=_version_priority)
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in ordered]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(registry: Registry) -> dict[str, Any]:
    """``/apis``: every non-core group, CRD groups included."""
    groups = [_group_entry(g, vs) for g, vs in registry.groups().items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(registry: Registry, group: str) -> dict[str, Any] | None:
    """``/apis/<group>``."""
    versions = registry.groups().get(group)
    if not group or not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(group, versions)}


def _subresource_entries(rt: ResourceType) -> list[dict[str, Any]]:
    entries = []
    for sub in rt.subresources:
        entry: dict[str, Any] = {
            "name": f"{rt.plural}/{sub}",
            "singularName": "",
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": ["get", "patch", "update"],
        }
        if sub == "scale":
            entry.update(group="autoscaling", version="v1", kind="Scale")
        elif sub == "log":
            entry.update(verbs=["get"])
        elif sub == "finalize":
            entry.update(verbs=["update"])
        entries.append(entry)
    return entries


def api_resource_list(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    """``/api/v1`` or ``/apis/<group>/<version>``: resources with kinds, scope, verbs and short names."""
    types = [rt for rt in registry.all() if rt.group == group and rt.version == version]
    if not types:
        return None
    resources: list[dict[str, Any]] = []
    for rt in types:
        entry: dict[str, Any] = {
            "name": rt.plural,
            "singularName": rt.singular_name,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": list(rt.verbs),
            "storageVersionHash": hashlib.sha256(rt.storage_key.encode()).hexdigest()[:12],
        }
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        resources.append(entry)
        resources.extend(_subresource_entries(rt))
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


def _group_version_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def _doc_hash(registry: Registry, group: str, version: str) -> str:
    types = [rt for rt in registry.all() if rt.group == group and rt.version == version]
    payload = json.dumps([[rt.plural, rt.schema] for rt in types], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:32].upper()


def openapi_v3_index(registry: Registry) -> dict[str, Any]:
    """``/openapi/v3``: one entry per group-version, with a hash that changes with the schemas."""
    paths = {}
    for group, versions in registry.groups().items():
        for version in versions:
            path = _group_version_path(group, version)
            paths[path] = {
                "serverRelativeURL": f"/openapi/v3/{path}?hash={_doc_hash(registry, group, version)}"
            }
    return {"paths": paths}


def _definition_name(rt: ResourceType) -> str:
    reversed_group = ".".join(reversed(rt.group.split("."))) if rt.group else "io.k8s.api.core"
    return f"{reversed_group}.{rt.version}.{rt.kind}"


_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def openapi_v3_document(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    """An OpenAPI v3 document for a group-version: CRD schemas with their GVK, and PATCH paths that
    declare ``fieldValidation`` so kubectl validates on the server instead of needing v2 schemas.
    """
    types = [rt for rt in registry.all() if rt.group == group and rt.version == version]
    if not types:
        return None
    schemas: dict[str, Any] = {
        _OBJECT_META: {
            "type": "object",
            "description": "ObjectMeta is metadata that all persisted resources must have.",
            "properties": {
                "name": {"type": "string", "description": "Name must be unique within a namespace."},
                "namespace": {
                    "type": "string",
                    "description": "Namespace defines the space within which each name must be unique.",
                },
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        }
    }
    paths: dict[str, Any] = {}
    params = [
        {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
        for name in ("dryRun", "fieldManager", "fieldValidation")
    ]
    for rt in types:
        name = _definition_name(rt)
        schema: dict[str, Any] = (
            dict(rt.schema) if rt.schema else {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        )
        properties = dict(schema.get("properties") or {})
        properties["metadata"] = {"allOf": [{"$ref": f"#/components/schemas/{_OBJECT_META}"}], "default": {}}
        properties.setdefault(
            "apiVersion",
            {
                "type": "string",
                "description": "APIVersion defines the versioned schema of this representation of an object.",
            },
        )
        properties.setdefault(
            "kind",
            {
                "type": "string",
                "description": "Kind is the REST resource this object represents.",
            },
        )
        schema["properties"] = properties
        schema["x-kubernetes-group-version-kind"] = [
            {"group": rt.group, "version": rt.version, "kind": rt.kind}
        ]
        schemas[name] = schema
        base = f"/{_group_version_path(rt.group, rt.version)}"
        item = (
            f"{base}/namespaces/{{namespace}}/{rt.plural}/{{name}}"
            if rt.namespaced
            else f"{base}/{rt.plural}/{{name}}"
        )
        collection = item.rsplit("/", 1)[0]
        gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        ref = {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}
        paths[collection] = {
            "post": {
                "parameters": params,
                "responses": {"201": {"description": "Created", **ref}},
                "x-kubernetes-action": "post",
                "x-kubernetes-group-version-kind": gvk,
            },
        }
        paths[item] = {
            "get": {
                "responses": {"200": {"description": "OK", **ref}},
                "x-kubernetes-action": "get",
                "x-kubernetes-group-version-kind": gvk,
            },
            "put": {
                "parameters": params,
                "responses": {"200": {"description": "OK", **ref}},
                "x-kubernetes-action": "put",
                "x-kubernetes-group-version-kind": gvk,
            },
            "patch": {
                "parameters": params,
                "responses": {"200": {"description": "OK", **ref}},
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": gvk,
            },
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "paths": paths,
        "components": {"schemas": schemas},
    }
