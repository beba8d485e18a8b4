"""What one poll run carries through its steps: its resources (:class:`PollContext`), its
counts (:class:`PollSummary`) and whom it tells about progress (:class:`Reporter`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import httpx
from sqlalchemy.engine import Engine

from ingest import schedule
from ingest.enqueue import Enqueuer
from ingest.politeness import Politeness
from ingest.pool import Extractor
from ingest.robots import Robots
from schemas.settings import Settings

T = TypeVar("T")


@dataclass
class PollSummary:
    """One run's counts. ``articles_duplicate`` counts every duplicate article: links already
    claimed (same normalised URL, not downloaded again) plus pages whose canonical URL is an
    article already stored (``articles_canonical_duplicate``, downloaded but stored without
    text). ``articles_near_duplicate``: of ``articles_new``, those linked to an earlier copy
    of nearly the same text (syndicated copies; still stored and queued)."""

    feeds_polled: int = 0
    feeds_not_modified: int = 0
    feeds_failed: int = 0
    feeds_locked: int = 0
    feeds_deactivated: int = 0
    articles_new: int = 0
    articles_duplicate: int = 0
    articles_not_article: int = 0
    articles_failed: int = 0
    articles_retry: int = 0
    articles_enqueued: int = 0
    articles_canonical_duplicate: int = 0
    articles_near_duplicate: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in vars(self).items() if isinstance(v, int)}


class Reporter(Protocol):
    def feeds_started(self, total: int) -> None: ...
    def feed_done(self, url: str, outcome: str) -> None: ...
    def articles_found(self, count: int) -> None: ...
    def article_done(self, url: str, outcome: str) -> None: ...


class SilentReporter:
    def feeds_started(self, total: int) -> None: ...
    def feed_done(self, url: str, outcome: str) -> None: ...
    def articles_found(self, count: int) -> None: ...
    def article_done(self, url: str, outcome: str) -> None: ...


@dataclass
class PollContext:
    settings: Settings
    engine: Engine
    client: httpx.AsyncClient
    limiter: Politeness
    extractor: Extractor
    enqueuer: Enqueuer
    reporter: Reporter = field(default_factory=SilentReporter)
    owner: str = field(default_factory=schedule.owner_id)
    summary: PollSummary = field(default_factory=PollSummary)
    robots: Robots | None = None

    async def db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(connection, ...)`` in a thread, inside one transaction."""

        def work() -> T:
            with self.engine.begin() as conn:
                return fn(conn, *args, **kwargs)

        return await asyncio.to_thread(work)
