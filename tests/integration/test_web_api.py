"""The HTTP API through the real app (httpx against the ASGI app) on SQLite and PostgreSQL:
every route, the token, problem details on bad input, feeds and dead letters."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from newsingest.web import create_app
from schemas.settings import load_settings
from tests.support.httpserver import LoopbackServer
from tests.support.webapp import (
    HOSTILE,
    TOKEN,
    Newsroom,
    RecordingEnqueuer,
    bearer,
    build_newsroom,
)

pytestmark = pytest.mark.integration

Scenario = Callable[[httpx.AsyncClient], Coroutine[Any, Any, None]]
RSS = (
    '<?xml version="1.0"?><rss version="2.0"><channel><title>Loopback news</title>'
    "<link>http://127.0.0.1/</link><description>d</description></channel></rss>"
)


@pytest.fixture
def room(database_url: str) -> Newsroom:
    return build_newsroom(database_url)


@asynccontextmanager
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            yield c
    finally:
        app.state.db.dispose()


@pytest.fixture
def enqueuer() -> RecordingEnqueuer:
    return RecordingEnqueuer()


@pytest.fixture
def run(room: Newsroom, enqueuer: RecordingEnqueuer) -> Iterator[Callable[..., None]]:
    """Run a scenario against a fresh app over the newsroom (token required)."""

    def go(scenario: Scenario, **settings: Any) -> None:
        values = {"database_url": room.url, "api_token": TOKEN, **settings}
        app = create_app(load_settings(**values), enqueuer_factory=lambda _s: enqueuer)

        async def main() -> None:
            async with client(app) as c:
                await scenario(c)

        asyncio.run(main())

    return go


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert body["title"]
    assert body["detail"]
    return body  # type: ignore[no-any-return]


def test_every_route_but_the_health_checks_needs_the_token(
    run: Callable[..., None], room: Newsroom
) -> None:
    async def scenario(c: httpx.AsyncClient) -> None:
        assert (await c.get("/healthz")).status_code == 200
        ready = await c.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["revision"] == ready.json()["head"]
        paths = [
            "/api/v1/articles", f"/api/v1/articles/{room.article_id}", "/api/v1/entities",
            f"/api/v1/entities/{room.entity_id}", f"/api/v1/entities/{room.entity_id}/timeline",
            "/api/v1/feeds", f"/api/v1/feeds/{room.feed_id}/health", "/api/v1/status",
            "/api/v1/dead-letters", "/metrics", "/openapi.json",
        ]  # fmt: skip
        for path in paths:
            body = problem(await c.get(path), 401)
            assert "Bearer" in body["detail"]
            wrong = await c.get(path, headers=bearer("x" * 26))
            assert wrong.status_code == 401
            assert wrong.headers["www-authenticate"].startswith("Bearer")
            assert (await c.get(path, headers=bearer())).status_code == 200, path
        writes = [
            ("POST", "/api/v1/feeds"), ("DELETE", f"/api/v1/feeds/{room.feed_id}"),
            ("POST", f"/api/v1/feeds/{room.hostile_feed_id}/reactivate"),
            ("POST", f"/api/v1/dead-letters/{room.letter_id}/replay"),
        ]  # fmt: skip
        for method, path in writes:
            problem(await c.request(method, path, json={"urls": ["https://x.example/"]}), 401)

    run(scenario)


def test_articles_filters_search_and_keyset_pages(run: Callable[..., None], room: Newsroom) -> None:
    async def scenario(c: httpx.AsyncClient) -> None:
        h = bearer()
        seen: list[int] = []
        url = "/api/v1/articles?limit=7&entity=Berlin"
        while url:
            page = (await c.get(url, headers=h)).json()
            seen += [item["id"] for item in page["items"]]
            assert len(page["items"]) <= 7
            url = (
                f"/api/v1/articles?limit=7&entity=Berlin&cursor={page['next']}"
                if page["next"]
                else ""
            )
        assert len(seen) == len(set(seen)) == 32  # every Berlin article once, no repeat
        found = (await c.get("/api/v1/articles?q=merkel macron", headers=h)).json()["items"]
        assert [a["id"] for a in found] == [room.article_id]
        assert "Merkel" in found[0]["snippet"]
        assert "<mark>Merkel</mark>" in found[0]["snippet_html"]
        none = await c.get("/api/v1/articles?q=merkel -macron", headers=h)
        assert none.json()["items"] == []
        recent = (await c.get("/api/v1/articles?since=90m", headers=h)).json()["items"]
        assert [a["id"] for a in recent] == [room.hostile_article_id]
        by_feed = await c.get(f"/api/v1/articles?feed={room.hostile_feed_id}", headers=h)
        assert [a["id"] for a in by_feed.json()["items"]] == [room.hostile_article_id]
        people = await c.get("/api/v1/articles?entity=merkel&label=people", headers=h)
        assert [a["id"] for a in people.json()["items"]] == [room.article_id]

    run(scenario)


def test_one_article_and_entities(run: Callable[..., None], room: Newsroom) -> None:
    async def scenario(c: httpx.AsyncClient) -> None:
        h = bearer()
        article = (await c.get(f"/api/v1/articles/{room.article_id}", headers=h)).json()
        assert article["published_source"] == "meta"
        names = {e["name"]: e for e in article["entities"]}
        assert names["Angela Merkel"]["kind"] == "people"
        assert names["Berlin"]["id"] == room.entity_id
        top = (await c.get("/api/v1/entities?since=30d", headers=h)).json()["items"]
        assert top[0]["name"] == "Berlin"
        assert top[0]["articles"] == 32
        one = (await c.get(f"/api/v1/entities/{room.entity_id}", headers=h)).json()
        assert one["articles"] == 32
        assert {t["name"] for t in one["together"]} >= {"Angela Merkel", "Siemens"}
        assert len(one["latest"]) == 10
        days = (await c.get(f"/api/v1/entities/{room.entity_id}/timeline", headers=h)).json()
        assert days["interval"] == "day"
        assert len(days["points"]) == 30
        assert sum(p["articles"] for p in days["points"]) == 32
        hours = await c.get(
            f"/api/v1/entities/{room.entity_id}/timeline?interval=hour&since=24h", headers=h
        )
        points = hours.json()["points"]
        assert 24 <= len(points) <= 26
        # hours back 1, 2 and 3, 6, ..., 24 (the window starts on the hour 24 h ago)
        assert sum(p["articles"] for p in points) == 10

    run(scenario)


def test_bad_input_is_a_problem_never_a_crash(run: Callable[..., None], room: Newsroom) -> None:
    async def scenario(c: httpx.AsyncClient) -> None:
        h = bearer()
        problem(await c.get("/api/v1/articles?limit=0", headers=h), 422)
        problem(await c.get("/api/v1/articles?limit=201", headers=h), 422)
        problem(await c.get("/api/v1/articles?q=" + "x" * 501, headers=h), 422)
        problem(await c.get("/api/v1/articles?since=yesterday-ish", headers=h), 400)
        problem(await c.get("/api/v1/articles?cursor=v1.garbage.x", headers=h), 400)
        problem(await c.get("/api/v1/articles?status=nonsense", headers=h), 400)
        problem(await c.get("/api/v1/articles?sort=relevance", headers=h), 400)
        problem(await c.get("/api/v1/articles?feed=987654", headers=h), 404)
        problem(await c.get("/api/v1/articles?label=colours", headers=h), 400)
        page = (await c.get("/api/v1/articles?limit=2", headers=h)).json()
        other = await c.get(f"/api/v1/articles?limit=2&lang=de&cursor={page['next']}", headers=h)
        assert "another query" in problem(other, 400)["detail"]
        problem(await c.get("/api/v1/articles/99999", headers=h), 404)
        problem(await c.get("/api/v1/articles/abc", headers=h), 422)
        problem(await c.get(f"/api/v1/articles/{2**70}", headers=h), 422)
        problem(await c.get("/api/v1/entities/99999", headers=h), 404)
        problem(await c.get("/api/v1/entities/99999/timeline", headers=h), 404)
        bad_interval = f"/api/v1/entities/{room.entity_id}/timeline?interval=week"
        problem(await c.get(bad_interval, headers=h), 422)
        too_long = f"/api/v1/entities/{room.entity_id}/timeline?interval=hour&since=2000-01-01"
        problem(await c.get(too_long, headers=h), 400)
        problem(await c.get("/api/v1/nothing-here", headers=h), 404)
        problem(await c.put("/api/v1/feeds", headers=h), 405)
        problem(await c.post("/api/v1/feeds", headers=h, content=b"{not json"), 422)
        problem(await c.post("/api/v1/feeds", headers=h, json={"urls": []}), 422)
        invalid = await c.post("/api/v1/feeds", headers=h, json={"urls": ["ftp://x.example/"]})
        assert problem(invalid, 422)["invalid"][0]["url"] == "ftp://x.example/"
        problem(await c.delete("/api/v1/feeds/99999", headers=h), 404)
        problem(await c.post("/api/v1/dead-letters/99999/replay", headers=h), 404)
        problem(await c.get("/api/v1/dead-letters?cursor=abc", headers=h), 422)

    run(scenario)


def test_feeds_add_remove_reactivate(
    run: Callable[..., None], room: Newsroom, http_server: LoopbackServer
) -> None:
    http_server.add("/rss.xml", RSS, content_type="application/rss+xml")
    http_server.add(
        "/",
        '<html><head><link rel="alternate" type="application/rss+xml" href="/rss.xml">'
        "</head><body>home</body></html>",
    )

    async def scenario(c: httpx.AsyncClient) -> None:
        h = bearer()
        added = await c.post(
            "/api/v1/feeds", headers=h, json={"urls": ["https://new.example/feed.xml"]}
        )
        assert added.status_code == 201
        assert added.json()["added"] == ["https://new.example/feed.xml"]
        again = await c.post(
            "/api/v1/feeds", headers=h, json={"urls": ["https://new.example/feed.xml"]}
        )
        assert again.json()["duplicates"] == ["https://new.example/feed.xml"]
        found = await c.post(
            "/api/v1/feeds", headers=h, json={"urls": [http_server.url("/")], "discover": True}
        )
        assert found.status_code == 201, found.text
        assert found.json()["added"] == [http_server.url("/rss.xml")]
        feeds = (await c.get("/api/v1/feeds", headers=h)).json()["items"]
        by_url = {f["url"]: f for f in feeds}
        assert http_server.url("/rss.xml") in by_url
        assert by_url["https://evil.example/feed.xml"]["state"] == "deactivated"
        assert (await c.delete(f"/api/v1/feeds/{room.feed_id}", headers=h)).status_code == 204
        problem(await c.get(f"/api/v1/feeds/{room.feed_id}/health", headers=h), 404)
        back = await c.post(f"/api/v1/feeds/{room.hostile_feed_id}/reactivate", headers=h)
        assert back.json()["state"] != "deactivated"
        assert back.json()["active"] is True
        inactive = (await c.get("/api/v1/feeds?active=false", headers=h)).json()["items"]
        assert inactive == []

    run(scenario, allowed_networks="127.0.0.0/8")


def test_discovery_keeps_the_address_guard(run: Callable[..., None]) -> None:
    """Without NEWSINGEST_ALLOWED_NETWORKS the server refuses to fetch a loopback address."""

    async def scenario(c: httpx.AsyncClient) -> None:
        refused = await c.post(
            "/api/v1/feeds",
            headers=bearer(),
            json={"urls": ["http://127.0.0.1:9/"], "discover": True},
        )
        assert problem(refused, 422)["type"].endswith("discovery-failed")

    run(scenario)


def test_status_dead_letters_and_replay(
    run: Callable[..., None], room: Newsroom, enqueuer: RecordingEnqueuer
) -> None:
    async def scenario(c: httpx.AsyncClient) -> None:
        h = bearer()
        status = (await c.get("/api/v1/status", headers=h)).json()
        assert status["dead_letters_open"] == 1
        assert status["feeds_total"] == 2
        assert status["feeds_active"] == 1
        assert status["unhealthy"][0]["title"] == HOSTILE
        assert any("dead letter" in p for p in status["problems"])
        letters = (await c.get("/api/v1/dead-letters", headers=h)).json()
        assert [d["id"] for d in letters["items"]] == [room.letter_id]
        replayed = await c.post(f"/api/v1/dead-letters/{room.letter_id}/replay", headers=h)
        assert replayed.json() == {"replayed": 1, "articles": 1, "deferred": False}
        assert enqueuer.sent == [["ab" * 32]]
        again = await c.post(f"/api/v1/dead-letters/{room.letter_id}/replay", headers=h)
        problem(again, 404)
        assert (await c.get("/api/v1/dead-letters", headers=h)).json()["items"] == []
        everything = await c.get("/api/v1/dead-letters?all=true", headers=h)
        assert everything.json()["items"][0]["replayed_at"] is not None
        metrics = (await c.get("/metrics", headers=h)).text
        assert "newsingest_http_requests_total" in metrics

    run(scenario)


def test_readyz_says_when_the_schema_is_behind(tmp_path: Any) -> None:
    from schemas.db import upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0001")
    app = create_app(load_settings(database_url=url))

    async def main() -> None:
        async with client(app) as c:
            body = problem(await c.get("/readyz"), 503)
            assert "newsingest init" in body["detail"]
            assert (await c.get("/healthz")).status_code == 200

    asyncio.run(main())


def test_a_statement_timeout_is_a_503_problem(run: Callable[..., None], room: Newsroom) -> None:
    async def scenario(c: httpx.AsyncClient) -> None:
        slow = await c.get("/api/v1/articles?q=berlin OR merkel OR report", headers=bearer())
        if room.url.startswith("sqlite") and slow.status_code == 200:
            return  # SQLite checks its clock every 20,000 steps: this one is done before
        assert problem(slow, 503)["type"].endswith("query-timeout")

    run(scenario, query_timeout=0.001)


def test_without_a_token_loopback_names_only(room: Newsroom) -> None:
    app = create_app(load_settings(database_url=room.url))

    async def main() -> None:
        async with client(app) as c:
            assert (await c.get("/api/v1/feeds")).status_code == 200
            rebound = await c.get("/api/v1/feeds", headers={"host": "attacker.example"})
            assert problem(rebound, 421)["detail"].startswith("no API token")

    asyncio.run(main())


def test_a_slow_database_call_does_not_block_the_event_loop(
    room: Newsroom, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While one request waits on the database (in a worker thread), the loop answers others."""
    import time

    from newsingest.web import actions

    real = actions.feed_rows

    def slow(conn: Any) -> list[dict[str, Any]]:
        time.sleep(1.0)
        return real(conn)

    monkeypatch.setattr(actions, "feed_rows", slow)
    app = create_app(load_settings(database_url=room.url, api_token=TOKEN))

    async def main() -> None:
        async with client(app) as c:
            started = time.perf_counter()
            slow_call = asyncio.create_task(c.get("/api/v1/feeds", headers=bearer()))
            await asyncio.sleep(0.1)
            assert (await c.get("/healthz")).status_code == 200
            assert time.perf_counter() - started < 0.6
            assert (await slow_call).status_code == 200
            assert time.perf_counter() - started >= 1.0

    asyncio.run(main())


def test_login_cookie_is_secure_over_https_and_the_token_is_never_logged(
    room: Newsroom, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    app = create_app(load_settings(database_url=room.url, api_token=TOKEN))

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://127.0.0.1") as c:
            form = await c.get("/login")
            csrf = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            done = await c.post("/login", data={"token": TOKEN, "next": "/", "csrf": csrf})
            assert done.status_code == 303
            cookie = done.headers["set-cookie"]
            assert "secure" in cookie.lower()
            assert "httponly" in cookie.lower()
            assert "samesite=lax" in cookie.lower()
            assert TOKEN not in cookie
            await c.get("/api/v1/feeds", headers=bearer("wrong-token-wrong-token"))
            await c.get("/api/v1/feeds", headers=bearer())
        app.state.db.dispose()

    with caplog.at_level(logging.DEBUG):
        asyncio.run(main())
    assert TOKEN not in caplog.text
    assert "wrong-token-wrong-token" not in caplog.text
