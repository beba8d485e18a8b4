"""What ``newsingest status`` and ``newsingest feeds health`` report.

Read-only: queue depths and workers from the broker (when one is configured), everything
else from the database, which knows every article in flight and every feed's health.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from schemas.errors import BrokerUnavailable
from schemas.models import Article, DeadLetter, Feed, as_utc, utcnow
from schemas.settings import Settings, mask_url

FEED = Feed.__table__  # type: ignore[attr-defined]
ARTICLE = Article.__table__  # type: ignore[attr-defined]
DEAD_LETTER = DeadLetter.__table__  # type: ignore[attr-defined]

#: A feed whose last success is older than this many poll intervals is stale.
STALE_INTERVALS = 3
#: Articles per day are averaged over this many days.
RATE_DAYS = 7


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """One feed's state: ``active`` (healthy), ``failing`` (its last poll(s) failed),
    ``stale`` (no success for 3 poll intervals, or never) or ``deactivated``."""

    id: int
    url: str
    title: str | None
    state: str
    reason: str | None  # deactivation reason, last error, or why it is stale
    last_success_at: datetime | None
    last_polled_at: datetime | None
    consecutive_failures: int
    last_status: int | None
    articles_per_day: float  # article rows from this feed over the last 7 days / 7
    next_poll_at: datetime | None
    poll_interval: int

    @property
    def healthy(self) -> bool:
        return self.state == "active"


def _state(row: Any, now: datetime) -> tuple[str, str | None]:
    if not row.active:
        return "deactivated", row.deactivated_reason or "inactive"
    if row.consecutive_failures > 0:
        return "failing", row.last_error
    stale_after = timedelta(seconds=STALE_INTERVALS * max(1, row.poll_interval))
    last_success = as_utc(row.last_success_at)
    if last_success is None:
        created = as_utc(row.created_at)
        if created is not None and now - created > stale_after:
            return "stale", "never polled successfully"
    elif now - last_success > stale_after:
        return "stale", f"no success for over {STALE_INTERVALS} poll intervals"
    return "active", None


def feed_health(conn: Connection, now: datetime | None = None) -> list[FeedHealth]:
    """Every feed's health, by id."""
    now = now or utcnow()
    since = now - timedelta(days=RATE_DAYS)
    counts: dict[int, int] = {
        int(feed_id): int(n)
        for feed_id, n in conn.execute(
            sa.select(ARTICLE.c.feed_id, sa.func.count())
            .where(ARTICLE.c.feed_id.is_not(None), ARTICLE.c.fetched_at >= since)
            .group_by(ARTICLE.c.feed_id)
        )
    }
    out: list[FeedHealth] = []
    for row in conn.execute(sa.select(FEED).order_by(FEED.c.id)):
        state, reason = _state(row, now)
        out.append(
            FeedHealth(
                id=row.id,
                url=row.url,
                title=row.title,
                state=state,
                reason=reason,
                last_success_at=as_utc(row.last_success_at),
                last_polled_at=as_utc(row.last_polled_at),
                consecutive_failures=row.consecutive_failures,
                last_status=row.last_status,
                articles_per_day=round(counts.get(row.id, 0) / RATE_DAYS, 2),
                next_poll_at=as_utc(row.next_poll_at) if row.active else None,
                poll_interval=row.poll_interval,
            )
        )
    return out


@dataclass
class Status:
    now: datetime
    broker: str | None  # masked broker URL; None in in-process mode
    queues: dict[str, int] | None  # messages waiting per queue; None without a broker
    unacked: int | None  # delivered, not yet acknowledged (all queues)
    workers: list[str] | None  # Celery workers that answered a ping; None without a broker
    articles_last_hour: dict[str, int]  # by status, articles first fetched in the last hour
    articles_last_day: dict[str, int]
    dead_letters_open: int
    feeds_total: int
    feeds_active: int
    unhealthy: list[FeedHealth] = field(default_factory=list)

    def problems(self) -> list[str]:
        """What needs a person (``newsingest status --check``), one line each."""
        found: list[str] = []
        if self.workers is not None and not self.workers:
            found.append("no worker answered a ping (queued articles wait)")
        if self.dead_letters_open:
            found.append(f"{self.dead_letters_open} open dead letter(s) (`newsingest dlq list`)")
        by_state: dict[str, int] = {}
        for feed in self.unhealthy:
            by_state[feed.state] = by_state.get(feed.state, 0) + 1
        for state, count in sorted(by_state.items()):
            found.append(f"{count} {state} feed(s) (`newsingest feeds health --unhealthy`)")
        return found

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["unhealthy"] = [
            {**asdict(f), "healthy": f.healthy} for f in self.unhealthy
        ]  # fmt: skip
        return data


def _by_status(conn: Connection, since: datetime) -> dict[str, int]:
    rows = conn.execute(
        sa.select(ARTICLE.c.status, sa.func.count())
        .where(ARTICLE.c.fetched_at >= since)
        .group_by(ARTICLE.c.status)
        .order_by(ARTICLE.c.status)
    ).all()
    return {status: int(n) for status, n in rows}


def broker_status(
    settings: Settings, *, timeout: float = 1.0
) -> tuple[dict[str, int], int, list[str]]:
    """Queue depths, unacked count and the workers answering a ping (waits ``timeout`` s).

    Raises BrokerUnavailable when Redis does not answer."""
    import redis

    from schemas.metrics_server import queue_depths
    from schemas.queue import make_app

    broker_url = settings.broker_url
    if broker_url is None:
        raise ValueError("no broker configured")
    client = redis.Redis.from_url(
        broker_url, socket_timeout=max(timeout, 2.0), socket_connect_timeout=max(timeout, 2.0)
    )
    try:
        client.ping()
        depths, unacked = queue_depths(client)
    except redis.RedisError as exc:
        raise BrokerUnavailable(f"{mask_url(broker_url)}: {exc}") from None
    finally:
        client.close()
    app = make_app(settings)
    try:
        replies = app.control.ping(timeout=timeout) or []
    except Exception as exc:  # kombu's connection errors are not one class
        raise BrokerUnavailable(f"{mask_url(broker_url)}: {exc}") from None
    finally:
        app.close()
    workers = sorted(name for reply in replies for name in reply)
    return depths, unacked, workers


def collect_status(
    settings: Settings, engine: Engine, *, now: datetime | None = None, timeout: float = 1.0
) -> Status:
    """Everything ``newsingest status`` prints. Raises BrokerUnavailable when a broker is
    configured and does not answer; a database that does not answer raises its driver's
    error, which the caller turns into DatabaseUnavailable (``schemas.db.translate_errors``)."""
    now = now or utcnow()
    with engine.connect() as conn:
        last_hour = _by_status(conn, now - timedelta(hours=1))
        last_day = _by_status(conn, now - timedelta(days=1))
        open_letters = conn.execute(
            sa.select(sa.func.count())
            .select_from(DEAD_LETTER)
            .where(DEAD_LETTER.c.replayed_at.is_(None))
        ).scalar_one()
        health = feed_health(conn, now)
    status = Status(
        now=now,
        broker=mask_url(settings.broker_url),
        queues=None,
        unacked=None,
        workers=None,
        articles_last_hour=last_hour,
        articles_last_day=last_day,
        dead_letters_open=int(open_letters),
        feeds_total=len(health),
        feeds_active=sum(1 for f in health if f.state != "deactivated"),
        unhealthy=[f for f in health if not f.healthy],
    )
    if settings.broker_url:
        status.queues, status.unacked, status.workers = broker_status(settings, timeout=timeout)
    return status
