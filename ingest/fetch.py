"""Conditional GET of feeds, article downloads, per-host politeness.

A 429 or 503 answer pauses its host through the limiter (``Politeness.penalize``) before the
error goes up, so with the Redis limiter every worker slows down, not only this one.

Everything here is I/O with the client passed in; parsing and extraction are pure functions
elsewhere (``ingest.feeds``, ``ingest.extract``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from ingest import http
from ingest.politeness import BACKOFF_BASE, Politeness, backoff_pause, check_wait
from schemas import metrics
from schemas.errors import BrokerUnavailable, FetchTransient
from schemas.settings import Settings
from schemas.urls import host_of

log = logging.getLogger(__name__)

# Answers that mean "slow down": the host pauses for every worker (Retry-After, or backoff).
PENALIZED_REASONS = frozenset({"http_429", "http_503"})


class HostLimiter:
    """Bounded concurrency overall and per host, a minimum interval between request starts to
    a host, and host pauses: the :class:`ingest.politeness.Politeness` rules, in memory.

    One instance per process; shared by every feed and article download of a poll run. With
    a Redis broker, ``ingest.politeness.RedisHostLimiter`` keeps the same rules for every
    worker (``ingest.politeness.make_limiter`` picks one).
    """

    def __init__(
        self,
        *,
        total: int,
        per_host: int,
        delay: float = 0.0,
        max_backoff: float = 3600.0,
        backoff_base: float = BACKOFF_BASE,
        max_wait: float | None = None,
    ) -> None:
        self.total = asyncio.Semaphore(total)
        self.max_wait = max_wait
        self.per_host = per_host
        self.delay = delay
        self.max_backoff = max_backoff
        self.backoff_base = backoff_base
        self._hosts: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(self.per_host)
        )
        self._last_start: dict[str, float] = {}
        self._crawl_delay: dict[str, float] = {}
        self._paused_until: dict[str, float] = {}
        self._streak: dict[str, int] = {}

    def interval(self, host: str) -> float:
        """Minimum seconds between two request starts to ``host``."""
        return max(self.delay, self._crawl_delay.get(host, 0.0))

    def _wait(self, host: str, now: float) -> float:
        """Seconds until ``host`` may get its next request (0.0: now)."""
        ready = self._paused_until.get(host, 0.0)
        last = self._last_start.get(host)
        if last is not None:
            ready = max(ready, last + self.interval(host))
        return max(0.0, ready - now)

    @asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[None]:
        host = host_of(url)
        async with self._hosts[host]:
            while True:
                # Wait for the host without holding one of the overall slots, so that a
                # paused or slow host does not hold up the others; check again once one is
                # held (no await between the check and recording the start).
                wait = self._wait(host, time.monotonic())
                if wait > 0:
                    check_wait(host, wait, self.max_wait)
                    await asyncio.sleep(wait)
                    continue
                await self.total.acquire()
                now = time.monotonic()
                if self._wait(host, now) == 0.0:
                    self._last_start[host] = now
                    break
                self.total.release()
            success = False
            try:
                yield
                success = True
            finally:
                self.total.release()
                if success:
                    self._streak.pop(host, None)

    async def penalize(self, url: str, seconds: float | None = None) -> float:
        host = host_of(url)
        streak = self._streak[host] = self._streak.get(host, 0) + 1
        pause = backoff_pause(streak, seconds, base=self.backoff_base, cap=self.max_backoff)
        now = time.monotonic()
        until = max(self._paused_until.get(host, 0.0), now + pause)
        self._paused_until[host] = until
        return until - now

    async def set_crawl_delay(self, url: str, seconds: float) -> None:
        host = host_of(url)
        seconds = min(max(0.0, float(seconds)), self.max_backoff)
        if seconds > self.delay:
            self._crawl_delay[host] = seconds
        else:
            self._crawl_delay.pop(host, None)

    async def aclose(self) -> None:
        """Nothing to release; here for the Politeness interface."""

    @classmethod
    def from_settings(cls, settings: Settings) -> HostLimiter:
        return cls(
            total=settings.fetch_concurrency,
            per_host=settings.per_host_concurrency,
            delay=settings.per_host_delay,
            max_backoff=settings.host_max_backoff,
            max_wait=settings.total_timeout,
        )


async def penalize_for(limiter: Politeness, url: str, exc: FetchTransient) -> None:
    """Pause ``url``'s host after a 429/503 (its Retry-After, else backoff); other errors pass.

    Called inside the slot, so no other request to the host starts between the answer and the
    pause. A broker failure here is logged: the fetch error itself is what goes up.
    """
    if exc.reason not in PENALIZED_REASONS:
        return
    try:
        pause = await limiter.penalize(url, exc.retry_after)
        metrics.record_host_penalty(host_of(url), pause)
    except BrokerUnavailable as broker_exc:
        log.warning("could not pause %s after %s: %s", host_of(url), exc.reason, broker_exc)


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


async def polite_get(
    client: httpx.AsyncClient, limiter: Politeness, url: str, **bounds: Any
) -> http.Response:
    """``http.get`` inside the host's slot; a 429/503 pauses the host for every fetcher."""
    async with limiter.slot(url):
        try:
            return await http.get(client, url, **bounds)
        except FetchTransient as exc:
            await penalize_for(limiter, url, exc)
            raise


async def fetch_feed(
    client: httpx.AsyncClient,
    limiter: Politeness,
    settings: Settings,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
) -> FeedFetch:
    """Conditional GET of a feed (If-None-Match / If-Modified-Since)."""
    resp = await polite_get(
        client,
        limiter,
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
    client: httpx.AsyncClient, limiter: Politeness, settings: Settings, url: str
) -> http.Response:
    """Download an article page: HTML only, within the page size cap."""
    return await polite_get(
        client,
        limiter,
        url,
        max_bytes=settings.max_page_bytes,
        total_timeout=settings.total_timeout,
        max_redirects=settings.max_redirects,
        html_only=True,
    )
