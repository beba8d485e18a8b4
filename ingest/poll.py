"""One poll run: due feeds -> conditional GET -> entries -> claims -> pages -> text -> queue.

The event loop does the network; trafilatura runs in a process pool so every core works;
database calls run in threads so a slow query never stalls downloads. Every outcome is
counted in a :class:`PollSummary` and recorded on its feed or article row with a reason.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.engine import Engine

from ingest import http, schedule
from ingest.enqueue import Enqueuer, NoEnqueuer
from ingest.entries import process_entries
from ingest.feeds import FeedEntry, ParsedFeed, parse_feed
from ingest.fetch import FeedFetch, fetch_feed
from ingest.politeness import make_limiter
from ingest.pollstate import PollContext, PollSummary, Reporter, SilentReporter
from ingest.pool import Extractor
from ingest.robots import Robots
from schemas.errors import BrokerUnavailable, NewsIngestError
from schemas.models import utcnow
from schemas.settings import Settings

__all__ = ["Enqueuer", "NoEnqueuer", "PollSummary", "Reporter", "poll_feeds", "run_poll"]

log = logging.getLogger(__name__)

MAX_CHILD_SITEMAPS = 10


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

    await process_entries(ctx, feed, entries)
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
