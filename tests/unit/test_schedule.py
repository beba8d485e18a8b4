"""Adaptive polling, deactivation and the scheduler's claim (issue 8)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from ingest import schedule
from schemas.db import make_engine, upgrade
from schemas.models import Feed, as_utc

FEED = Feed.__table__  # type: ignore[attr-defined]
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def hours_ago(*hours: float) -> list[datetime]:
    return [NOW - timedelta(hours=h) for h in hours]


def interval(
    current: int = 900, *, changed: bool = True, gap: float | None = None, hint: int | None = None
) -> int:
    return schedule.adaptive_interval(
        current, changed=changed, gap=gap, hint=hint, min_interval=300, max_interval=86_400
    )


def test_publish_gap_is_the_median_gap_of_recent_entries() -> None:
    # Hourly publishing with one outlier: the median ignores it.
    assert schedule.publish_gap(hours_ago(0.1, 1.1, 2.1, 3.1, 10), NOW) == 3600
    # Fewer than three dated entries say nothing.
    assert schedule.publish_gap(hours_ago(1, 2), NOW) is None
    # Future dates are ignored; duplicates count once.
    dates = [*hours_ago(0.1, 1.1, 2.1, 2.1), NOW + timedelta(days=3), None]
    assert schedule.publish_gap(dates, NOW) == 3600


def test_a_feed_gone_quiet_is_polled_less() -> None:
    # Hourly until four days ago: the silence since counts.
    gap = schedule.publish_gap(hours_ago(96, 97, 98, 99), NOW)
    assert gap is not None
    assert gap == 48 * 3600


def test_adaptive_interval_follows_publishing_rate_within_bounds() -> None:
    assert interval(gap=3600) == 1800  # twice per expected entry
    assert interval(gap=60) == 300  # never below the minimum
    assert interval(gap=10 * 86_400) == 86_400  # never above the maximum
    # No dates: unchanged feeds back off, changed ones come back sooner.
    assert interval(900, changed=False) == 1350
    assert interval(900, changed=True) == 675
    assert interval(80_000, changed=False) == 86_400


def test_publisher_hints_are_a_floor() -> None:
    assert interval(gap=3600, hint=7200) == 7200
    assert interval(gap=3600, hint=60) == 1800
    assert schedule.cache_max_age("public, max-age=1800") == 1800
    assert schedule.cache_max_age("max-age=60, s-maxage=600") == 600
    assert schedule.cache_max_age("no-cache, max-age=600") is None
    assert schedule.cache_max_age(None) is None
    assert schedule.combine_hints(None, 900, 3600) == 3600
    assert schedule.combine_hints(None, None) is None


@pytest.fixture
def engine(sqlite_url: str) -> sa.engine.Engine:
    upgrade(sqlite_url)
    return make_engine(sqlite_url)


def feed_row(engine: sa.engine.Engine, url: str) -> sa.Row[tuple[object, ...]]:
    with engine.connect() as conn:
        return conn.execute(sa.select(FEED).where(FEED.c.url == url)).one()


def due(engine: sa.engine.Engine, url: str) -> schedule.DueFeed:
    with engine.connect() as conn:
        return schedule.due_feeds(conn, urls=[url], everything=True)[0]


def test_410_deactivates_at_once_and_a_failure_streak_later(engine: sa.engine.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.insert(FEED), [{"url": "https://a.example/f"}, {"url": "https://b.example/f"}]
        )
    feed_a = due(engine, "https://a.example/f")
    with engine.begin() as conn:
        reason = schedule.record_failure(conn, feed_a, error="HTTP 410", status=410)
    assert reason is not None
    assert reason.startswith("410 Gone")
    row = feed_row(engine, "https://a.example/f")
    assert row.active is False
    assert row.deactivated_reason.startswith("410 Gone")

    for attempt in range(1, 4):
        feed_b = due(engine, "https://b.example/f")
        with engine.begin() as conn:
            reason = schedule.record_failure(conn, feed_b, error="HTTP 503", deactivate_after=3)
        assert (reason is None) == (attempt < 3)
    row = feed_row(engine, "https://b.example/f")
    assert row.active is False
    assert "3 failed polls in a row" in row.deactivated_reason
    with engine.connect() as conn:
        assert schedule.due_feeds(conn, everything=True) == []
    with engine.begin() as conn:
        assert schedule.reactivate(conn, row.id)
    assert feed_row(engine, "https://b.example/f").consecutive_failures == 0


def test_claim_due_hands_out_due_feeds_once(engine: sa.engine.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.insert(FEED),
            [
                {
                    "url": "https://a.example/due",
                    "next_poll_at": NOW - timedelta(minutes=1),
                    "active": True,
                },
                {
                    "url": "https://a.example/later",
                    "next_poll_at": NOW + timedelta(hours=1),
                    "active": True,
                },
                {
                    "url": "https://a.example/off",
                    "next_poll_at": NOW - timedelta(minutes=1),
                    "active": False,
                },
            ],
        )
    with engine.begin() as conn:
        first = schedule.claim_due(conn, lease=600, now=NOW)
    assert [url for _, url in first] == ["https://a.example/due"]
    with engine.begin() as conn:
        assert schedule.claim_due(conn, lease=600, now=NOW) == []
    row = feed_row(engine, "https://a.example/due")
    assert as_utc(row.next_poll_at) == NOW + timedelta(seconds=600)
    with engine.begin() as conn:
        schedule.release_claim(conn, [first[0][0]], now=NOW)
        assert schedule.claim_due(conn, lease=600, now=NOW) == first
