"""Which resources exist: the built-ins plus one ``ResourceType`` per served version of each CRD.

Kept apart from the store so discovery, routing and validation share one answer, and a CRD's
registration is a pure function of its spec (``types_from_crd``).
"""

from __future__ import annotations

from typing import Any

from .builtin import ALL_VERBS, BUILTIN_TYPES, ResourceType

__all__ = ["Registry", "accepted_names", "types_from_crd"]


def accepted_names(crd: dict[str, Any]) -> dict[str, Any]:
    """``status.acceptedNames``: spec.names with the server-side defaults filled."""
    names = dict(crd.get("spec", {}).get("names", {}))
    kind = str(names.get("kind", ""))
    names.setdefault("singular", kind.lower())
    names.setdefault("listKind", f"{kind}List")
    return names


def types_from_crd(crd: dict[str, Any]) -> list[ResourceType]:
    """The resource types a CRD serves, one per version with ``served: true``."""
    spec = crd.get("spec", {})
    names = accepted_names(crd)
    group = str(spec.get("group", ""))
    result: list[ResourceType] = []
    for version in spec.get("versions", []):
        if not version.get("served", True):
            continue
        subresources = version.get("subresources") or {}
        subs = tuple(name for name in ("status", "scale") if name in subresources)
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        result.append(
            ResourceType(
                group=group,
                version=str(version.get("name", "")),
                plural=str(names.get("plural", "")),
                kind=str(names.get("kind", "")),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=subs,
                generation=True,
                verbs=ALL_VERBS,
                singular=str(names.get("singular", "")),
                custom=True,
                schema=schema if isinstance(schema, dict) else None,
                printer_columns=tuple(version.get("additionalPrinterColumns") or ()),
            )
        )
    return result


class Registry:
    """Lookup of resource types by group, version and plural (or kind)."""

    def __init__(self) -> None:
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        self._crd_types: dict[str, list[ResourceType]] = {}
        for rt in BUILTIN_TYPES:
            self._types[(rt.group, rt.version, rt.plural)] = rt

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        """The type served at ``/apis/<group>/<version>/<plural>``, if any."""
        return self._types.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        """The type for an object's ``apiVersion``/``kind`` (ownerReferences, bodies)."""
        group, _, version = api_version.rpartition("/")
        for rt in self._types.values():
            if rt.group == group and rt.version == version and rt.kind == kind:
                return rt
        return None

    def all(self) -> list[ResourceType]:
        """Every served type, built-ins first."""
        return list(self._types.values())

    def versions_of(self, storage_key: str) -> list[ResourceType]:
        """All served types that share one storage (to list every version of a CRD's objects)."""
        return [rt for rt in self._types.values() if rt.storage_key == storage_key]

    def groups(self) -> dict[str, list[str]]:
        """Group name → served versions, in registration order (core group is ``""``)."""
        result: dict[str, list[str]] = {}
        for rt in self._types.values():
            versions = result.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
        return result

    def preferred_version(self, group: str, crd_versions: list[str] | None = None) -> str:
        """The first listed version, as the apiserver does for CRDs (storage order aside)."""
        versions = crd_versions or self.groups().get(group, [])
        return versions[0] if versions else ""

    def register_crd(self, crd: dict[str, Any]) -> list[ResourceType]:
        """(Re)register the CRD's served versions; returns the new types."""
        name = str(crd.get("metadata", {}).get("name", ""))
        self.unregister_crd(name)
        types = types_from_crd(crd)
        for rt in types:
            self._types[(rt.group, rt.version, rt.plural)] = rt
        self._crd_types[name] = types
        return types

    def unregister_crd(self, name: str) -> list[ResourceType]:
        """Forget a CRD's types (on final deletion)."""
        types = self._crd_types.pop(name, [])
        for rt in types:
            self._types.pop((rt.group, rt.version, rt.plural), None)
        return types

    def crd_types(self, name: str) -> list[ResourceType]:
        """The types registered for a CRD name."""
        return list(self._crd_types.get(name, []))
