"""Conditional GET of feeds, article downloads, per-host politeness.

Everything here is I/O with the client passed in; parsing and extraction are pure functions
elsewhere (``ingest.feeds``, ``ingest.extract``).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from ingest import http
from schemas.settings import Settings
from schemas.urls import host_of


class HostLimiter:
    """Bounded concurrency overall and per host, and a minimum delay between requests to a host.

    One instance per process; shared by every feed and article download of a poll run.
    """

    def __init__(self, *, total: int, per_host: int, delay: float = 0.0) -> None:
        self.total = asyncio.Semaphore(total)
        self.per_host = per_host
        self.delay = delay
        self._hosts: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(self.per_host)
        )
        self._next_start: dict[str, float] = {}
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[None]:
        host = host_of(url)
        async with self._hosts[host], self.total:
            if self.delay:
                async with self._lock:
                    now = time.monotonic()
                    start = max(now, self._next_start.get(host, 0.0))
                    self._next_start[host] = start + self.delay
                if start > now:
                    await asyncio.sleep(start - now)
            yield

    @classmethod
    def from_settings(cls, settings: Settings) -> HostLimiter:
        return cls(
            total=settings.fetch_concurrency,
            per_host=settings.per_host_concurrency,
            delay=settings.per_host_delay,
        )


@dataclass(frozen=True, slots=True)
class FeedFetch:
    response: http.Response
    body_hash: str | None  # sha256 of the body; None for 304

    @property
    def etag(self) -> str | None:
        value: str | None = self.response.headers.get("etag")
        return value

    @property
    def last_modified(self) -> str | None:
        value: str | None = self.response.headers.get("last-modified")
        return value


async def fetch_feed(
    client: httpx.AsyncClient,
    limiter: HostLimiter,
    settings: Settings,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
) -> FeedFetch:
    """Conditional GET of a feed (If-None-Match / If-Modified-Since)."""
    async with limiter.slot(url):
        resp = await http.get(
            client,
            url,
            max_bytes=settings.max_feed_bytes,
            total_timeout=settings.total_timeout,
            max_redirects=settings.max_redirects,
            etag=etag,
            last_modified=last_modified,
        )
    digest = None if resp.not_modified else hashlib.sha256(resp.body).hexdigest()
    return FeedFetch(resp, digest)


async def fetch_page(
    client: httpx.AsyncClient, limiter: HostLimiter, settings: Settings, url: str
) -> http.Response:
    """Download an article page: HTML only, within the page size cap."""
    async with limiter.slot(url):
        return await http.get(
            client,
            url,
            max_bytes=settings.max_page_bytes,
            total_timeout=settings.total_timeout,
            max_redirects=settings.max_redirects,
            html_only=True,
        )
