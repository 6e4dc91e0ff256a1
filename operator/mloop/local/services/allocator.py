"""ClusterIP and NodePort allocation: pure bookkeeping, no I/O.

Values are handed out in order from a cursor that keeps moving (like a ring), so an address released by a
deleted Service is not handed to the next new Service at once: clients that cached the old address fail
instead of silently reaching another Service. Existing assignments (read at start-up) are ``reserve``-d first.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Generic, TypeVar

__all__ = [
    "CLUSTER_IP_RANGE",
    "NODE_PORT_RANGE",
    "AllocationError",
    "ClusterIPAllocator",
    "NodePortAllocator",
    "RangeAllocator",
]

#: Service addresses live on loopback, apart from pod addresses (127.1.0.0/16).
CLUSTER_IP_RANGE = "127.2.0.0/16"
#: Kubernetes' default ``--service-node-port-range``.
NODE_PORT_RANGE = (30000, 32767)

V = TypeVar("V")


class AllocationError(Exception):
    """The range is exhausted, or a requested value is held by someone else."""


class RangeAllocator(Generic[V]):
    """Hands out values of a fixed ordered range to owners (``namespace/name`` of a Service)."""

    def __init__(self, values: Iterable[V]) -> None:
        self._values: tuple[V, ...] = tuple(values)
        self._index = {value: i for i, value in enumerate(self._values)}
        self._owner: dict[V, str] = {}
        self._cursor = 0

    def __contains__(self, value: object) -> bool:
        return value in self._index

    def owner_of(self, value: V) -> str | None:
        return self._owner.get(value)

    def held_by(self, owner: str) -> set[V]:
        return {value for value, held in self._owner.items() if held == owner}

    def reserve(self, value: V, owner: str) -> None:
        """Record ``value`` as ``owner``'s; values outside the range are not tracked (nothing to collide)."""
        if value not in self._index:
            return
        holder = self._owner.get(value)
        if holder is not None and holder != owner:
            raise AllocationError(f"{value} is already allocated to {holder}")
        self._owner[value] = owner

    def allocate(self, owner: str) -> V:
        """The next free value after the cursor."""
        size = len(self._values)
        for step in range(size):
            i = (self._cursor + step) % size
            value = self._values[i]
            if value not in self._owner:
                self._owner[value] = owner
                self._cursor = (i + 1) % size
                return value
        raise AllocationError(f"all {size} values are allocated")

    def retain(self, owner: str, keep: Iterable[V]) -> None:
        """Release what ``owner`` holds except ``keep`` (a Service whose ports changed)."""
        kept = set(keep)
        for value in self.held_by(owner) - kept:
            del self._owner[value]

    def release(self, owner: str) -> None:
        self.retain(owner, ())


class ClusterIPAllocator(RangeAllocator[str]):
    """Addresses of ``network`` without its network and broadcast addresses."""

    def __init__(self, network: str = CLUSTER_IP_RANGE) -> None:
        super().__init__(str(host) for host in ipaddress.ip_network(network).hosts())


class NodePortAllocator(RangeAllocator[int]):
    """Host ports on 127.0.0.1 for ``type: NodePort`` Services."""

    def __init__(self, first: int = NODE_PORT_RANGE[0], last: int = NODE_PORT_RANGE[1]) -> None:
        super().__init__(range(first, last + 1))
