"""Which feeds are due, the per-feed poll lock, and the next poll time.

The lock is a conditional UPDATE on the feed row (``locked_until`` in the past or unset), so
two overlapping ``newsingest poll`` runs, from cron or by hand, on one machine or several
sharing a database, never poll the same feed at once. A lock expires after
``NEWSINGEST_LOCK_TTL`` seconds, so a run killed mid-poll does not block its feeds for good.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from schemas.models import Feed, utcnow

FEED = Feed.__table__  # type: ignore[attr-defined]
MAX_BACKOFF = timedelta(days=1)


def owner_id() -> str:
    """Identifies this run in ``feed.lock_owner`` (host, pid and a random part)."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True, slots=True)
class DueFeed:
    id: int
    url: str
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    poll_interval: int
    consecutive_failures: int
    respect_robots: bool


def due_feeds(
    conn: Connection,
    *,
    now: datetime | None = None,
    everything: bool = False,
    urls: list[str] | None = None,
    limit: int | None = None,
) -> list[DueFeed]:
    """Active feeds whose next poll time has come (or all of them, or those named)."""
    now = now or utcnow()
    stmt = sa.select(FEED).where(FEED.c.active.is_(True)).order_by(FEED.c.next_poll_at)
    if urls is not None:
        stmt = stmt.where(FEED.c.url.in_(urls))
    elif not everything:
        stmt = stmt.where(FEED.c.next_poll_at <= now)
    if limit:
        stmt = stmt.limit(limit)
    return [
        DueFeed(
            id=row.id,
            url=row.url,
            etag=row.etag,
            last_modified=row.last_modified,
            body_hash=row.body_hash,
            poll_interval=row.poll_interval,
            consecutive_failures=row.consecutive_failures,
            respect_robots=row.respect_robots,
        )
        for row in conn.execute(stmt)
    ]


def lock_feed(
    conn: Connection, feed_id: int, owner: str, ttl: float, *, now: datetime | None = None
) -> bool:
    """Take the poll lock on a feed; False if another run holds an unexpired one."""
    now = now or utcnow()
    result = conn.execute(
        sa.update(FEED)
        .where(FEED.c.id == feed_id)
        .where(sa.or_(FEED.c.locked_until.is_(None), FEED.c.locked_until < now))
        .values(locked_until=now + timedelta(seconds=ttl), lock_owner=owner)
    )
    return result.rowcount == 1


def unlock_feed(conn: Connection, feed_id: int, owner: str) -> None:
    conn.execute(
        sa.update(FEED)
        .where(FEED.c.id == feed_id, FEED.c.lock_owner == owner)
        .values(locked_until=None, lock_owner=None)
    )


def next_poll_after_failure(
    interval: int, failures: int, retry_after: float | None, now: datetime
) -> datetime:
    """Exponential backoff on consecutive failures, at least Retry-After, at most a day."""
    delay = timedelta(seconds=interval * (2 ** min(failures, 10)))
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=retry_after))
    return now + min(delay, MAX_BACKOFF)


def record_success(
    conn: Connection,
    feed: DueFeed,
    *,
    status: int,
    etag: str | None,
    last_modified: str | None,
    body_hash: str | None,
    kind: str | None = None,
    title: str | None = None,
    warning: str | None = None,
    now: datetime | None = None,
) -> None:
    """A poll that got an answer (200 or 304): reset failures, schedule the next poll."""
    now = now or utcnow()
    values: dict[str, object] = {
        "last_polled_at": now,
        "last_success_at": now,
        "consecutive_failures": 0,
        "last_status": status,
        "last_error": warning,
        "next_poll_at": now + timedelta(seconds=feed.poll_interval),
        "etag": etag,
        "last_modified": last_modified,
        "body_hash": body_hash,
    }
    if kind:
        values["kind"] = kind
    if title:
        values["title"] = sa.func.coalesce(FEED.c.title, title[:1024])
    conn.execute(sa.update(FEED).where(FEED.c.id == feed.id).values(**values))


def record_failure(
    conn: Connection,
    feed: DueFeed,
    *,
    error: str,
    status: int | None = None,
    retry_after: float | None = None,
    now: datetime | None = None,
) -> None:
    """A failed poll: count it, keep the reason, back off."""
    now = now or utcnow()
    failures = feed.consecutive_failures + 1
    conn.execute(
        sa.update(FEED)
        .where(FEED.c.id == feed.id)
        .values(
            last_polled_at=now,
            consecutive_failures=failures,
            last_status=status,
            last_error=error[:2048],
            next_poll_at=next_poll_after_failure(feed.poll_interval, failures, retry_after, now),
        )
    )


def next_due(conn: Connection) -> datetime | None:
    """When the next active feed is due (UTC), or None without active feeds."""
    from schemas.models import as_utc

    stmt = sa.select(sa.func.min(FEED.c.next_poll_at)).where(FEED.c.active.is_(True))
    return as_utc(conn.execute(stmt).scalar())
