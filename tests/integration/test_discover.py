"""`feeds add --discover`: a site's home page leads to its feeds and news sitemaps."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import invoke
from tests.support.factories import rss
from tests.support.httpserver import LoopbackServer

pytestmark = pytest.mark.integration


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEWSINGEST_ALLOWED_NETWORKS", "127.0.0.0/8")
    assert invoke("init")[0] == 0


def feed_urls() -> list[str]:
    code, out, _ = invoke("feeds", "list")
    assert code == 0
    return [line.split("\t")[1] for line in out.strip().splitlines()[1:]]


def test_home_page_links_and_robots_sitemaps(env: None, http_server: LoopbackServer) -> None:
    srv = http_server
    srv.add(
        "/",
        '<html><head><link rel="alternate" type="application/rss+xml" href="/rss.xml">'
        '<link rel="alternate" type="application/atom+xml" href="/broken.xml">'
        '<link rel="stylesheet" href="/style.css"></head><body>Home</body></html>',
    )
    srv.add("/rss.xml", rss([]), content_type="application/rss+xml")
    srv.add("/broken.xml", b"nope", status=404)
    srv.add(
        "/robots.txt",
        f"User-agent: *\nSitemap: {srv.url('/news.xml')}\n",
        content_type="text/plain",
    )
    srv.add(
        "/news.xml",
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{srv.url('/a.html')}</loc></url></urlset>",
        content_type="application/xml",
    )
    code, out, _ = invoke("feeds", "add", "--discover", srv.url("/"))
    assert code == 0, out
    assert feed_urls() == [srv.url("/rss.xml"), srv.url("/news.xml")]


def test_a_feed_url_is_kept_as_it_is(env: None, http_server: LoopbackServer) -> None:
    http_server.add("/feed", rss([]), content_type="application/rss+xml")
    assert invoke("feeds", "add", "--discover", http_server.url("/feed"))[0] == 0
    assert feed_urls() == [http_server.url("/feed")]


def test_common_paths_are_tried_when_nothing_is_advertised(
    env: None, http_server: LoopbackServer
) -> None:
    http_server.add("/", "<html><body>No links here</body></html>")
    http_server.add("/feed", rss([]), content_type="application/rss+xml")
    assert invoke("feeds", "add", "--discover", http_server.url("/"))[0] == 0
    assert feed_urls() == [http_server.url("/feed")]


def test_a_site_without_feeds_is_an_error(env: None, http_server: LoopbackServer) -> None:
    http_server.add("/", "<html><body>Nothing</body></html>")
    code, _, err = invoke("feeds", "add", "--discover", http_server.url("/"))
    assert code == 1
    assert "no feed found" in err
    assert feed_urls() == []
