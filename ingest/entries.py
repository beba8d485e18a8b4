"""A feed's entries to stored articles: claim the new links, download and extract each page,
store the results in one transaction (after the duplicate checks), queue them for entities.

Every outcome is counted in the run's :class:`~ingest.pollstate.PollSummary` and recorded on
the article row with its reason.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from ingest import articles, schedule
from ingest.extract import ExtractedArticle
from ingest.feeds import FeedEntry
from ingest.fetch import fetch_page
from ingest.pollstate import PollContext
from schemas.errors import BrokerUnavailable, NotAnArticle, PermanentError, TransientError
from schemas.models import ArticleStatus
from schemas.urls import InvalidUrl, normalize_url, url_hash


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


async def process_entries(
    ctx: PollContext, feed: schedule.DueFeed, entries: list[FeedEntry]
) -> None:
    """Claim ``entries`` of ``feed`` (at most ``max_articles_per_feed``), fetch and extract the
    new ones concurrently, store them and send the stored ones to the entity stage."""
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
