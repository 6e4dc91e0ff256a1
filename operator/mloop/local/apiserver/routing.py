"""URL parsing for resource requests (pure, so the odd corners of Kubernetes paths are unit-tested).

Forms: ``/api/v1/<plural>[/<name>[/<sub>]]``, ``/api/v1/namespaces/<ns>/<plural>[/<name>[/<sub>]]``,
the same under ``/apis/<group>/<version>``, the namespace object itself (``/api/v1/namespaces/<ns>``
and its ``/status`` and ``/finalize``), and the deprecated ``/watch/`` prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Target", "parse_path"]

_NAMESPACE_SUBRESOURCES = ("status", "finalize")


@dataclass(frozen=True)
class Target:
    """What a resource URL addresses."""

    group: str
    version: str
    plural: str
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    watch_prefix: bool = False


def parse_path(path: str) -> Target | None:
    """A ``Target`` for resource URLs; ``None`` for anything else (discovery, unknown)."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    watch = False
    if rest and rest[0] == "watch":
        watch, rest = True, rest[1:]
    if not rest:
        return None
    if (
        rest[0] == "namespaces"
        and len(rest) >= 3
        and not (group == "" and len(rest) == 3 and rest[2] in _NAMESPACE_SUBRESOURCES)
    ):
        namespace, rest = rest[1], rest[2:]
    else:
        namespace = None
    if len(rest) > 3:
        return None
    return Target(
        group=group,
        version=version,
        plural=rest[0],
        namespace=namespace,
        name=rest[1] if len(rest) > 1 else None,
        subresource=rest[2] if len(rest) > 2 else None,
        watch_prefix=watch,
    )
