"""The address guard end to end: a real request to a listening loopback socket."""

from __future__ import annotations

import httpx
import pytest

from ingest.http import AddressRefused, make_client
from schemas.settings import load_settings


async def _get(url: str, allowed: str = "") -> httpx.Response:
    import os

    os.environ["NEWSINGEST_ALLOWED_NETWORKS"] = allowed
    try:
        async with make_client(load_settings()) as client:
            return await client.get(url)
    finally:
        del os.environ["NEWSINGEST_ALLOWED_NETWORKS"]


def test_loopback_is_refused_end_to_end_unless_allowed() -> None:
    """A real request to a loopback address that is not allow-listed never connects."""
    import asyncio
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        server.setblocking(False)
        with pytest.raises(AddressRefused):
            asyncio.run(_get(f"http://127.0.0.1:{port}/"))
        with pytest.raises(BlockingIOError):
            server.accept()  # nothing ever connected
        # Allowed: it connects (and then times out or fails on our silent socket, which is fine).
        with pytest.raises(AddressRefused):
            asyncio.run(_get(f"http://127.0.0.1:{port}/", allowed="10.0.0.0/8"))
