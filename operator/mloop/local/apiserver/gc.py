"""Garbage collection: namespace and CRD cleanup, foreground deletion, and the ownerReference cascade.

A real cluster does this in controllers, eventually. Here one pass runs after every write that can
matter (deletes, finalizer removals, objects created with owners), repeated until nothing changes,
so tests observe the end state without sleeping. Dependents are deleted with the Background policy
and keep their own finalizers (they get ``deletionTimestamp`` and stay until those are removed).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from .crd import CLEANUP_FINALIZER

if TYPE_CHECKING:
    from .store import Key, Store

__all__ = ["collect", "orphan_dependents"]

_CRD_STORAGE = "customresourcedefinitions.apiextensions.k8s.io"
_MAX_PASSES = 100


def _terminating(obj: dict[str, Any]) -> bool:
    return bool(obj["metadata"].get("deletionTimestamp"))


def _dependents(store: Store, uid: str) -> list[tuple[str, Key, dict[str, Any]]]:
    return [
        (storage, key, obj)
        for storage, key, obj in store.iter_all()
        if any(ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences") or [])
    ]


def orphan_dependents(store: Store, uid: str) -> None:
    """The Orphan policy: dependents lose their ownerReference to ``uid`` and stay."""
    for storage, key, obj in _dependents(store, uid):
        new = copy.deepcopy(obj)
        refs = [ref for ref in new["metadata"]["ownerReferences"] if ref.get("uid") != uid]
        if refs:
            new["metadata"]["ownerReferences"] = refs
        else:
            new["metadata"].pop("ownerReferences")
        store.replace_raw(storage, key, new)


def _crd_storage(crd: dict[str, Any]) -> str:
    spec = crd.get("spec", {})
    return f"{spec.get('names', {}).get('plural', '')}.{spec.get('group', '')}"


def _pass(store: Store) -> bool:
    """One sweep; returns whether anything changed."""
    changed = False
    for storage, key, obj in store.iter_all():
        if key not in store.objects[storage]:
            continue  # removed earlier in this pass
        meta = obj["metadata"]
        if storage == "namespaces." and _terminating(obj) and obj.get("spec", {}).get("finalizers"):
            contents = [(s, k, o) for s, k, o in store.iter_all() if k[0] == key[1] and s != "namespaces."]
            for s, k, o in contents:
                if not _terminating(o):
                    store.delete_object(s, k)
                    changed = True
            if not any(k in store.objects[s] for s, k, _ in contents):
                store.finalize(storage, key, None)
                changed = True
        elif (
            storage == _CRD_STORAGE
            and _terminating(obj)
            and CLEANUP_FINALIZER in (meta.get("finalizers") or [])
        ):
            instances = list(store.objects[_crd_storage(obj)].items())
            for k, o in instances:
                if not _terminating(o):
                    store.delete_object(_crd_storage(obj), k)
                    changed = True
            if not store.objects[_crd_storage(obj)]:
                store.finalize(storage, key, CLEANUP_FINALIZER)
                changed = True
        elif _terminating(obj) and "foregroundDeletion" in (meta.get("finalizers") or []):
            dependents = _dependents(store, meta["uid"])
            for s, k, o in dependents:
                if not _terminating(o):
                    store.delete_object(s, k)
                    changed = True
            if not _dependents(store, meta["uid"]):
                store.finalize(storage, key, "foregroundDeletion")
                changed = True
        elif meta.get("ownerReferences") and not _terminating(obj):
            owners = [ref.get("uid") for ref in meta["ownerReferences"]]
            if not any(uid in store.uids for uid in owners):
                store.delete_object(storage, key)
                changed = True
    return changed


def collect(store: Store) -> None:
    """Sweep until the store is stable (bounded, in case finalizers keep objects around)."""
    for _ in range(_MAX_PASSES):
        if not _pass(store):
            return
