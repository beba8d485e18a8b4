"""One poll run: due feeds -> conditional GET -> entries -> claims -> pages -> text -> queue.

The event loop does the network; trafilatura runs in a process pool so every core works;
database calls run in threads so a slow query never stalls downloads. Every outcome is
counted in a :class:`PollSummary` and recorded on its feed or article row with a reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ParamSpec, Protocol, TypeVar

import httpx
from sqlalchemy.engine import Engine

from ingest import articles, http, schedule
from ingest.extract import ExtractedArticle
from ingest.feeds import FeedEntry, ParsedFeed, parse_feed
from ingest.fetch import FeedFetch, fetch_feed, fetch_page
from ingest.politeness import Politeness, make_limiter
from ingest.pool import Extractor
from ingest.robots import Robots
from schemas.errors import (
    BrokerUnavailable,
    NewsIngestError,
    NotAnArticle,
    PermanentError,
    TransientError,
)
from schemas.models import ArticleStatus, utcnow
from schemas.settings import Settings
from schemas.urls import InvalidUrl, normalize_url, url_hash

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

MAX_CHILD_SITEMAPS = 10
MAX_ROBOTS_BYTES = 512_000


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


class Enqueuer(Protocol):
    """Hands stored articles (by URL hash) to the entity stage; returns how many it sent."""

    def send(self, url_hashes: list[str]) -> int: ...


class NoEnqueuer:
    """No broker configured: articles stay ``queued`` in the database."""

    def send(self, url_hashes: list[str]) -> int:
        return 0


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


async def poll_feeds(ctx: PollContext, feeds: list[schedule.DueFeed]) -> PollSummary:
    """Poll ``feeds`` concurrently (each under its lock) and return the counts."""
    ctx.reporter.feeds_started(len(feeds))
    gate = asyncio.Semaphore(max(4, ctx.settings.fetch_concurrency // 2))

    async def one(feed: schedule.DueFeed) -> None:
        async with gate:
            await poll_feed(ctx, feed)

    async with asyncio.TaskGroup() as group:
        for feed in feeds:
            group.create_task(one(feed))
    return ctx.summary


async def poll_feed(ctx: PollContext, feed: schedule.DueFeed) -> None:
    summary = ctx.summary
    if not await ctx.db(schedule.lock_feed, feed.id, ctx.owner, ctx.settings.lock_ttl):
        summary.feeds_locked += 1
        ctx.reporter.feed_done(feed.url, "locked")
        return
    try:
        outcome = await _poll_locked(ctx, feed)
    finally:
        await ctx.db(schedule.unlock_feed, feed.id, ctx.owner)
    ctx.reporter.feed_done(feed.url, outcome)


def _status_of(exc: NewsIngestError) -> int | None:
    reason = exc.reason
    return int(reason[5:]) if reason.startswith("http_") and reason[5:].isdigit() else None


async def _poll_locked(ctx: PollContext, feed: schedule.DueFeed) -> str:
    summary = ctx.summary
    summary.feeds_polled += 1
    try:
        fetched = await fetch_feed(
            ctx.client,
            ctx.limiter,
            ctx.settings,
            feed.url,
            etag=feed.etag,
            last_modified=feed.last_modified,
        )
        if fetched.response.not_modified or fetched.body_hash == feed.body_hash:
            summary.feeds_not_modified += 1
            hint = schedule.combine_hints(
                feed.hint_interval, _max_age(fetched) if fetched.response.not_modified else None
            )
            await ctx.db(
                schedule.record_success,
                feed,
                status=fetched.response.status,
                etag=fetched.etag or feed.etag,
                last_modified=fetched.last_modified or feed.last_modified,
                body_hash=feed.body_hash,
                interval=_next_interval(ctx, feed, changed=False, gap=None, hint=hint),
                hint=hint,
            )
            return "not modified"
        parsed = await asyncio.to_thread(
            parse_feed,
            fetched.response.body,
            url=fetched.response.final_url,
            content_type=fetched.response.headers.get("content-type"),
            max_bytes=ctx.settings.max_feed_bytes,
        )
        entries = list(parsed.entries)
        if parsed.sitemaps:
            entries += await _child_sitemap_entries(ctx, parsed)
    except BrokerUnavailable:
        raise  # infrastructure, not the feed's fault: the run stops (exit 3), nothing recorded
    except NewsIngestError as exc:
        summary.feeds_failed += 1
        summary.failures.append((feed.url, str(exc)))
        deactivated = await ctx.db(
            schedule.record_failure,
            feed,
            error=str(exc),
            status=_status_of(exc),
            retry_after=getattr(exc, "retry_after", None),
            deactivate_after=ctx.settings.deactivate_after_failures,
        )
        if deactivated:
            summary.feeds_deactivated += 1
            log.warning("feed %s deactivated: %s", feed.url, deactivated)
            return f"deactivated ({exc.reason})"
        return f"failed ({exc.reason})"

    await _process_entries(ctx, feed, entries)
    hint = schedule.combine_hints(parsed.ttl_seconds, _max_age(fetched))
    gap = schedule.publish_gap((e.published_at for e in entries), utcnow())
    await ctx.db(
        schedule.record_success,
        feed,
        status=fetched.response.status,
        etag=fetched.etag,
        last_modified=fetched.last_modified,
        body_hash=fetched.body_hash,
        kind=parsed.kind,
        title=parsed.title,
        warning=parsed.warning,
        interval=_next_interval(ctx, feed, changed=True, gap=gap, hint=hint),
        hint=hint,
    )
    return f"{len(entries)} entries"


def _max_age(fetched: FeedFetch) -> int | None:
    return schedule.cache_max_age(fetched.response.headers.get("cache-control"))


def _next_interval(
    ctx: PollContext, feed: schedule.DueFeed, *, changed: bool, gap: float | None, hint: int | None
) -> int:
    return schedule.adaptive_interval(
        feed.poll_interval,
        changed=changed,
        gap=gap,
        hint=hint,
        min_interval=ctx.settings.min_poll_interval,
        max_interval=ctx.settings.max_poll_interval,
    )


async def _child_sitemap_entries(ctx: PollContext, index: ParsedFeed) -> list[FeedEntry]:
    """Entries of the first child sitemaps of a sitemap index (one level, bounded)."""
    found: list[FeedEntry] = []
    for child in index.sitemaps[:MAX_CHILD_SITEMAPS]:
        try:
            got = await fetch_feed(ctx.client, ctx.limiter, ctx.settings, child)
            parsed = await asyncio.to_thread(
                parse_feed,
                got.response.body,
                url=got.response.final_url,
                max_bytes=ctx.settings.max_feed_bytes,
            )
        except NewsIngestError as exc:
            log.info("child sitemap %s skipped: %s", child, exc)
            continue
        found.extend(parsed.entries)
    return found


def _candidates(feed_id: int, entries: list[FeedEntry], limit: int) -> list[articles.Candidate]:
    out: list[articles.Candidate] = []
    for entry in entries[:limit]:
        try:
            url = normalize_url(entry.url)
        except InvalidUrl:
            continue
        out.append(
            articles.Candidate(
                url=url,
                url_hash=url_hash(url),
                feed_id=feed_id,
                title=entry.title,
                published_at=entry.published_at,
            )
        )
    return out


async def _process_entries(
    ctx: PollContext, feed: schedule.DueFeed, entries: list[FeedEntry]
) -> None:
    summary = ctx.summary
    candidates = _candidates(feed.id, entries, ctx.settings.max_articles_per_feed)
    claimed, duplicates = await ctx.db(articles.claim, candidates, lock_ttl=ctx.settings.lock_ttl)
    summary.articles_duplicate += duplicates
    ctx.reporter.articles_found(len(claimed))
    fetched = await asyncio.gather(
        *(_fetch_article(ctx, cand, feed.respect_robots) for cand in claimed)
    )
    ready = [(cand, fields) for cand, fields in zip(claimed, fetched, strict=True) if fields]
    queued = await _store_articles(ctx, ready)
    if queued:
        # Not `summary.x += await ...`: that reads x before the await and loses updates.
        sent = await asyncio.to_thread(ctx.enqueuer.send, queued)
        summary.articles_enqueued += sent


async def _fetch_article(
    ctx: PollContext, cand: articles.Candidate, robots: bool
) -> dict[str, Any] | None:
    """Download and extract one claimed article: the row's values (:func:`article_fields`),
    or None when it failed or is not an article (that outcome is recorded here)."""
    summary = ctx.summary
    try:
        if robots and ctx.robots is not None and not await ctx.robots.allowed(cand.url):
            raise PermanentError("disallowed by robots.txt", reason="robots_disallowed")
        resp = await fetch_page(ctx.client, ctx.limiter, ctx.settings, cand.url)
        art = await ctx.extractor.extract(
            resp.body, resp.charset, resp.final_url, page_date=cand.published_at is None
        )
    except BrokerUnavailable:
        raise  # the claim expires after the lock TTL; a later poll takes the article over
    except NotAnArticle as exc:
        summary.articles_not_article += 1
        await ctx.db(articles.record_outcome, cand.url_hash, ArticleStatus.NOT_ARTICLE, str(exc))
        ctx.reporter.article_done(cand.url, "not an article")
        return None
    except TransientError as exc:
        summary.articles_retry += 1
        await ctx.db(
            articles.record_outcome,
            cand.url_hash,
            ArticleStatus.RETRY,
            str(exc),
            retry_after=getattr(exc, "retry_after", None),
        )
        ctx.reporter.article_done(cand.url, "retry")
        return None
    except PermanentError as exc:
        summary.articles_failed += 1
        await ctx.db(articles.record_outcome, cand.url_hash, ArticleStatus.FAILED, str(exc))
        ctx.reporter.article_done(cand.url, "failed")
        return None
    return article_fields(cand, art, resp.final_url)


def _fingerprints(ready: list[tuple[articles.Candidate, dict[str, Any]]]) -> list[int]:
    return [articles.fingerprint(fields["text"]) for _, fields in ready]


async def _store_articles(
    ctx: PollContext, ready: list[tuple[articles.Candidate, dict[str, Any]]]
) -> list[str]:
    """Store a feed's extracted articles in one transaction (after the dedup checks, see
    :func:`ingest.articles.record_extracted_many`); the URL hashes to queue for entities."""
    if not ready:
        return []
    summary = ctx.summary
    # The SimHashes in a thread, outside the transaction: SQLite holds its write lock there.
    fingerprints = await asyncio.to_thread(_fingerprints, ready)
    items = [
        articles.Extracted(cand.url_hash, fields, fp)
        for (cand, fields), fp in zip(ready, fingerprints, strict=True)
    ]
    results = await ctx.db(
        articles.record_extracted_many,
        items,
        near_duplicate_distance=ctx.settings.near_duplicate_distance,
    )
    queued: list[str] = []
    for (cand, _), stored in zip(ready, results, strict=True):
        if stored.kind == "canonical":
            summary.articles_duplicate += 1
            summary.articles_canonical_duplicate += 1
            ctx.reporter.article_done(cand.url, "duplicate")
            continue
        summary.articles_new += 1
        if stored.kind == "near":
            summary.articles_near_duplicate += 1
        ctx.reporter.article_done(cand.url, "new")
        if stored.queued:
            queued.append(cand.url_hash)
    return queued


def article_fields(
    cand: articles.Candidate, art: ExtractedArticle, final_url: str
) -> dict[str, Any]:
    """The article row's values. The feed's date wins over the page's (it is explicit)."""
    published_at: datetime | None
    source: str | None
    if cand.published_at is not None:
        published_at, source = cand.published_at, "feed"
    else:
        published_at, source = art.published_at, art.published_source
    return {
        "canonical_url": (art.canonical_url or final_url)[:4096],
        "title": art.title or cand.title,
        "authors": list(art.authors),
        "published_at": published_at,
        "published_source": source,
        "language": art.language,
        "site_name": art.site_name,
        "image": art.image[:4096] if art.image else None,
        "text": art.text,
        "text_hash": art.text_hash,
        "word_count": art.word_count,
    }


async def run_poll(
    settings: Settings,
    engine: Engine,
    enqueuer: Enqueuer,
    *,
    reporter: Reporter | None = None,
    everything: bool = False,
    urls: list[str] | None = None,
    ids: list[int] | None = None,
    processes: int | None = None,
    extractor: Extractor | None = None,
) -> PollSummary:
    """Poll the due feeds (or all, or those named) once, with resources made for this run.

    Pass an ``extractor`` to share its process pool (in-process mode runs the entity stage
    there too); the caller then closes it. Otherwise one is made with ``processes`` workers.
    """
    with engine.begin() as conn:
        feeds = schedule.due_feeds(conn, everything=everything, urls=urls, ids=ids)
    own = extractor is None
    if extractor is None:
        extractor = Extractor(settings.workers if processes is None else processes)
    if feeds:
        extractor.start()
    try:
        async with http.make_client(settings) as client:
            # Shared in Redis with every fetcher on every machine when a broker is configured.
            limiter = make_limiter(settings)
            try:
                ctx = PollContext(
                    settings=settings,
                    engine=engine,
                    client=client,
                    limiter=limiter,
                    extractor=extractor,
                    enqueuer=enqueuer,
                    reporter=reporter or SilentReporter(),
                    robots=Robots(client, settings, limiter) if settings.respect_robots else None,
                )
                return await poll_feeds(ctx, feeds)
            finally:
                await limiter.aclose()
    finally:
        if own:
            extractor.close()
