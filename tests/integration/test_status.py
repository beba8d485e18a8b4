"""`newsingest status` and `newsingest feeds health` on seeded rows; queue depth on real Redis.

Redis tests use database 13 through their own fixture (database 15 belongs to other tests).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ingest.status import feed_health
from newsingest.cli.common import EXIT_INFRA, EXIT_UNHEALTHY
from schemas.db import make_engine
from schemas.models import Article, DeadLetter, Feed, utcnow
from schemas.settings import load_settings
from tests.conftest import flushed_redis
from tests.support.cli import invoke

REDIS_URL = os.environ.get("NEWSINGEST_TEST_REDIS_STATUS", "redis://127.0.0.1:6379/13")


@pytest.fixture
def redis13() -> Iterator[Any]:
    """The real Redis, database 13, flushed before and after the test (a client to it)."""
    with flushed_redis(REDIS_URL) as client:
        yield client


@pytest.fixture
def db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_url: str) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEWSINGEST_DATABASE_URL", sqlite_url)
    code, out, _ = invoke("init")
    assert code == 0, out
    return sqlite_url


def seed(url: str, now: datetime) -> None:
    """Four feeds (healthy, failing, deactivated, stale), articles at various ages, and one
    open and one replayed dead letter."""
    engine = make_engine(url)
    ago = lambda **kw: now - timedelta(**kw)  # noqa: E731
    feed = Feed.__table__  # type: ignore[attr-defined]
    article = Article.__table__  # type: ignore[attr-defined]
    common = {"poll_interval": 900, "next_poll_at": now + timedelta(minutes=10)}
    try:
        with engine.begin() as conn:
            for values in [
                    {"id": 1, "url": "https://ok.example/rss", **common,
                     "last_success_at": ago(minutes=5), "last_polled_at": ago(minutes=5)},
                    {"id": 2, "url": "https://failing.example/rss", **common,
                     "last_success_at": ago(hours=1), "consecutive_failures": 2,
                     "last_status": 500, "last_error": "http_500: server error"},
                    {"id": 3, "url": "https://gone.example/rss", **common, "active": False,
                     "deactivated_at": ago(days=1), "deactivated_reason": "http_410: gone",
                     "consecutive_failures": 1},
                    {"id": 4, "url": "https://quiet.example/rss", **common,
                     "last_success_at": ago(hours=2)},
            ]:  # fmt: skip
                conn.execute(sa.insert(feed).values(**values))
            rows: list[dict[str, Any]] = []
            for i, (feed_id, age, status) in enumerate(
                [
                    (1, ago(minutes=10), "processed"),
                    (1, ago(minutes=20), "processed"),
                    (1, ago(minutes=30), "queued"),
                    (2, ago(minutes=40), "failed"),
                    (1, ago(hours=5), "processed"),
                    (1, ago(hours=6), "processed"),
                    (1, ago(days=3), "processed"),
                    (1, ago(days=10), "processed"),  # outside the 7 days
                ]
            ):
                rows.append(
                    {"url": f"https://a.example/{i}", "url_hash": f"{i:064x}",
                     "feed_id": feed_id, "status": status, "fetched_at": age}
                )  # fmt: skip
            conn.execute(sa.insert(article), rows)
            letters = DeadLetter.__table__  # type: ignore[attr-defined]
            conn.execute(
                sa.insert(letters).values(stage="extract", message="{}", error="nlp_failed: b")
            )
            conn.execute(
                sa.insert(letters).values(
                    stage="extract",
                    message="{}",
                    error="worker_lost: x",
                    replayed_at=ago(minutes=1),
                )
            )
    finally:
        engine.dispose()


def table(out: str) -> list[list[str]]:
    return [line.split("\t") for line in out.splitlines() if line]


@pytest.mark.integration
def test_status_without_a_broker(db: str) -> None:
    seed(db, utcnow())
    code, out, err = invoke("status")
    assert code == 0, err
    lines = table(out)
    assert lines[0] == ["what", "value"]
    values = {row[0]: row[1] for row in lines[1:8]}
    assert values == {
        "broker": "none (in-process mode: no queues, no workers)",
        "articles last hour": "4 (failed 1, processed 2, queued 1)",
        "articles last day": "6 (failed 1, processed 4, queued 1)",
        "dead letters open": "1",
        "feeds": "4 (3 active)",
        "unhealthy feeds": "3",
        "id": "url",  # header of the unhealthy-feeds table that follows
    }
    unhealthy = {row[1]: row for row in lines[8:]}
    assert sorted(unhealthy) == [
        "https://failing.example/rss", "https://gone.example/rss", "https://quiet.example/rss",
    ]  # fmt: skip
    failing = unhealthy["https://failing.example/rss"]
    assert (failing[2], failing[4]) == ("failing", "2")
    assert unhealthy["https://gone.example/rss"][2] == "deactivated"
    assert unhealthy["https://gone.example/rss"][-1] == "http_410: gone"
    assert unhealthy["https://quiet.example/rss"][2] == "stale"

    code, out, _ = invoke("status", "--json")
    assert code == 0
    data = json.loads(out)
    assert (data["broker"], data["queues"], data["workers"]) == (None, None, None)
    assert data["articles_last_day"] == {"failed": 1, "processed": 4, "queued": 1}
    assert data["dead_letters_open"] == 1
    assert [f["state"] for f in data["unhealthy"]] == ["failing", "deactivated", "stale"]


@pytest.mark.integration
def test_status_check_exits_4_with_the_reasons_and_0_when_all_is_well(db: str) -> None:
    code, out, err = invoke("status", "--check")
    assert code == 0, err  # no feeds, no dead letters, no broker: nothing to report
    assert "unhealthy" not in err
    seed(db, utcnow())
    code, out, err = invoke("status", "--check")
    assert code == EXIT_UNHEALTHY
    assert "dead letters open\t1" in out  # the report is printed as usual
    problems = [line for line in err.splitlines() if line.startswith("unhealthy: ")]
    assert problems == [
        "unhealthy: 1 open dead letter(s) (`newsingest dlq list`)",
        "unhealthy: 1 deactivated feed(s) (`newsingest feeds health --unhealthy`)",
        "unhealthy: 1 failing feed(s) (`newsingest feeds health --unhealthy`)",
        "unhealthy: 1 stale feed(s) (`newsingest feeds health --unhealthy`)",
    ]
    code, out, _ = invoke("status", "--check", "--json")
    assert code == EXIT_UNHEALTHY
    assert json.loads(out)["dead_letters_open"] == 1


@pytest.mark.integration
def test_feeds_health_table_and_filter(db: str) -> None:
    seed(db, utcnow())
    code, out, err = invoke("feeds", "health")
    assert code == 0, err
    lines = table(out)
    assert lines[0] == [
        "id", "url", "state", "last success", "failures", "articles/day", "next poll",
        "interval", "reason",
    ]  # fmt: skip
    rows = {row[1]: row for row in lines[1:]}
    ok = rows["https://ok.example/rss"]
    assert ok[2] == "active"
    assert ok[4] == "0"
    assert ok[5] == "0.9"  # 6 articles in the last 7 days (one older is not counted)
    assert ok[6] != ""
    assert ok[7] == "15m"
    failing = rows["https://failing.example/rss"]
    assert (failing[2], failing[4], failing[5]) == ("failing", "2", "0.1")
    assert failing[8] == "http_500: server error"
    gone = rows["https://gone.example/rss"]
    assert (gone[2], gone[6], gone[8]) == ("deactivated", "", "http_410: gone")
    assert rows["https://quiet.example/rss"][2] == "stale"
    assert "4 feed(s), 3 unhealthy" in err

    code, out, _ = invoke("feeds", "health", "--unhealthy")
    assert code == 0
    assert [row[1] for row in table(out)[1:]] == [
        "https://failing.example/rss", "https://gone.example/rss", "https://quiet.example/rss",
    ]  # fmt: skip

    code, out, _ = invoke("feeds", "health", "--json")
    assert code == 0
    data = {f["url"]: f for f in json.loads(out)}
    assert data["https://ok.example/rss"]["articles_per_day"] == pytest.approx(6 / 7, abs=0.01)
    assert data["https://gone.example/rss"]["next_poll_at"] is None


@pytest.mark.integration
def test_feed_health_states_at_a_given_time(db: str) -> None:
    now = utcnow()
    seed(db, now)
    engine = make_engine(db)
    try:
        with engine.connect() as conn:
            later = {f.url: f.state for f in feed_health(conn, now + timedelta(hours=1))}
    finally:
        engine.dispose()
    # An hour later the healthy feed's last success is 65 minutes old: over 3 x 15 min.
    assert later["https://ok.example/rss"] == "stale"


@pytest.mark.integration
def test_status_reads_queue_depths_from_redis(
    db: str, redis13: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    redis13.lpush("entities", "m1", "m2", "m3")
    redis13.lpush("entities\x06\x163", "m4")  # kombu's priority sub-queue counts too
    redis13.lpush("fetch", "f1")
    redis13.hset("unacked", mapping={"tag1": "x", "tag2": "y"})
    monkeypatch.setenv("NEWSINGEST_BROKER_URL", REDIS_URL)
    code, out, err = invoke("status")
    assert code == 0, err
    values = {row[0]: row[1] for row in table(out)[1:] if len(row) == 2}
    assert values["broker"] == REDIS_URL
    assert values["queue entities"] == "4"
    assert values["queue fetch"] == "1"
    assert values["unacked"] == "2"
    assert values["workers"] == "0"  # nobody consumes database 13

    code, out, _ = invoke("status", "--json")
    assert json.loads(out)["queues"] == {"entities": 4, "fetch": 1}

    code, _, err = invoke("status", "--check")
    assert code == EXIT_UNHEALTHY
    assert "unhealthy: no worker answered a ping (queued articles wait)" in err


@pytest.mark.integration
def test_queue_depth_collector_on_the_metrics_endpoint(redis13: Any) -> None:
    import httpx

    from schemas.metrics_server import start_metrics_server

    redis13.lpush("entities", "m1", "m2")
    server = start_metrics_server(
        load_settings(metrics_port=0, broker_url=REDIS_URL), addr="127.0.0.1"
    )
    assert server is not None
    try:
        with httpx.Client(trust_env=False, timeout=5) as client:
            text = client.get(f"http://127.0.0.1:{server.port}/metrics").text
    finally:
        server.close()
    assert 'newsingest_queue_depth{queue="entities"} 2.0' in text
    assert 'newsingest_queue_depth{queue="fetch"} 0.0' in text
    assert "newsingest_queue_unacked 0.0" in text
    assert "newsingest_broker_up 1.0" in text


@pytest.mark.integration
def test_status_with_the_broker_down_exits_3(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Port 1 on loopback: nothing listens there, the connection is refused at once.
    monkeypatch.setenv("NEWSINGEST_BROKER_URL", "redis://127.0.0.1:1/0")
    code, _, err = invoke("status")
    assert code == EXIT_INFRA
    assert "broker unavailable" in err


def test_feeds_reactivate_puts_a_deactivated_feed_back(db: str) -> None:
    seed(db, utcnow())
    code, out, err = invoke("feeds", "reactivate", "https://gone.example/rss")
    assert code == 0, err
    assert "reactivated https://gone.example/rss" in out
    code, out, _ = invoke("feeds", "health", "--json")
    gone = {f["url"]: f for f in json.loads(out)}["https://gone.example/rss"]
    assert gone["state"] != "deactivated"
    assert gone["consecutive_failures"] == 0
    code, _, err = invoke("feeds", "reactivate", "https://never.example/rss")
    assert code == 1
    assert "not subscribed" in err
