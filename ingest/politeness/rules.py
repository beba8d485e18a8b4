"""The per-host politeness rules, and the interface both limiters implement.

Per host (``schemas.urls.host_of``):

- at most ``per_host_concurrency`` requests in flight;
- two request starts at least ``max(per_host_delay, Crawl-delay)`` seconds apart
  (``set_crawl_delay`` raises the interval, never below ``per_host_delay``);
- after ``penalize`` (a 429 or 503 answer) no request starts until the pause is over: the
  Retry-After when the host gave one, else 30 s doubling with each consecutive penalty; both
  capped at ``host_max_backoff``. A request that completes resets the streak.

The bound on concurrent downloads overall (``fetch_concurrency``) stays per process.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol, runtime_checkable
from urllib import robotparser

from schemas.errors import FetchTransient, backoff

BACKOFF_BASE = 30.0  # seconds of the first pause after a 429/503 without Retry-After


@runtime_checkable
class Politeness(Protocol):
    """What fetching needs from a per-host limiter (in memory or in Redis)."""

    def slot(self, url: str) -> AbstractAsyncContextManager[None]:
        """Wait for a turn at ``url``'s host; the request runs inside the ``async with``.

        Leaving the block without an exception counts as a success (resets the penalty streak).
        """
        ...

    async def penalize(self, url: str, seconds: float | None = None) -> float:
        """Pause ``url``'s host for ``seconds`` (None: exponential default).

        Returns the pause now in force, in seconds (a longer one already set is kept).
        """
        ...

    async def set_crawl_delay(self, url: str, seconds: float) -> None:
        """robots.txt Crawl-delay for ``url``'s host (never below ``per_host_delay``)."""
        ...

    async def aclose(self) -> None: ...


def check_wait(host: str, wait: float, max_wait: float | None) -> None:
    """A host paused (429/503) or spaced out for longer than a request may take is not
    waited for: the request fails at once as transient, with the pause as its Retry-After,
    so a fetch worker is never held for an hour by one host."""
    if max_wait is not None and wait > max_wait:
        raise FetchTransient(
            f"{host} is paused or rate-limited for another {wait:.0f} s",
            reason="host_paused",
            retry_after=wait,
        )


def backoff_pause(
    streak: int, seconds: float | None, *, base: float = BACKOFF_BASE, cap: float
) -> float:
    """Seconds a host pauses after its ``streak``-th consecutive penalty (1 = the first).

    ``seconds`` (a Retry-After) wins when given; otherwise ``base`` doubling per penalty.
    Both are capped at ``cap``.
    """
    if seconds is not None:
        return max(0.0, min(float(seconds), cap))
    return backoff(max(streak, 1) - 1, base=base, cap=cap, jitter=False)


def robots_crawl_delay(parser: robotparser.RobotFileParser, user_agent: str) -> float | None:
    """Seconds between requests a parsed robots.txt asks of ``user_agent``, or None.

    ``Crawl-delay``, or a ``Request-rate`` of n requests per s seconds (s/n), whichever is
    longer. For the caller that read robots.txt: ``await limiter.set_crawl_delay(url, delay)``.
    """
    delays: list[float] = []
    delay = parser.crawl_delay(user_agent)
    if delay is not None:  # the standard parser keeps whole seconds only
        delays.append(float(delay))
    rate = parser.request_rate(user_agent)
    if rate is not None and rate.requests > 0:
        delays.append(rate.seconds / rate.requests)
    return max(delays) if delays else None
