"""`newsingest serve`: a real uvicorn process on loopback, and its refusal to listen
elsewhere without a token."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import httpx
import pytest

from tests.support.webapp import TOKEN, bearer, build_newsroom, uvicorn_server

pytestmark = pytest.mark.integration


def test_the_api_through_a_real_server(database_url: str) -> None:
    room = build_newsroom(database_url)
    with uvicorn_server(database_url) as base, httpx.Client(base_url=base) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        assert c.get("/readyz").json()["status"] == "ready"
        refused = c.get("/api/v1/articles")
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        page = c.get("/api/v1/articles?limit=5&q=berlin", headers=bearer())
        assert page.status_code == 200
        assert len(page.json()["items"]) == 5
        assert page.json()["next"]
        assert page.headers["cache-control"] == "no-store"
        assert "server" not in page.headers
        one = c.get(f"/api/v1/articles/{room.article_id}", headers=bearer())
        assert one.json()["title"] == "Merkel meets Macron in Berlin"
        bad = c.get("/api/v1/articles?since=whenever", headers=bearer())
        assert bad.status_code == 400
        assert bad.json()["type"].endswith("invalid-query")
        html = c.get("/feeds", headers={"accept": "text/html"})
        assert html.status_code == 303
        assert html.headers["location"] == "/login?next=/feeds"
        assert "default-src 'none'" in html.headers["content-security-policy"]

        async def many() -> list[int]:
            async with httpx.AsyncClient(base_url=base, headers=bearer()) as ac:
                paths = ["/api/v1/articles", "/api/v1/entities?since=30d", "/api/v1/status"]
                replies = await asyncio.gather(*(ac.get(paths[i % 3]) for i in range(30)))
            return [r.status_code for r in replies]

        assert asyncio.run(many()) == [200] * 30


def run_serve(*args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")}
    if token:
        env["NEWSINGEST_API_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "newsingest", "serve", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1"])
def test_no_token_no_listening_beyond_loopback(host: str) -> None:
    done = run_serve("--host", host, "--port", "9")
    assert done.returncode == 2
    assert f"refusing to listen on {host}" in done.stderr
    assert "NEWSINGEST_API_TOKEN" in done.stderr


def test_a_short_token_is_a_configuration_error() -> None:
    done = run_serve("--host", "0.0.0.0", token="short")  # noqa: S106
    assert done.returncode == 2
    assert "NEWSINGEST_API_TOKEN" in done.stderr
    assert "short" not in done.stderr.replace("shortly", "")


def test_without_a_token_loopback_serves_openly(sqlite_url: str) -> None:
    build_newsroom(sqlite_url)
    with uvicorn_server(sqlite_url, token=None) as base, httpx.Client(base_url=base) as c:
        assert c.get("/api/v1/feeds").status_code == 200
        assert c.get("/", headers={"accept": "text/html"}).status_code == 200
        assert TOKEN not in c.get("/openapi.json").text
