"""A real poll sets each feed's interval from its entries, TTL and Cache-Control."""

from __future__ import annotations

import asyncio
import html
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from ingest.poll import NoEnqueuer, run_poll
from schemas.db import make_engine, upgrade
from schemas.models import Feed, as_utc
from schemas.settings import load_settings
from tests.support.httpserver import LoopbackServer

FEED = Feed.__table__  # type: ignore[attr-defined]


def feed_row(engine: sa.engine.Engine, url: str) -> sa.Row[tuple[object, ...]]:
    with engine.connect() as conn:
        return conn.execute(sa.select(FEED).where(FEED.c.url == url)).one()


def _rss(dates: list[datetime], base: str, ttl: int | None = None) -> str:
    items = "".join(
        f"<item><title>t{i}</title><link>{html.escape(base)}/a{i}.html</link>"
        f"<pubDate>{d.strftime('%a, %d %b %Y %H:%M:%S GMT')}</pubDate></item>"
        for i, d in enumerate(dates)
    )
    ttl_el = f"<ttl>{ttl}</ttl>" if ttl else ""
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>{ttl_el}'
        f"{items}</channel></rss>"
    )


@pytest.mark.integration
def test_a_poll_sets_the_interval_from_the_feed(
    http_server: LoopbackServer, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)
    hourly = [now - timedelta(hours=h) for h in (0.5, 1.5, 2.5, 3.5)]
    # Links to pages that do not exist: the poll outcome of the feed is what matters here.
    http_server.add("/hourly.xml", _rss(hourly, http_server.url("/h")), content_type="text/xml")
    http_server.add(
        "/ttl.xml", _rss(hourly, http_server.url("/t"), ttl=240), content_type="text/xml"
    )
    http_server.add(
        "/cached.xml",
        _rss([], http_server.url("/c")),
        content_type="text/xml",
        headers={"Cache-Control": "max-age=5400"},
    )
    http_server.add("/gone.xml", "gone", status=410)
    monkeypatch.setenv("NEWSINGEST_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("NEWSINGEST_ALLOWED_NETWORKS", "127.0.0.0/8")
    monkeypatch.setenv("NEWSINGEST_MIN_POLL_INTERVAL", "60")
    settings = load_settings()
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    urls = [http_server.url(p) for p in ("/hourly.xml", "/ttl.xml", "/cached.xml", "/gone.xml")]
    with engine.begin() as conn:
        conn.execute(sa.insert(FEED), [{"url": u} for u in urls])
    summary = asyncio.run(run_poll(settings, engine, NoEnqueuer(), everything=True, processes=0))
    assert summary.feeds_deactivated == 1
    rows = {u: feed_row(engine, u) for u in urls}
    assert rows[urls[0]].poll_interval == 1800  # hourly entries -> every 30 min
    assert rows[urls[1]].poll_interval == 14_400  # ttl 240 minutes is a floor
    assert rows[urls[1]].hint_interval == 14_400
    assert rows[urls[2]].poll_interval == 5400  # no dates: max-age is the floor
    assert rows[urls[3]].active is False
    assert rows[urls[3]].deactivated_reason.startswith("410 Gone")
    for u in urls[:3]:
        row = rows[u]
        delta = as_utc(row.next_poll_at) - as_utc(row.last_success_at)
        assert delta == timedelta(seconds=row.poll_interval)
