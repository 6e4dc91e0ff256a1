"""The object store: one global ``resourceVersion`` counter, a bounded history of changes for
watches, and the write paths (create, update, delete) with their Kubernetes semantics.

Everything here runs on the server's event loop, so there is no locking: a write and the fan-out
to watchers happen in one synchronous step, which is what makes "replay after resourceVersion N,
then follow" gap-free.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import dataclasses
from collections.abc import Iterator
from typing import Any

from . import crd as crds
from . import gc
from .builtin import ResourceType
from .convert import from_storage, to_storage
from .errors import ApiError, already_exists, bad_request, conflict, expired, invalid, not_found
from .objects import apply_update, check_kind, now_rfc3339, prepare_create
from .registry import Registry
from .schema import apply_defaults_and_prune, unknown_fields, validate_object
from .selectors import FieldSelector, LabelSelector

__all__ = ["Change", "Store", "Watcher"]

Key = tuple[str, str]  # (namespace or "", name)


@dataclasses.dataclass(frozen=True)
class Change:
    """One committed write, as watchers see it (``old`` lets selectors turn MODIFIED into ADDED/DELETED)."""

    rv: int
    type: str
    storage: str
    obj: dict[str, Any]
    old: dict[str, Any] | None


@dataclasses.dataclass(eq=False)
class Watcher:
    """A live watch: the store pushes every change of its storage; ``None`` ends the stream."""

    storage: str
    queue: asyncio.Queue[Change | None] = dataclasses.field(default_factory=asyncio.Queue)


class Store:
    """In-memory objects of every resource, keyed by storage then ``(namespace, name)``."""

    def __init__(self, registry: Registry, *, history_size: int = 10_000) -> None:
        self.registry = registry
        self.objects: dict[str, dict[Key, dict[str, Any]]] = collections.defaultdict(dict)
        self.uids: dict[str, tuple[str, Key]] = {}
        self.rv = 0
        self.history: collections.deque[Change] = collections.deque(maxlen=history_size)
        self.compacted_rv = 0
        self.watchers: set[Watcher] = set()
        self.pod_logs: dict[Key, str] = {}
        for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.create(self._type("", "v1", "namespaces"), None, {"metadata": {"name": name}})

    # -- reading ---------------------------------------------------------------------------------

    def _type(self, group: str, version: str, plural: str) -> ResourceType:
        rt = self.registry.get(group, version, plural)
        if rt is None:
            raise KeyError(f"{plural}.{group}/{version}")
        return rt

    @staticmethod
    def key(rt: ResourceType, namespace: str | None, name: str) -> Key:
        """Storage key; cluster-scoped objects have no namespace."""
        return ((namespace or "") if rt.namespaced else "", name)

    def raw(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        """The stored object itself (not a copy), or 404."""
        obj = self.objects[rt.storage_key].get(self.key(rt, namespace, name))
        if obj is None:
            raise not_found(rt.plural, rt.group, name)
        return obj

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        """A copy of the object as ``rt`` shows it."""
        return from_storage(rt, self.raw(rt, namespace, name))

    def select(
        self,
        rt: ResourceType,
        namespace: str | None,
        labels: LabelSelector | None = None,
        fields: FieldSelector | None = None,
    ) -> list[dict[str, Any]]:
        """Stored objects (not copies) in ``(namespace, name)`` order matching the selectors."""
        result = []
        for key in sorted(self.objects[rt.storage_key]):
            if rt.namespaced and namespace and key[0] != namespace:
                continue
            obj = self.objects[rt.storage_key][key]
            if (labels is None or labels.matches(obj)) and (fields is None or fields.matches(obj)):
                result.append(obj)
        return result

    def iter_all(self) -> Iterator[tuple[str, Key, dict[str, Any]]]:
        """Every stored object (a snapshot, safe to mutate the store while iterating)."""
        for storage, objects in list(self.objects.items()):
            for key, obj in list(objects.items()):
                yield storage, key, obj

    # -- committing ------------------------------------------------------------------------------

    def _commit(
        self, kind: str, storage: str, key: Key, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> None:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        uid = obj["metadata"]["uid"]
        if kind == "DELETED":
            self.objects[storage].pop(key, None)
            self.uids.pop(uid, None)
            if storage == "pods.":
                self.pod_logs.pop(key, None)
        else:
            self.objects[storage][key] = obj
            self.uids[uid] = (storage, key)
        if len(self.history) == self.history.maxlen:
            self.compacted_rv = self.history[0].rv
        change = Change(self.rv, kind, storage, copy.deepcopy(obj), copy.deepcopy(old) if old else None)
        self.history.append(change)
        for watcher in self.watchers:
            if watcher.storage == storage:
                watcher.queue.put_nowait(change)

    def compact(self) -> None:
        """Forget the whole history (a test hook: every older resourceVersion now gets 410 Gone)."""
        if self.history:
            self.compacted_rv = self.history[-1].rv
        self.history.clear()

    # -- writes ----------------------------------------------------------------------------------

    def _admit(
        self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None, *, strict: bool = False
    ) -> dict[str, Any]:
        """Schema defaults, pruning and validation of custom resources; CRD checks and status.

        ``strict`` is ``fieldValidation=Strict`` (kubectl's default): fields that pruning would drop
        are a 400 instead of being dropped silently.
        """
        if rt.custom and rt.schema:
            meta = obj.get("metadata")
            before = obj
            obj = apply_defaults_and_prune(rt.schema, obj)
            unknown = [p for p in unknown_fields(before, obj) if not p.startswith("metadata")]
            if strict and unknown:
                listed = ", ".join(f'unknown field "{p}"' for p in unknown)
                raise bad_request(
                    f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                    f"strict decoding error: {listed}"
                )
            obj["metadata"], obj["apiVersion"], obj["kind"] = meta, rt.api_version, rt.kind
            errors = validate_object(rt.schema, obj, old)
            if errors:
                name = str(obj["metadata"].get("name", ""))
                raise invalid(rt.kind, rt.group, name, [(e.type, e.path, e.message) for e in errors])
        if rt.plural == "customresourcedefinitions" and rt.group == "apiextensions.k8s.io":
            crds.validate_crd(obj)
            obj["status"] = crds.crd_status(obj, (old or {}).get("status"))
        return obj

    def create(
        self,
        rt: ResourceType,
        namespace: str | None,
        body: dict[str, Any],
        *,
        dry_run: bool = False,
        strict: bool = False,
    ) -> dict[str, Any]:
        """POST: a new object with uid, timestamps, generation 1 and the next resourceVersion."""
        check_kind(rt, body)
        obj = prepare_create(rt, to_storage(rt, body), namespace)
        if rt.namespaced:
            self._check_namespace(rt, obj)
        obj = self._admit(rt, obj, None, strict=strict)
        key = self.key(rt, obj["metadata"].get("namespace"), obj["metadata"]["name"])
        if key in self.objects[rt.storage_key]:
            raise already_exists(rt.plural, rt.group, obj["metadata"]["name"])
        if dry_run:
            return from_storage(rt, obj)
        self._commit("ADDED", rt.storage_key, key, obj, None)
        if rt.plural == "customresourcedefinitions":
            self.registry.register_crd(obj)
        if obj["metadata"].get("ownerReferences"):
            gc.collect(self)
        return from_storage(rt, obj)

    def _check_namespace(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        ns_name = obj["metadata"]["namespace"]
        ns = self.objects["namespaces."].get(("", ns_name))
        if ns is None:
            raise not_found("namespaces", "", ns_name)
        if ns["metadata"].get("deletionTimestamp"):
            raise ApiError(
                403,
                f'{rt.group_resource} "{obj["metadata"]["name"]}" is forbidden: unable to create new content '
                f"in namespace {ns_name} because it is being terminated",
                reason="Forbidden",
            )

    def update(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        body: dict[str, Any],
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        strict: bool = False,
    ) -> dict[str, Any]:
        """PUT (and the last step of PATCH): optimistic concurrency, status separation, generation."""
        check_kind(rt, body)
        old = self.raw(rt, namespace, name)
        wanted_rv = (body.get("metadata") or {}).get("resourceVersion")
        if wanted_rv and str(wanted_rv) != old["metadata"]["resourceVersion"]:
            raise conflict(rt.plural, rt.group, name)
        new = apply_update(rt, old, to_storage(rt, body), subresource)
        new = self._admit(rt, new, old, strict=strict)
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if dry_run:
            return from_storage(rt, new)
        if new == old:
            return from_storage(rt, old)  # a no-op write is not a change: no new resourceVersion, no event
        key = self.key(rt, namespace, name)
        held = new["metadata"].get("finalizers") or (
            rt.plural == "namespaces" and new.get("spec", {}).get("finalizers")
        )
        if new["metadata"].get("deletionTimestamp") and not held:
            self._commit("DELETED", rt.storage_key, key, new, None)
            self._after_removal(rt.storage_key, new)
        else:
            self._commit("MODIFIED", rt.storage_key, key, new, old)
            if rt.plural == "customresourcedefinitions":
                self.registry.register_crd(new)
        gc.collect(self)
        return from_storage(rt, new)

    def delete(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        *,
        propagation: str | None = None,
        preconditions: dict[str, Any] | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """DELETE: removal, or ``deletionTimestamp`` while finalizers remain; then garbage collection."""
        obj = self.raw(rt, namespace, name)
        for field, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
            wanted = (preconditions or {}).get(field)
            actual = obj["metadata"].get(field)
            if wanted and wanted != actual:
                message = f"Precondition failed: {label} in precondition: {wanted}, {label} in object meta: "
                message += str(actual)
                raise ApiError(409, message, reason="Conflict")
        if dry_run:
            return from_storage(rt, obj)
        policy = propagation or ("Orphan" if (rt.group, rt.plural) == ("batch", "jobs") else "Background")
        result = self.delete_object(rt.storage_key, self.key(rt, namespace, name), policy)
        gc.collect(self)
        return from_storage(rt, result)

    def delete_object(self, storage: str, key: Key, policy: str = "Background") -> dict[str, Any]:
        """Delete one stored object by policy (shared by API deletes and the garbage collector)."""
        old = self.objects[storage][key]
        if old["metadata"].get("deletionTimestamp"):
            return old
        obj = copy.deepcopy(old)
        meta = obj["metadata"]
        finalizers: list[str] = list(meta.get("finalizers") or [])
        if policy == "Orphan":
            gc.orphan_dependents(self, meta["uid"])
        elif policy == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers.append("foregroundDeletion")
        if (
            storage == "customresourcedefinitions.apiextensions.k8s.io"
            and crds.CLEANUP_FINALIZER not in finalizers
        ):
            finalizers.append(crds.CLEANUP_FINALIZER)
        if storage == "namespaces.":
            obj.setdefault("status", {})["phase"] = "Terminating"
            finalizers = finalizers or []
        if finalizers or (storage == "namespaces." and obj.get("spec", {}).get("finalizers")):
            meta["finalizers"] = finalizers
            if not finalizers:
                meta.pop("finalizers")
            meta["deletionTimestamp"] = now_rfc3339()
            meta["deletionGracePeriodSeconds"] = 0
            self._commit("MODIFIED", storage, key, obj, old)
            return obj
        self._commit("DELETED", storage, key, obj, None)
        self._after_removal(storage, obj)
        return obj

    def finalize(self, storage: str, key: Key, finalizer: str | None) -> None:
        """Drop a server-side finalizer (or a namespace's spec finalizers) and remove the object if done."""
        old = self.objects[storage][key]
        obj = copy.deepcopy(old)
        meta = obj["metadata"]
        if finalizer is None:
            obj.setdefault("spec", {})["finalizers"] = []
        else:
            meta["finalizers"] = [f for f in meta.get("finalizers") or [] if f != finalizer]
            if not meta["finalizers"]:
                meta.pop("finalizers")
        if meta.get("finalizers"):
            self._commit("MODIFIED", storage, key, obj, old)
        else:
            self._commit("DELETED", storage, key, obj, None)
            self._after_removal(storage, obj)

    def replace_raw(self, storage: str, key: Key, obj: dict[str, Any]) -> None:
        """Store a server-side modification (orphaning) as a MODIFIED change."""
        old = self.objects[storage][key]
        if obj != old:
            self._commit("MODIFIED", storage, key, obj, old)

    def _after_removal(self, storage: str, obj: dict[str, Any]) -> None:
        if storage == "customresourcedefinitions.apiextensions.k8s.io":
            self.registry.unregister_crd(obj["metadata"]["name"])

    # -- watching --------------------------------------------------------------------------------

    def open_watch(self, rt: ResourceType, since: int | None) -> tuple[list[Change], Watcher]:
        """Register a watcher and return the history to replay first (after ``since``).

        ``since`` None or 0 means "from now" (the caller sends the current objects as ADDED).
        A ``since`` older than the retained history raises 410 Expired, and kopf relists.
        """
        if since and since < self.compacted_rv:
            raise expired(f"too old resource version: {since} ({self.compacted_rv + 1})")
        replay = [c for c in self.history if since and c.rv > since and c.storage == rt.storage_key]
        watcher = Watcher(rt.storage_key)
        self.watchers.add(watcher)
        return replay, watcher

    def close_watch(self, watcher: Watcher) -> None:
        """Unregister a watcher (stream ended or client gone)."""
        self.watchers.discard(watcher)

    def close_all_watches(self) -> None:
        """End every stream (server shutdown)."""
        for watcher in list(self.watchers):
            watcher.queue.put_nowait(None)
        self.watchers.clear()
