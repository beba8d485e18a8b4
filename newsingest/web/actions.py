"""What the API and the dashboard both do to feeds and dead letters: one implementation, two
front ends. Each function takes the app's :class:`WebDB`; errors are :class:`Problem`."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session

from newsingest.web.db import WebDB
from newsingest.web.problems import Problem
from schemas.errors import NewsIngestError
from schemas.models import DeadLetter, Feed, as_utc
from schemas.settings import Settings

FEED = Feed.__table__  # type: ignore[attr-defined]
DEAD_LETTER = DeadLetter.__table__  # type: ignore[attr-defined]
MAX_FEEDS_PER_REQUEST = 50


@dataclass
class Added:
    added: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    discovered: dict[str, list[str]] = field(default_factory=dict)


# Feeds -------------------------------------------------------------------------------------


def feed_rows(conn: Connection) -> list[dict[str, Any]]:
    """Every feed with its health (the same facts as ``feeds list`` and ``feeds health``)."""
    from ingest.status import feed_health

    extra = {
        r.id: r
        for r in conn.execute(
            sa.select(FEED.c.id, FEED.c.kind, FEED.c.active, FEED.c.respect_robots)
        )
    }
    rows = []
    for h in feed_health(conn):
        row = {f.name: getattr(h, f.name) for f in fields(h)}
        row["healthy"] = h.healthy
        e = extra.get(h.id)
        row["kind"] = e.kind if e else "unknown"
        row["active"] = bool(e.active) if e else False
        row["respect_robots"] = bool(e.respect_robots) if e else True
        rows.append(row)
    return rows


def feed_row(conn: Connection, feed_id: int) -> dict[str, Any]:
    for row in feed_rows(conn):
        if row["id"] == feed_id:
            return row
    raise Problem(404, "not-found", f"no feed with id {feed_id}")


async def discover_feeds(settings: Settings, urls: list[str]) -> dict[str, list[str]]:
    """Each URL's feeds (itself if it is one). Fetches go through the ingest side's HTTP
    client, so the address guard applies: a form cannot make the server fetch an internal
    address that the pipeline itself would refuse."""
    from ingest.discover import discover
    from ingest.http import make_client

    found: dict[str, list[str]] = {}
    async with make_client(settings) as client:
        for url in urls:
            try:
                feeds = await discover(client, settings, url)
            except NewsIngestError as exc:
                raise Problem(422, "discovery-failed", f"{url}: {exc.message}", url=url) from None
            if not feeds:
                raise Problem(422, "no-feed-found", f"{url}: no feed found on this site", url=url)
            found[url] = feeds
    return found


async def add_feeds(
    db: WebDB, urls: list[str], *, discover: bool, respect_robots: bool = True
) -> Added:
    """Subscribe (all or nothing); with ``discover``, to the feeds each page advertises."""
    from ingest.feedlist import add_feeds as add
    from ingest.feedlist import validate_urls

    urls = [u.strip() for u in urls if u.strip()]
    if not urls:
        raise Problem(422, "validation", "give at least one feed URL")
    if len(urls) > MAX_FEEDS_PER_REQUEST:
        raise Problem(422, "validation", f"at most {MAX_FEEDS_PER_REQUEST} URLs per request")
    good, bad = validate_urls(urls)
    if bad:
        raise Problem(
            422,
            "invalid-url",
            f"{len(bad)} invalid URL(s); nothing added: {bad[0][0]!r}: {bad[0][1]}",
            invalid=[{"url": u, "reason": r} for u, r in bad],
        )
    result = Added()
    if discover:
        result.discovered = await discover_feeds(db.settings, good)
        good = [f for feeds in result.discovered.values() for f in feeds]

    def run(s: Session) -> None:
        done = add(
            s,
            good,
            poll_interval=db.settings.default_poll_interval,
            respect_robots=respect_robots,
        )
        result.added, result.duplicates = done.added, done.duplicates

    await db.session(run)
    return result


async def remove_feed(db: WebDB, feed_id: int) -> str:
    def run(conn: Connection) -> str:
        url = conn.execute(sa.select(FEED.c.url).where(FEED.c.id == feed_id)).scalar()
        if url is None:
            raise Problem(404, "not-found", f"no feed with id {feed_id}")
        conn.execute(sa.delete(FEED).where(FEED.c.id == feed_id))
        return str(url)

    return await db.write(run)


async def reactivate_feed(db: WebDB, feed_id: int) -> None:
    from ingest.schedule import reactivate

    def run(conn: Connection) -> None:
        if not reactivate(conn, feed_id):
            raise Problem(404, "not-found", f"no feed with id {feed_id}")

    await db.write(run)


# Dead letters ------------------------------------------------------------------------------


def dead_letters(
    conn: Connection, *, everything: bool = False, limit: int = 50, after: int | None = None
) -> list[dict[str, Any]]:
    """Dead letters by id (open ones unless ``everything``), ``limit`` after id ``after``."""
    stmt = sa.select(DEAD_LETTER).order_by(DEAD_LETTER.c.id).limit(limit)
    if not everything:
        stmt = stmt.where(DEAD_LETTER.c.replayed_at.is_(None))
    if after is not None:
        stmt = stmt.where(DEAD_LETTER.c.id > after)
    return [
        {
            "id": r.id,
            "stage": r.stage,
            "key": r.key,
            "error": r.error,
            "attempts": r.attempts,
            "first_failed_at": as_utc(r.first_failed_at),
            "last_failed_at": as_utc(r.last_failed_at),
            "replayed_at": as_utc(r.replayed_at),
        }
        for r in conn.execute(stmt)
    ]


class DeferredEnqueuer:
    """In-process mode: the web server does not run the entity stage itself (it would load
    the NER model into the web process). Replayed articles are back in ``queued``, which the
    running service or the next ``newsingest sweep`` picks up."""

    def send(self, url_hashes: list[str]) -> int:
        return 0


def replay_enqueuer(settings: Settings) -> Any:
    if settings.in_process:
        return DeferredEnqueuer()
    from newsingest.wiring import make_enqueuer

    return make_enqueuer(settings)


async def replay(db: WebDB, letter_id: int, enqueuer: Any) -> dict[str, Any]:
    from workers.replay import replay as run

    try:
        result = await db.call(run, db.writer, db.settings, enqueuer, [letter_id])
    finally:
        close = getattr(enqueuer, "close", None)
        if close is not None:
            close()
    if result.refused:
        _, why = result.refused[0]
        status = 404 if why.startswith("no open dead letter") else 409
        raise Problem(status, "not-replayed", f"dead letter {letter_id}: {why}")
    return {
        "replayed": result.replayed,
        "articles": result.articles,
        "deferred": isinstance(enqueuer, DeferredEnqueuer),
    }
