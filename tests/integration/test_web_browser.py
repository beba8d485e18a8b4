"""The dashboard in a real browser: headless Chromium (Debian's ``chromium``, driven by
Playwright with that executable; Playwright's own browser download is never used) against a
real ``newsingest serve`` on loopback. Each page's screenshot is written under the test
run's output folder (``<basetemp>/screenshots/``)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import need
from tests.support.httpserver import LoopbackServer
from tests.support.webapp import HOSTILE, TOKEN, Newsroom, build_newsroom, uvicorn_server

pytestmark = pytest.mark.integration

CHROMIUM = os.environ.get("NEWSINGEST_TEST_CHROMIUM") or shutil.which("chromium") or ""
RSS = (
    '<?xml version="1.0"?><rss version="2.0"><channel><title>Browser test feed</title>'
    "<link>http://127.0.0.1/</link><description>d</description></channel></rss>"
)


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.getbasetemp() / "screenshots"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    need(bool(CHROMIUM) and Path(CHROMIUM).exists(), "chromium not installed (apt chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need(False, "playwright (Python) not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def site(sqlite_url: str, http_server: LoopbackServer) -> Iterator[tuple[str, Newsroom]]:
    room = build_newsroom(sqlite_url)
    extra = {"NEWSINGEST_ALLOWED_NETWORKS": "127.0.0.0/8"}
    with uvicorn_server(sqlite_url, extra_env=extra) as base:
        yield base, room


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    dialogs: list[str] = []
    tab.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    tab.dialogs = dialogs
    try:
        yield tab
    finally:
        context.close()


def log_in(page: Any, base: str) -> None:
    page.goto(base + "/")
    assert page.url.startswith(base + "/login")
    page.fill("#token", TOKEN)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(base + "/")


def shot(page: Any, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_log_in_search_article_entity(
    page: Any, site: tuple[str, Newsroom], screenshots: Path
) -> None:
    base, room = site
    page.goto(base + "/login")
    page.fill("#token", "not-the-token-at-all")
    page.click("form[action='/login'] button[type=submit]")
    assert "not the API token" in page.inner_text("main")
    shot(page, screenshots, "login-refused")
    log_in(page, base)
    cookie = next(c for c in page.context.cookies() if c["name"] == "newsingest_session")
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Lax"
    assert TOKEN not in cookie["value"]
    assert page.locator("#articles-chart svg rect.bar").count() == 72
    shot(page, screenshots, "overview")

    page.goto(base + "/search")
    page.fill("input[name=q]", '"Emmanuel Macron" OR Siemens')
    page.click("#search-form button[type=submit]")
    page.wait_for_selector("#results li a.title")
    marked = page.locator("#results mark").first.inner_text()
    assert marked in {"Emmanuel Macron", "Emmanuel", "Macron", "Siemens"}
    shot(page, screenshots, "search")
    page.goto(base + "/search?entity=Berlin")
    assert page.locator("#results li").count() == 25
    page.click("#next-page")
    page.wait_for_selector("#results li")
    assert page.locator("#results li").count() == 7
    shot(page, screenshots, "search-page-2")

    page.goto(base + "/search?q=merkel")
    page.click("#results li a.title")
    page.wait_for_selector("#article-text")
    person = page.locator("#article-text a.ent.people", has_text="Angela Merkel")
    assert person.count() == 1
    assert person.get_attribute("data-label") == "PERSON"
    surname = page.locator("#article-text a.ent.people", has_text="Merkel")
    assert surname.count() == 2  # "Angela Merkel met ...", later "Merkel said ..."
    assert page.locator("#article-text a.ent.places", has_text="Berlin").count() == 1
    assert "date from meta" in page.inner_text("dl.meta-list")
    shot(page, screenshots, "article")

    page.locator("#article-text a.ent.places", has_text="Berlin").click()
    page.wait_for_url(f"{base}/entities/{room.entity_id}")
    bars = page.locator("#entity-chart svg rect.bar")
    assert bars.count() == 30
    assert page.locator("#latest li").count() == 15
    shot(page, screenshots, "entity")
    page.goto(f"{base}/entities/{room.entity_id}?interval=hour")
    assert page.locator("#entity-chart svg rect.bar").count() == 72
    page.goto(base + "/entities?since=30d")
    assert page.locator("#top-entities tbody tr").first.inner_text().startswith("1")
    shot(page, screenshots, "entities")
    assert page.dialogs == []


def test_add_a_feed_and_replay_a_dead_letter(
    page: Any, site: tuple[str, Newsroom], screenshots: Path, http_server: LoopbackServer
) -> None:
    base, room = site
    http_server.add("/feed.xml", RSS, content_type="application/rss+xml")
    http_server.add(
        "/",
        '<html><head><link rel="alternate" type="application/rss+xml" href="/feed.xml">'
        "</head><body>a site</body></html>",
    )
    log_in(page, base)
    page.goto(base + "/feeds")
    page.fill("#urls", http_server.url("/"))
    page.check("input[name=discover]")
    page.click("#add-feed button[type=submit]")
    page.wait_for_selector(".flash")
    assert "1 added" in page.inner_text(".flash")
    assert http_server.url("/feed.xml") in page.inner_text("#feeds")
    shot(page, screenshots, "feeds")

    row = page.locator("#feeds tr", has_text="evil.example")
    row.locator("button", has_text="Reactivate").click()
    page.wait_for_selector(".flash")
    assert "reactivated" in page.inner_text(".flash")

    page.goto(base + "/dead-letters")
    assert page.locator("#dead-letters tbody tr").count() == 1
    shot(page, screenshots, "dead-letters")
    page.click("#dead-letters button:has-text('Replay')")
    page.wait_for_selector(".flash")
    assert f"dead letter {room.letter_id} replayed" in page.inner_text(".flash")
    assert "No dead letter open" in page.inner_text("#dead-letters")
    shot(page, screenshots, "dead-letters-replayed")
    page.goto(base + "/docs")
    assert "/api/v1/articles" in page.inner_text("main")
    shot(page, screenshots, "api-docs")
    assert page.dialogs == []


def test_hostile_content_renders_as_text(
    page: Any, site: tuple[str, Newsroom], screenshots: Path
) -> None:
    base, room = site
    log_in(page, base)
    for path in (
        "/",
        "/feeds",
        "/dead-letters",
        f"/articles/{room.hostile_article_id}",
        "/search?q=markup",
        "/entities?since=30d",
    ):
        page.goto(base + path)
        assert page.locator("main script").count() == 0, path
        assert page.locator("main img").count() == 0, path
        assert HOSTILE in page.inner_text("main"), path
    page.goto(f"{base}/articles/{room.hostile_article_id}")
    shot(page, screenshots, "hostile-article")
    page.goto(base + "/feeds")
    shot(page, screenshots, "hostile-feeds")
    assert page.dialogs == []  # no alert() ran anywhere


def test_forms_refuse_a_missing_csrf_token(site: tuple[str, Newsroom]) -> None:
    import httpx

    base, room = site
    with httpx.Client(base_url=base, follow_redirects=False) as c:
        form = c.get("/login")
        csrf = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        refused = c.post("/login", data={"token": TOKEN, "next": "/"})
        assert refused.status_code == 403
        logged = c.post("/login", data={"token": TOKEN, "next": "//evil.example/", "csrf": csrf})
        assert logged.status_code == 303
        assert logged.headers["location"] == "/"
        page = c.get("/feeds")
        assert page.status_code == 200
        forged = c.post(f"/feeds/{room.feed_id}/remove", data={"csrf": csrf})
        assert forged.status_code == 403  # the token of the session before logging in
        csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        done = c.post(f"/feeds/{room.feed_id}/remove", data={"csrf": csrf})
        assert done.status_code == 303
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
