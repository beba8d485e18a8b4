"""Counts per hour or per day, bucketed in SQL: articles fetched (the dashboard's overview)
and articles mentioning one entity (its timeline). Every bucket of the window is returned,
empty ones with 0, oldest first; times are UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from query.errors import InvalidQuery, NotFound
from query.filters import STORED_STATUSES
from query.tables import ARTICLE, ENTITY, MENTION
from schemas.models import as_utc, utcnow

MAX_BUCKETS = 24 * 92


class Interval(StrEnum):
    HOUR = "hour"
    DAY = "day"


_STEP = {Interval.HOUR: timedelta(hours=1), Interval.DAY: timedelta(days=1)}


def floor(moment: datetime, interval: Interval) -> datetime:
    moment = moment.astimezone(UTC)
    if interval is Interval.DAY:
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return moment.replace(minute=0, second=0, microsecond=0)


def _bucket(conn: Connection, column: Any, interval: Interval) -> Any:
    """The start of a row's bucket: a UTC timestamp on PostgreSQL, a text on SQLite."""
    if conn.dialect.name == "postgresql":
        return sa.func.date_trunc(interval.value, sa.func.timezone("UTC", column))
    pattern = "%Y-%m-%d 00:00:00" if interval is Interval.DAY else "%Y-%m-%d %H:00:00"
    return sa.func.strftime(pattern, column)


def _as_time(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    moment = as_utc(value)
    assert moment is not None
    return moment


def window(
    interval: Interval, since: datetime | None, until: datetime | None, *, default: int
) -> tuple[datetime, datetime]:
    """[start, end) on bucket boundaries; ``default`` buckets back from now without ``since``."""
    step = _STEP[interval]
    end = floor(until or utcnow(), interval) + step
    start = floor(since, interval) if since is not None else end - default * step
    if start >= end:
        raise InvalidQuery("since must be before until")
    if (end - start) / step > MAX_BUCKETS:
        raise InvalidQuery(f"at most {MAX_BUCKETS} buckets: narrow the window or count per day")
    return start, end


def _fill(
    rows: Any, start: datetime, end: datetime, interval: Interval
) -> list[tuple[datetime, int]]:
    counts = {_as_time(bucket): int(n) for bucket, n in rows if bucket is not None}
    step = _STEP[interval]
    out = []
    moment = start
    while moment < end:
        out.append((moment, counts.get(moment, 0)))
        moment += step
    return out


def articles_per_hour(
    conn: Connection, hours: int = 72, *, now: datetime | None = None
) -> list[tuple[datetime, int]]:
    """Articles first fetched in each of the last ``hours`` hours (whatever their status)."""
    start, end = window(Interval.HOUR, None, now, default=hours)
    bucket = _bucket(conn, ARTICLE.c.fetched_at, Interval.HOUR).label("bucket")
    rows = conn.execute(
        sa.select(bucket, sa.func.count())
        .where(ARTICLE.c.fetched_at >= start, ARTICLE.c.fetched_at < end)
        .group_by(bucket)
    ).all()
    return _fill(rows, start, end, Interval.HOUR)


def entity_timeline(
    conn: Connection,
    entity_id: int,
    *,
    interval: Interval = Interval.DAY,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[tuple[datetime, int]]:
    """Stored articles mentioning the entity, per bucket of their published time."""
    found = conn.execute(sa.select(ENTITY.c.id).where(ENTITY.c.id == entity_id)).scalar()
    if found is None:
        raise NotFound(f"no entity with id {entity_id}")
    start, end = window(interval, since, until, default=30 if interval is Interval.DAY else 72)
    bucket = _bucket(conn, ARTICLE.c.published_at, interval).label("bucket")
    rows = conn.execute(
        sa.select(bucket, sa.func.count())
        .select_from(MENTION.join(ARTICLE, ARTICLE.c.id == MENTION.c.article_id))
        .where(
            MENTION.c.entity_id == entity_id,
            ARTICLE.c.status.in_(list(STORED_STATUSES)),
            ARTICLE.c.published_at >= start,
            ARTICLE.c.published_at < end,
        )
        .group_by(bucket)
    ).all()
    return _fill(rows, start, end, interval)
