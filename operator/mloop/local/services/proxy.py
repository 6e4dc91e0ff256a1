"""The data plane: one TCP listener per Service port, spreading new connections over ready backends.

Each accepted connection is spliced byte-for-byte to one backend chosen round-robin, so with N equal pods
each gets 1/N of the connections and a 9:1 replica ratio gives the canary one connection in ten. Balancing is
per connection, as kube-proxy does it: a keep-alive client stays on one pod. Backends are swapped in place,
so an endpoint change never touches established connections; closing a listener (Service deleted, port
removed) also closes the connections it made, so a released address carries no traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .endpoints import Backend

__all__ = ["CONNECT_TIMEOUT", "Listener", "ListenerSpec", "ServiceProxy"]

log = logging.getLogger(__name__)

#: A backend that does not accept within this time is skipped for the next one.
CONNECT_TIMEOUT = 3.0
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class ListenerSpec:
    """Where to listen (``host:port``) and where to send connections."""

    host: str
    port: int
    backends: tuple[Backend, ...]


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0): the client sees a reset, as with a ClusterIP that has no endpoints."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until EOF, then pass the half-close on (``shutdown(SHUT_WR)``) so the peer sees EOF too."""
    while data := await reader.read(_CHUNK):
        writer.write(data)
        await writer.drain()
    if writer.can_write_eof() and not writer.is_closing():
        writer.write_eof()


async def _splice(
    client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
) -> None:
    """Both directions until both reach EOF; an error on either side aborts both (the reset propagates)."""
    tasks = {
        asyncio.create_task(_pipe(client[0], upstream[1])),
        asyncio.create_task(_pipe(upstream[0], client[1])),
    }
    try:
        while tasks:
            done, tasks = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if any(not t.cancelled() and t.exception() is not None for t in done):
                client[1].transport.abort()
                upstream[1].transport.abort()
                break
    finally:
        for task in tasks:
            task.cancel()
        for _, writer in (client, upstream):
            writer.close()
        await asyncio.gather(*tasks, return_exceptions=True)


class Listener:
    """``host:port`` accepting connections for one Service port."""

    def __init__(self, host: str, port: int, backends: Sequence[Backend] = ()) -> None:
        self.host = host
        self.port = port
        self.backends: tuple[Backend, ...] = tuple(backends)
        self._next = 0
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def connections(self) -> int:
        return len(self._connections)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port, reuse_address=True)

    def set_backends(self, backends: Sequence[Backend]) -> None:
        """Swap the backend list; connections in flight keep their backend."""
        self.backends = tuple(backends)

    def _choose(self) -> list[Backend]:
        """Backends in the order to try them: the round-robin pick first, then the rest as fallbacks."""
        backends = self.backends
        if not backends:
            return []
        start = self._next % len(backends)
        self._next = start + 1
        return [*backends[start:], *backends[:start]]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            upstream = await self._connect(self._choose())
            if upstream is None:
                _reset(writer)
                return
            await _splice((reader, writer), upstream)
        except (ConnectionError, OSError) as exc:
            log.debug("connection on %s ended: %s", self.address, exc)
        finally:
            self._connections.discard(task)
            if not writer.is_closing():  # an error, or cancelled by close() before the splice began
                writer.transport.abort()

    async def _connect(
        self, candidates: Sequence[Backend]
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """The first candidate that accepts (like the old userspace kube-proxy, a refusing pod is skipped)."""
        for backend in candidates:
            try:
                return await asyncio.wait_for(
                    asyncio.open_connection(backend.host, backend.port), CONNECT_TIMEOUT
                )
            except (OSError, TimeoutError) as exc:
                log.info("backend %s:%s of %s failed: %s", backend.host, backend.port, self.address, exc)
        return None

    async def close(self) -> None:
        """Stop accepting and end this listener's connections."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class ServiceProxy:
    """All listeners, grouped by Service key (``namespace/name``), brought to a desired set by ``sync``."""

    def __init__(self) -> None:
        self._listeners: dict[str, dict[tuple[str, int], Listener]] = {}

    def listeners(self, key: str) -> Mapping[tuple[str, int], Listener]:
        return self._listeners.get(key, {})

    async def sync(self, key: str, specs: Sequence[ListenerSpec]) -> list[str]:
        """Open missing listeners, close unwanted ones, update backends of the rest; returns bind errors."""
        current = self._listeners.setdefault(key, {})
        wanted = {(spec.host, spec.port): spec for spec in specs}
        for address in [a for a in current if a not in wanted]:
            await current.pop(address).close()
        errors = []
        for address, spec in wanted.items():
            listener = current.get(address)
            if listener is None:
                listener = Listener(spec.host, spec.port, spec.backends)
                try:
                    await listener.start()
                except OSError as exc:
                    errors.append(f"cannot listen on {listener.address}: {exc.strerror or exc}")
                    continue
                current[address] = listener
                log.info("%s: listening on %s", key, listener.address)
            listener.set_backends(spec.backends)
        if not current:
            del self._listeners[key]
        return errors

    async def remove(self, key: str) -> None:
        for listener in self._listeners.pop(key, {}).values():
            await listener.close()
            log.info("%s: closed %s", key, listener.address)

    async def close(self) -> None:
        for key in list(self._listeners):
            await self.remove(key)
