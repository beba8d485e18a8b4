"""The per-host politeness rules in memory, for one process (SQLite mode, no broker)."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ingest.politeness.rules import BACKOFF_BASE, backoff_pause, check_wait
from schemas.settings import Settings
from schemas.urls import host_of


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
