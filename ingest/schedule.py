"""Which feeds are due, the per-feed poll lock, and the next poll time.

The lock is a conditional UPDATE on the feed row (``locked_until`` in the past or unset), so
two overlapping ``newsingest poll`` runs, from cron or by hand, on one machine or several
sharing a database, never poll the same feed at once. A lock expires after
``NEWSINGEST_LOCK_TTL`` seconds, so a run killed mid-poll does not block its feeds for good.
"""

from __future__ import annotations

import itertools
import os
import socket
import statistics
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from schemas.errors import backoff
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
    hint_interval: int | None = None


def due_feeds(
    conn: Connection,
    *,
    now: datetime | None = None,
    everything: bool = False,
    urls: list[str] | None = None,
    ids: list[int] | None = None,
    limit: int | None = None,
) -> list[DueFeed]:
    """Active feeds whose next poll time has come (or all of them, or those named)."""
    now = now or utcnow()
    stmt = sa.select(FEED).where(FEED.c.active.is_(True)).order_by(FEED.c.next_poll_at)
    if ids is not None:
        stmt = stmt.where(FEED.c.id.in_(ids))
    elif urls is not None:
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
            hint_interval=row.hint_interval,
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


# Adaptive polling ---------------------------------------------------------------------------

RECENT_ENTRIES = 20  # publication times the interval is estimated from
POLLS_PER_ENTRY = 2  # poll about twice per expected new entry
GROW = 1.5  # unchanged feed without dates: wait longer next time
SHRINK = 0.75  # changed feed without dates: come back sooner


def publish_gap(times: Iterable[datetime | None], now: datetime) -> float | None:
    """Median seconds between a feed's recent publications, or None with fewer than 3 dates.

    Future dates (clock skew, scheduled posts) are ignored. When the newest entry is older
    than the typical gap, the feed has gone quiet: the time since it counts as the gap.
    """
    stamps = sorted({t for t in times if t is not None and t <= now}, reverse=True)
    stamps = stamps[:RECENT_ENTRIES]
    if len(stamps) < 3:
        return None
    gaps = [(a - b).total_seconds() for a, b in itertools.pairwise(stamps)]
    gap = statistics.median(gaps)
    return max(gap, (now - stamps[0]).total_seconds() / POLLS_PER_ENTRY)


def adaptive_interval(
    current: int,
    *,
    changed: bool,
    gap: float | None,
    hint: int | None,
    min_interval: int,
    max_interval: int,
) -> int:
    """Seconds until the next poll after a successful one.

    - From publication dates when the feed has them: half the median gap between entries.
    - Otherwise from change: a changed feed is polled sooner, an unchanged one later.
    - The feed's own hint (RSS ttl, sy:updatePeriod, Cache-Control max-age) is a floor: the
      publisher asked not to be polled more often.
    - Bounded by NEWSINGEST_MIN_POLL_INTERVAL and NEWSINGEST_MAX_POLL_INTERVAL.
    """
    by_change = current * (SHRINK if changed else GROW)
    interval = gap / POLLS_PER_ENTRY if gap is not None else by_change
    if hint is not None:
        interval = max(interval, hint)
    return int(min(max(interval, min_interval), max_interval))


def cache_max_age(cache_control: str | None) -> int | None:
    """``max-age`` (or ``s-maxage``) of a Cache-Control header, in seconds."""
    if not cache_control:
        return None
    found: int | None = None
    for part in cache_control.lower().split(","):
        name, _, value = part.strip().partition("=")
        if name in ("no-store", "no-cache"):
            return None
        if name in ("max-age", "s-maxage") and value.strip().strip('"').isdigit():
            found = max(found or 0, int(value.strip().strip('"')))
    return found


def combine_hints(*hints: int | None) -> int | None:
    values = [h for h in hints if h is not None and h > 0]
    return max(values) if values else None


def next_poll_after_failure(
    interval: int, failures: int, retry_after: float | None, now: datetime
) -> datetime:
    """Exponential backoff on consecutive failures (the feed's interval doubling, at most
    1024 times it), at least Retry-After, at most a day."""
    cap = MAX_BACKOFF.total_seconds()
    delay = timedelta(seconds=backoff(min(failures, 10), base=interval, cap=cap, jitter=False))
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
    interval: int | None = None,
    hint: int | None = None,
    now: datetime | None = None,
) -> None:
    """A poll that got an answer (200 or 304): reset failures, schedule the next poll
    ``interval`` seconds on (default: the feed's current interval)."""
    now = now or utcnow()
    interval = interval or feed.poll_interval
    values: dict[str, object] = {
        "last_polled_at": now,
        "last_success_at": now,
        "consecutive_failures": 0,
        "last_status": status,
        "last_error": warning,
        "poll_interval": interval,
        "hint_interval": hint,
        "next_poll_at": now + timedelta(seconds=interval),
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
    deactivate_after: int | None = None,
    now: datetime | None = None,
) -> str | None:
    """A failed poll: count it, keep the reason, back off exponentially.

    410 Gone deactivates the feed at once; so does the ``deactivate_after``-th failure in a
    row. Returns the deactivation reason, or None while the feed stays active.
    """
    now = now or utcnow()
    failures = feed.consecutive_failures + 1
    values: dict[str, object] = {
        "last_polled_at": now,
        "consecutive_failures": failures,
        "last_status": status,
        "last_error": error[:2048],
        "next_poll_at": next_poll_after_failure(feed.poll_interval, failures, retry_after, now),
    }
    reason = None
    if status == 410:
        reason = f"410 Gone: {error}"
    elif deactivate_after is not None and failures >= deactivate_after:
        reason = f"{failures} failed polls in a row, last: {error}"
    if reason is not None:
        values.update(active=False, deactivated_at=now, deactivated_reason=reason[:1024])
    conn.execute(sa.update(FEED).where(FEED.c.id == feed.id).values(**values))
    return reason


def reactivate(conn: Connection, feed_id: int, *, now: datetime | None = None) -> bool:
    """Put a deactivated feed back in the schedule (due now, failures reset)."""
    result = conn.execute(
        sa.update(FEED)
        .where(FEED.c.id == feed_id)
        .values(
            active=True,
            deactivated_at=None,
            deactivated_reason=None,
            consecutive_failures=0,
            next_poll_at=now or utcnow(),
        )
    )
    return bool(result.rowcount)


def claim_due(
    conn: Connection, *, lease: float, limit: int = 1000, now: datetime | None = None
) -> list[tuple[int, str]]:
    """Take the due feeds for enqueueing: (id, url) pairs, each handed out once.

    The claim moves ``next_poll_at`` a lease ahead in one conditional UPDATE. A second
    scheduler running the same statement at the same time waits for the row locks and then
    re-checks ``next_poll_at <= now`` on the committed rows (PostgreSQL READ COMMITTED), so it
    skips them; on SQLite writers are serialised (BEGIN IMMEDIATE). If the poll task is lost,
    the feed is due again when the lease ends; the poll itself sets the real next time.
    """
    now = now or utcnow()
    due = (
        sa.select(FEED.c.id)
        .where(FEED.c.active.is_(True), FEED.c.next_poll_at <= now)
        .order_by(FEED.c.next_poll_at)
        .limit(limit)
        .scalar_subquery()
    )
    stmt = (
        sa.update(FEED)
        .where(FEED.c.id.in_(due), FEED.c.next_poll_at <= now, FEED.c.active.is_(True))
        .values(next_poll_at=now + timedelta(seconds=lease))
        .returning(FEED.c.id, FEED.c.url)
    )
    return sorted((row.id, row.url) for row in conn.execute(stmt))


def release_claim(conn: Connection, feed_ids: list[int], *, now: datetime | None = None) -> None:
    """Undo :func:`claim_due` for feeds whose task could not be sent."""
    if feed_ids:
        conn.execute(
            sa.update(FEED).where(FEED.c.id.in_(feed_ids)).values(next_poll_at=now or utcnow())
        )


def next_due(conn: Connection) -> datetime | None:
    """When the next active feed is due (UTC), or None without active feeds."""
    from schemas.models import as_utc

    stmt = sa.select(sa.func.min(FEED.c.next_poll_at)).where(FEED.c.active.is_(True))
    return as_utc(conn.execute(stmt).scalar())
