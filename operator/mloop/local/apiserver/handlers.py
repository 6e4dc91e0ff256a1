"""The REST verbs on resources: get, list, watch, create, update, patch, delete, deletecollection,
and the ``status``, ``scale`` and ``log`` subresources.

Server-side apply (``application/apply-patch+yaml``) is approximated: the applied configuration is
merged into the live object (strategic merge for built-ins, JSON merge for custom resources), or
creates it. There is no field ownership (``managedFields``) and so no apply conflicts.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import yaml
from aiohttp import web

from .builtin import ResourceType
from .convert import from_storage
from .errors import ApiError, bad_request, method_not_allowed
from .faults import FaultInjector
from .patch import PatchError, apply_json_patch, apply_merge_patch, apply_strategic_merge_patch
from .protobuf import ProtobufError, decode_object
from .requestlog import RequestRecord
from .selectors import FieldSelector, LabelSelector, SelectorError
from .store import Store
from .subresources import replicas_from_scale, scale_of, tail_lines
from .table import to_table
from .watch import DEFAULT_TIMEOUT, WatchRequest, serve_watch

__all__ = ["ResourceHandler", "json_response", "verb_of"]

_PATCH_TYPES = (
    "application/merge-patch+json",
    "application/json-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A compact JSON response."""
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1")


def verb_of(method: str, name: str | None, query: dict[str, str], watch_prefix: bool) -> str:
    """The Kubernetes verb of a request (as in audit logs and RBAC)."""
    if method == "GET":
        if name:
            return "watch" if watch_prefix else "get"
        return "watch" if watch_prefix or _truthy(query.get("watch")) else "list"
    return {
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete" if name else "deletecollection",
    }.get(method, method.lower())


async def _read_body(request: web.Request) -> Any:
    content_type = request.content_type
    raw = await request.read()
    if "protobuf" in content_type:
        try:
            return decode_object(raw)
        except ProtobufError as exc:
            raise ApiError(415, f"the body of the request was in an unknown format - {exc}") from exc
    if not raw:
        return None
    try:
        if "yaml" in request.content_type:
            return yaml.safe_load(raw)
        return json.loads(raw)
    except (ValueError, yaml.YAMLError) as exc:
        raise bad_request(f"the request body could not be decoded: {exc}") from exc


async def _read_object(request: web.Request) -> dict[str, Any]:
    body = await _read_body(request)
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    return body


def _encode_continue(namespace: str, name: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([namespace, name]).encode()).decode()


def _decode_continue(token: str) -> tuple[str, str]:
    try:
        namespace, name = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError) as exc:
        raise bad_request(f"invalid continue token: {exc}") from exc
    return str(namespace), str(name)


class ResourceHandler:
    """Serves one parsed resource request against the store."""

    def __init__(self, store: Store, faults: FaultInjector, bookmark_interval: float) -> None:
        self.store = store
        self.faults = faults
        self.bookmark_interval = bookmark_interval

    async def handle(
        self,
        request: web.Request,
        rt: ResourceType,
        *,
        namespace: str | None,
        name: str | None,
        subresource: str | None,
        record: RequestRecord,
    ) -> web.StreamResponse:
        """Dispatch by verb; every failure is raised as ``ApiError``."""
        verb, query = record.verb, request.query
        if subresource and subresource not in rt.subresources:
            raise ApiError(404, "the server could not find the requested resource")
        self.faults.check(verb, rt.plural, name or "")
        dry_run = query.get("dryRun") == "All"
        strict = query.get("fieldValidation") == "Strict"
        if verb == "watch":
            return await self._watch(request, rt, namespace, name)
        if verb == "list":
            return self._list(request, rt, namespace)
        if verb == "deletecollection":
            return await self._delete_collection(request, rt, namespace, dry_run)
        if not name:
            if verb == "create":
                created = self.store.create(
                    rt, namespace, await _read_object(request), dry_run=dry_run, strict=strict
                )
                record.name = created["metadata"]["name"]  # so writes per object can be counted
                return json_response(created, 201)
            raise method_not_allowed()
        if verb == "create":
            raise method_not_allowed()
        if subresource == "log":
            return self._log(rt, namespace, name, query)
        if subresource == "scale":
            return await self._scale(request, rt, namespace=namespace, name=name, verb=verb, dry_run=dry_run)
        if verb == "get":
            obj = self.store.get(rt, namespace, name)
            return self._render(request, rt, [obj], single=True)
        if verb == "update":
            obj = await _read_object(request)
            result = self.store.update(
                rt, namespace, name, obj, subresource=subresource, dry_run=dry_run, strict=strict
            )
            return json_response(result)
        if verb == "patch":
            return json_response(
                await self._patch(
                    request,
                    rt,
                    namespace=namespace,
                    name=name,
                    subresource=subresource,
                    dry_run=dry_run,
                    strict=strict,
                )
            )
        if verb == "delete":
            return await self._delete(request, rt, namespace, name, dry_run)
        raise method_not_allowed()

    def _render(
        self,
        request: web.Request,
        rt: ResourceType,
        objects: list[dict[str, Any]],
        *,
        single: bool,
        list_meta: dict[str, Any] | None = None,
    ) -> web.Response:
        """Plain JSON, or a Table when kubectl asks for ``as=Table``."""
        if "as=Table" in request.headers.get("Accept", ""):
            meta = list_meta if list_meta is not None else {"resourceVersion": str(self.store.rv)}
            include = request.query.get("includeObject", "Metadata")
            return json_response(to_table(rt, objects, include, meta))
        if single:
            return json_response(objects[0])
        return json_response(
            {
                "kind": f"{rt.kind}List",
                "apiVersion": rt.api_version,
                "metadata": list_meta or {},
                "items": objects,
            }
        )

    def _selectors(self, request: web.Request) -> tuple[LabelSelector, FieldSelector]:
        try:
            return (
                LabelSelector.parse(request.query.get("labelSelector")),
                FieldSelector.parse(request.query.get("fieldSelector")),
            )
        except SelectorError as exc:
            raise bad_request(str(exc)) from exc

    def _list(self, request: web.Request, rt: ResourceType, namespace: str | None) -> web.Response:
        labels, fields = self._selectors(request)
        objects = self.store.select(rt, namespace, labels, fields)
        token = request.query.get("continue")
        if token:
            after = _decode_continue(token)
            objects = [
                o for o in objects if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) > after
            ]
        meta: dict[str, Any] = {"resourceVersion": str(self.store.rv)}
        limit = int(request.query.get("limit") or 0)
        if 0 < limit < len(objects):
            last = objects[limit - 1]["metadata"]
            meta["continue"] = _encode_continue(last.get("namespace", ""), last["name"])
            meta["remainingItemCount"] = len(objects) - limit
            objects = objects[:limit]
        items = [from_storage(rt, obj) for obj in objects]
        return self._render(request, rt, items, single=False, list_meta=meta)

    async def _watch(
        self, request: web.Request, rt: ResourceType, namespace: str | None, name: str | None
    ) -> web.StreamResponse:
        labels, fields = self._selectors(request)
        if name:
            fields = FieldSelector((*fields.terms, ("metadata.name", True, name)))
        raw_rv = request.query.get("resourceVersion") or ""
        try:
            since = int(raw_rv) if raw_rv else None
        except ValueError as exc:
            raise bad_request(f"invalid resourceVersion: {raw_rv}") from exc
        as_table = "as=Table" in request.headers.get("Accept", "")
        include = request.query.get("includeObject", "Metadata")

        def render(obj: dict[str, Any]) -> dict[str, Any]:
            return (
                to_table(rt, [obj], include, {"resourceVersion": obj["metadata"]["resourceVersion"]})
                if as_table
                else obj
            )

        req = WatchRequest(
            rt=rt,
            namespace=namespace,
            labels=labels,
            fields=fields,
            since=since,
            bookmarks=_truthy(request.query.get("allowWatchBookmarks")),
            send_initial=_truthy(request.query.get("sendInitialEvents")),
            timeout=float(request.query.get("timeoutSeconds") or DEFAULT_TIMEOUT),
            render=render,
        )
        return await serve_watch(request, self.store, req, self.faults, self.bookmark_interval)

    async def _patch(
        self,
        request: web.Request,
        rt: ResourceType,
        *,
        namespace: str | None,
        name: str,
        subresource: str | None,
        dry_run: bool,
        strict: bool,
    ) -> dict[str, Any]:
        content_type = request.content_type
        if content_type not in _PATCH_TYPES:
            raise ApiError(
                415,
                "the body of the request was in an unknown format - accepted media types include: "
                + ", ".join(_PATCH_TYPES),
            )
        patch = await _read_body(request)
        if content_type == "application/apply-patch+yaml":
            key = self.store.key(rt, namespace, name)
            if key not in self.store.objects[rt.storage_key]:
                if not isinstance(patch, dict):
                    raise bad_request("an apply patch must be an object")
                patch.setdefault("metadata", {}).setdefault("name", name)
                return self.store.create(rt, namespace, patch, dry_run=dry_run, strict=strict)
        current = self.store.get(rt, namespace, name)
        try:
            patched = self._apply_patch(rt, content_type, current, patch)
        except PatchError as exc:
            if exc.test_failed:
                raise ApiError(422, str(exc), reason="Invalid") from exc
            raise bad_request(str(exc)) from exc
        if not isinstance(patched, dict):
            raise bad_request("the patch did not produce an object")
        return self.store.update(
            rt, namespace, name, patched, subresource=subresource, dry_run=dry_run, strict=strict
        )

    @staticmethod
    def _apply_patch(rt: ResourceType, content_type: str, current: dict[str, Any], patch: Any) -> Any:
        if content_type == "application/json-patch+json":
            return apply_json_patch(current, patch)
        if content_type == "application/merge-patch+json" or rt.custom:
            if content_type == "application/strategic-merge-patch+json":
                raise ApiError(415, "strategic merge patch is not supported for custom resources")
            return apply_merge_patch(current, patch)
        return apply_strategic_merge_patch(current, patch)

    async def _delete(
        self, request: web.Request, rt: ResourceType, namespace: str | None, name: str, dry_run: bool
    ) -> web.Response:
        options = await _read_body(request) or {}
        if not isinstance(options, dict):
            raise bad_request("DeleteOptions must be an object")
        propagation = request.query.get("propagationPolicy") or options.get("propagationPolicy")
        orphan = request.query.get("orphanDependents") or options.get("orphanDependents")
        if propagation is None and orphan is not None:
            propagation = "Orphan" if str(orphan).lower() == "true" else "Background"
        if propagation not in (None, "Orphan", "Background", "Foreground"):
            raise bad_request(f"propagationPolicy: Unsupported value: {propagation!r}")
        dry_run = dry_run or "All" in (options.get("dryRun") or [])
        result = self.store.delete(
            rt,
            namespace,
            name,
            propagation=propagation,
            preconditions=options.get("preconditions"),
            dry_run=dry_run,
        )
        return json_response(result)

    async def _delete_collection(
        self, request: web.Request, rt: ResourceType, namespace: str | None, dry_run: bool
    ) -> web.Response:
        labels, fields = self._selectors(request)
        names = [
            (o["metadata"].get("namespace"), o["metadata"]["name"])
            for o in self.store.select(rt, namespace, labels, fields)
        ]
        items = []
        for ns, obj_name in names:
            items.append(
                self.store.delete(
                    rt, ns, obj_name, propagation=request.query.get("propagationPolicy"), dry_run=dry_run
                )
            )
        return json_response(
            {
                "kind": f"{rt.kind}List",
                "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": str(self.store.rv)},
                "items": items,
            }
        )

    def _log(self, rt: ResourceType, namespace: str | None, name: str, query: Any) -> web.Response:
        self.store.raw(rt, namespace, name)
        text = self.store.pod_logs.get(self.store.key(rt, namespace, name), "")
        try:
            return web.Response(text=tail_lines(text, query.get("tailLines")), content_type="text/plain")
        except ValueError as exc:
            raise bad_request(f"invalid tailLines: {exc}") from exc

    async def _scale(
        self,
        request: web.Request,
        rt: ResourceType,
        *,
        namespace: str | None,
        name: str,
        verb: str,
        dry_run: bool,
    ) -> web.Response:
        obj = self.store.get(rt, namespace, name)
        if verb in ("update", "patch"):
            if verb == "update":
                scale = await _read_object(request)
            else:
                try:
                    scale = self._apply_patch(
                        rt, request.content_type, scale_of(obj), await _read_body(request)
                    )
                except PatchError as exc:
                    raise bad_request(str(exc)) from exc
            obj.setdefault("spec", {})["replicas"] = replicas_from_scale(name, scale)
            wanted_rv = (scale.get("metadata") or {}).get("resourceVersion")
            if wanted_rv:
                obj["metadata"]["resourceVersion"] = wanted_rv
            obj = self.store.update(rt, namespace, name, obj, dry_run=dry_run)
        return json_response(scale_of(obj))
