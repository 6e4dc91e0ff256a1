"""Scraping pods' own ``/metrics`` over HTTP: the canary analysis needs no Prometheus server."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import aiohttp

__all__ = ["scrape_all"]


async def scrape_all(addresses: Sequence[str], *, port: int, per_pod_seconds: float = 3.0) -> list[str]:
    """The text of every reachable pod's ``/metrics``; an unreachable pod contributes nothing this round."""
    client_timeout = aiohttp.ClientTimeout(total=per_pod_seconds)
    async with aiohttp.ClientSession(timeout=client_timeout) as session:

        async def one(address: str) -> str | None:
            try:
                async with session.get(f"http://{address}:{port}/metrics") as response:
                    return await response.text() if response.status == 200 else None
            except (aiohttp.ClientError, TimeoutError, OSError):
                return None

        results = await asyncio.gather(*(one(a) for a in addresses))
    return [text for text in results if text is not None]
