"""The proxy's listener in-process: half-close, fallback past a refusing backend, closing connections."""

from __future__ import annotations

import asyncio
import socket

import pytest

from mloop.local.services.endpoints import Backend
from mloop.local.services.proxy import Listener, ListenerSpec, ServiceProxy

pytestmark = pytest.mark.timeout(20)
HOST = "127.2.250.1"


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


async def _echo_upper_after_eof(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Reads the whole request (to EOF), then answers: only works if the proxy passes the half-close on."""
    data = await reader.read()
    writer.write(data.upper())
    await writer.drain()
    writer.close()


async def test_half_close_is_passed_through() -> None:
    backend = await asyncio.start_server(_echo_upper_after_eof, "127.1.250.1", 0)
    port = backend.sockets[0].getsockname()[1]
    listener = Listener(HOST, _free_port(HOST), [Backend("127.1.250.1", port)])
    await listener.start()
    try:
        reader, writer = await asyncio.open_connection(listener.host, listener.port)
        writer.write(b"hello")
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), 5) == b"HELLO"
        writer.close()
    finally:
        await listener.close()
        backend.close()
        await backend.wait_closed()


async def test_refusing_backend_is_skipped_and_close_ends_connections() -> None:
    backend = await asyncio.start_server(_echo_upper_after_eof, "127.1.250.2", 0)
    port = backend.sockets[0].getsockname()[1]
    dead = Backend("127.1.250.3", _free_port("127.1.250.3"))  # nothing listens here
    proxy = ServiceProxy()
    listen_port = _free_port(HOST)
    assert (
        await proxy.sync("ns/s", [ListenerSpec(HOST, listen_port, (dead, Backend("127.1.250.2", port)))])
        == []
    )
    try:
        for _ in range(2):  # whichever the round-robin picks, the live backend answers
            reader, writer = await asyncio.open_connection(HOST, listen_port)
            writer.write(b"x")
            writer.write_eof()
            assert await asyncio.wait_for(reader.read(), 5) == b"X"
            writer.close()
        reader, writer = await asyncio.open_connection(HOST, listen_port)  # held open, mid-request
        await asyncio.sleep(0.1)
        (listener,) = proxy.listeners("ns/s").values()
        assert listener.connections == 1
        await proxy.remove("ns/s")
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
        assert proxy.listeners("ns/s") == {}
    finally:
        await proxy.close()
        backend.close()
        await backend.wait_closed()


async def test_bind_error_is_reported() -> None:
    proxy = ServiceProxy()
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        errors = await proxy.sync("ns/s", [ListenerSpec(HOST, port, ())])
    assert len(errors) == 1
    assert f"cannot listen on {HOST}:{port}" in errors[0]
    await proxy.close()
