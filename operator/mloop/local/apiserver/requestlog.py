"""The request log: every API request with its verb and outcome, so tests can count writes
("a settled object costs zero writes") without patching clients.
"""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["WRITE_VERBS", "RequestRecord", "count_writes"]

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


@dataclasses.dataclass
class RequestRecord:
    """One request: the Kubernetes verb (get/list/watch/create/update/patch/delete/deletecollection)."""

    method: str
    path: str
    verb: str
    group: str
    version: str
    resource: str
    subresource: str
    namespace: str
    name: str
    status: int
    time: float
    user_agent: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON form for ``GET /_emulator/requests``."""
        return dataclasses.asdict(self)

    @property
    def is_write(self) -> bool:
        """Whether the request asked for a change (successful or not)."""
        return self.verb in WRITE_VERBS


def count_writes(
    records: list[RequestRecord],
    *,
    resource: str | None = None,
    name: str | None = None,
    namespace: str | None = None,
    subresource: str | None = None,
    successful_only: bool = False,
) -> int:
    """Writes matching every given filter (``None`` means any)."""
    return sum(
        1
        for r in records
        if r.is_write
        and (resource is None or r.resource == resource)
        and (name is None or r.name == name)
        and (namespace is None or r.namespace == namespace)
        and (subresource is None or r.subresource == subresource)
        and (not successful_only or r.status < 400)
    )
