"""End to end on the ingest side: a real loopback HTTP server, a real database, real pages."""

from __future__ import annotations

import asyncio
import gzip
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from ingest.articles import RETRY_BACKOFF, Candidate, claim
from ingest.feedlist import add_feeds
from ingest.poll import NoEnqueuer, PollSummary, run_poll
from schemas.db import make_engine, session_scope, upgrade
from schemas.models import Article, Feed, as_utc
from schemas.settings import Settings, load_settings
from schemas.urls import url_hash
from tests.support.factories import PARAGRAPHS, article_page, rss, subscribe
from tests.support.httpserver import LoopbackServer

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("NEWSINGEST_ALLOWED_NETWORKS", "127.0.0.0/8")
    monkeypatch.setenv("NEWSINGEST_READ_TIMEOUT", "1")
    monkeypatch.setenv("NEWSINGEST_TOTAL_TIMEOUT", "3")
    monkeypatch.setenv("NEWSINGEST_MAX_PAGE_BYTES", "2000000")
    return load_settings()


@pytest.fixture
def engine(database_url: str) -> Any:
    upgrade(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def poll(settings: Settings, engine: Any, **kwargs: Any) -> PollSummary:
    return asyncio.run(run_poll(settings, engine, NoEnqueuer(), processes=0, **kwargs))


def rows(engine: Any) -> dict[str, Article]:
    with session_scope(engine) as s:
        return {a.url.rsplit("/", 1)[-1]: a for a in s.exec(sa.select(Article)).scalars()}  # type: ignore[call-overload]


def feed_row(engine: Any, url: str) -> Feed:
    with session_scope(engine) as s:
        return s.exec(sa.select(Feed).where(Feed.url == url)).scalar_one()  # type: ignore[call-overload]


def test_a_poll_stores_articles_and_records_every_bad_page(
    http_server: LoopbackServer, settings: Settings, engine: Any
) -> None:
    srv = http_server
    srv.add("/good.html", article_page("Envoy heads to Moscow", PARAGRAPHS))
    srv.add(
        "/gzipped.html",
        article_page("Gzipped story", [p.replace("Moscow", "Paris") for p in PARAGRAPHS]),
        gzip=True,
    )
    latin = article_page("Café société à Paris", PARAGRAPHS, charset="iso-8859-1")
    srv.add("/latin1.html", latin.encode("latin-1"), content_type="text/html; charset=iso-8859-1")
    # Declares iso-8859-1 but the bytes are UTF-8: must still decode sensibly.
    srv.add(
        "/mislabelled.html",
        article_page("Zelenskiy in Paris — “looks better”", PARAGRAPHS).encode("utf-8"),
        content_type="text/html; charset=iso-8859-1",
    )
    srv.add("/moved.html", status=301, redirect_to="/good-final.html")
    srv.add("/good-final.html", article_page("Moved story", PARAGRAPHS[::-1]))
    srv.add("/paper.pdf", b"%PDF-1.7\n%binary", content_type="application/pdf")
    srv.add("/gone.html", b"gone", status=410)
    srv.add("/broken.html", b"oops", status=500)
    srv.add("/slow.html", article_page("Slow", PARAGRAPHS), delay=5)
    srv.add("/endless.html", endless=True)
    srv.add("/loop-a.html", status=302, redirect_to="/loop-b.html")
    srv.add("/loop-b.html", status=302, redirect_to="/loop-a.html")
    srv.add("/menu.html", "<html><body><nav><a href='/'>Home</a></nav></body></html>")
    names = [
        "good.html?utm_source=rss",
        "gzipped.html",
        "latin1.html",
        "mislabelled.html",
        "moved.html",
        "paper.pdf",
        "gone.html",
        "broken.html",
        "slow.html",
        "endless.html",
        "loop-a.html",
        "menu.html",
    ]
    srv.add(
        "/feed.xml", rss([(n, srv.url("/" + n)) for n in names]), content_type="application/rss+xml"
    )
    subscribe(engine, srv.url("/feed.xml"))

    summary = poll(settings, engine)

    assert summary.feeds_polled == 1
    assert summary.feeds_failed == 0
    assert summary.articles_new == 5
    stored = rows(engine)
    assert {k for k, a in stored.items() if a.status == "queued"} == {
        "good.html",
        "gzipped.html",
        "latin1.html",
        "mislabelled.html",
        "moved.html",
    }
    good = stored["good.html"]
    assert "Steve Witkoff" in good.text
    assert "Subscribe to our newsletter" not in good.text
    assert "Sport" not in good.text
    assert good.title == "Envoy heads to Moscow"
    assert good.site_name == "Loopback Times"
    assert good.authors == ["Ann Writer"]
    assert good.language == "en"
    assert good.published_source == "feed"
    assert as_utc(good.published_at) == datetime(2025, 12, 2, 9, 30, tzinfo=UTC)
    assert good.url_hash == url_hash(srv.url("/good.html"))
    assert good.word_count > 50
    assert "Paris" in stored["gzipped.html"].text
    assert "Café société" in (stored["latin1.html"].title or "")
    assert "“looks better”" in (stored["mislabelled.html"].title or "")
    assert stored["moved.html"].canonical_url == srv.url("/good-final.html")

    reasons = {k: (a.status, (a.status_reason or "").split(":")[0]) for k, a in stored.items()}
    assert reasons["paper.pdf"] == ("failed", "not_html")
    assert reasons["gone.html"] == ("failed", "http_410")
    assert reasons["broken.html"] == ("retry", "http_500")
    assert reasons["slow.html"] == ("retry", "timeout")
    assert reasons["endless.html"][1] in {"too_large", "timeout"}
    assert reasons["loop-a.html"] == ("failed", "redirect_loop")
    assert reasons["menu.html"][0] == "not_article"
    assert summary.articles_failed + summary.articles_retry + summary.articles_not_article == 7


def test_the_page_date_is_searched_only_for_entries_the_feed_does_not_date(
    http_server: LoopbackServer, settings: Settings, engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The feed's date is the one stored, so a dated entry's page is extracted without
    htmldate's search; an undated entry still gets the page's date."""
    import ingest.extract

    searched: list[object] = []
    real = ingest.extract._htmldate_find_date

    def counting(*args: Any, **kwargs: Any) -> str | None:
        searched.append(kwargs.get("url"))
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest.extract, "_htmldate_find_date", counting)
    srv = http_server
    srv.add("/dated.html", article_page("Dated in the feed", PARAGRAPHS))
    srv.add("/undated.html", article_page("Not dated in the feed", PARAGRAPHS[::-1]))
    feed = rss([("dated", srv.url("/dated.html"))]).replace(
        "</channel>",
        f"<item><title>undated</title><link>{srv.url('/undated.html')}</link></item></channel>",
    )
    srv.add("/feed.xml", feed, content_type="application/rss+xml")
    subscribe(engine, srv.url("/feed.xml"))

    assert poll(settings, engine).articles_new == 2

    stored = rows(engine)
    dated, undated = stored["dated.html"], stored["undated.html"]
    assert (dated.published_source, as_utc(dated.published_at)) == (
        "feed",
        datetime(2025, 12, 2, 9, 30, tzinfo=UTC),
    )
    assert (undated.published_source, as_utc(undated.published_at)) == (
        "page",
        datetime(2025, 12, 2, 8, 0, tzinfo=UTC),
    )
    assert searched == [srv.url("/undated.html")]


def test_conditional_get_and_unchanged_bodies_only_reschedule(
    http_server: LoopbackServer, settings: Settings, engine: Any
) -> None:
    srv = http_server
    srv.add("/a.html", article_page("A", PARAGRAPHS))
    srv.add(
        "/etag.xml",
        rss([("a", srv.url("/a.html"))]),
        content_type="application/rss+xml",
        etag='"v1"',
        last_modified="Tue, 02 Dec 2025 10:00:00 GMT",
    )
    srv.add("/plain.xml", rss([("a", srv.url("/a.html"))]), content_type="application/rss+xml")
    subscribe(engine, srv.url("/etag.xml"), srv.url("/plain.xml"))

    first = poll(settings, engine)
    assert (first.feeds_polled, first.feeds_not_modified, first.articles_new) == (2, 0, 1)
    assert first.articles_duplicate == 1  # the same article in both feeds, downloaded once
    assert len(srv.requests_for("/a.html")) == 1
    assert feed_row(engine, srv.url("/etag.xml")).etag == '"v1"'

    second = poll(settings, engine, everything=True)
    assert second.feeds_not_modified == 2
    assert second.articles_new == second.articles_duplicate == 0
    last = srv.requests_for("/etag.xml")[-1]
    headers = {k.lower(): v for k, v in last.headers.items()}
    assert headers["if-none-match"] == '"v1"'
    feed = feed_row(engine, srv.url("/plain.xml"))
    assert feed.last_status == 200
    assert as_utc(feed.next_poll_at) > datetime.now(UTC) + timedelta(seconds=60)


def test_due_feeds_only_unless_all(
    http_server: LoopbackServer, settings: Settings, engine: Any
) -> None:
    http_server.add("/f.xml", rss([]), content_type="application/rss+xml")
    subscribe(engine, http_server.url("/f.xml"))
    assert poll(settings, engine).feeds_polled == 1
    assert poll(settings, engine).feeds_polled == 0  # not due again yet
    assert poll(settings, engine, everything=True).feeds_polled == 1


@pytest.mark.parametrize(
    ("route", "reason"),
    [
        ({"status": 404, "body": b"no"}, "http_404"),
        ({"status": 410, "body": b"gone"}, "http_410"),
        ({"status": 500, "body": b"err"}, "http_500"),
        ({"body": "<html><body>just a page</body></html>"}, "not_a_feed"),
        ({"body": b"\x00\x01\x02garbage"}, "not_a_feed"),
    ],
)
def test_feed_failures_are_recorded_with_their_reason(
    http_server: LoopbackServer, settings: Settings, engine: Any, route: dict[str, Any], reason: str
) -> None:
    http_server.add("/bad.xml", **route)
    url = http_server.url("/bad.xml")
    subscribe(engine, url)
    summary = poll(settings, engine)
    assert summary.feeds_failed == 1
    feed = feed_row(engine, url)
    assert feed.consecutive_failures == 1
    assert (feed.last_error or "").startswith(reason)
    assert summary.failures
    assert summary.failures[0][0] == url


def test_429_retry_after_pushes_the_next_poll(
    http_server: LoopbackServer, settings: Settings, engine: Any
) -> None:
    http_server.add("/busy.xml", b"slow down", status=429, headers={"Retry-After": "7200"})
    url = http_server.url("/busy.xml")
    subscribe(engine, url)
    poll(settings, engine)
    feed = feed_row(engine, url)
    assert feed.last_status == 429
    assert as_utc(feed.next_poll_at) >= datetime.now(UTC) + timedelta(seconds=7100)


def test_overlapping_polls_never_fetch_a_feed_or_page_twice(
    http_server: LoopbackServer, settings: Settings, engine: Any
) -> None:
    srv = http_server
    items = []
    for i in range(6):
        srv.add(f"/p{i}.html", article_page(f"Story {i}", PARAGRAPHS), delay=0.2)
        items.append((f"s{i}", srv.url(f"/p{i}.html")))
    srv.add("/feed.xml", rss(items), content_type="application/rss+xml", delay=0.3)
    subscribe(engine, srv.url("/feed.xml"))

    async def both() -> list[PollSummary]:
        return list(
            await asyncio.gather(
                run_poll(settings, engine, NoEnqueuer(), processes=0),
                run_poll(settings, engine, NoEnqueuer(), processes=0),
            )
        )

    a, b = asyncio.run(both())
    assert a.feeds_polled + b.feeds_polled == 1
    assert a.feeds_locked + b.feeds_locked == 1
    assert len(srv.requests_for("/feed.xml")) == 1
    for i in range(6):
        assert len(srv.requests_for(f"/p{i}.html")) == 1
    assert sum(a.status == "queued" for a in rows(engine).values()) == 6


def test_hostile_html_in_entries_never_reaches_stored_text(
    http_server: LoopbackServer, settings: Settings, engine: Any
) -> None:
    srv = http_server
    srv.add(
        "/x.html",
        article_page(
            "Clean title",
            PARAGRAPHS,
            extra="<script>alert('x')</script><p onclick=\"steal()\">Click here.</p>",
        ),
    )
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item>'
        "<title>&lt;script&gt;alert(1)&lt;/script&gt;Hostile &lt;b onmouseover=x()&gt;title"
        f"&lt;/b&gt;</title><link>{srv.url('/x.html')}</link></item>"
        "<item><title>js</title><link>javascript:alert(1)</link></item></channel></rss>"
    )
    srv.add("/feed.xml", feed, content_type="application/rss+xml")
    subscribe(engine, srv.url("/feed.xml"))
    summary = poll(settings, engine)
    stored = rows(engine)
    assert list(stored) == ["x.html"]
    assert summary.articles_new == 1
    art = stored["x.html"]
    for field in (art.text, art.title or ""):
        assert "<script" not in field
        assert "alert(" not in field
        assert "onclick" not in field


def test_robots_txt_disallow_is_honoured_per_feed(
    http_server: LoopbackServer, settings: Settings, engine: Any
) -> None:
    srv = http_server
    srv.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    srv.add("/private/a.html", article_page("Private", PARAGRAPHS))
    srv.add("/public/b.html", article_page("Public", PARAGRAPHS))
    srv.add(
        "/feed.xml",
        rss([("a", srv.url("/private/a.html")), ("b", srv.url("/public/b.html"))]),
        content_type="application/rss+xml",
    )
    subscribe(engine, srv.url("/feed.xml"))
    poll(settings, engine)
    stored = rows(engine)
    assert stored["a.html"].status == "failed"
    assert (stored["a.html"].status_reason or "").startswith("robots_disallowed")
    assert stored["b.html"].status == "queued"
    assert not srv.requests_for("/private/a.html")


def test_news_sitemap_index_is_followed(
    http_server: LoopbackServer, settings: Settings, engine: Any
) -> None:
    srv = http_server
    srv.add("/n1.html", article_page("Sitemap story", PARAGRAPHS))
    news = f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url><loc>{srv.url("/n1.html")}</loc><news:news>
    <news:publication><news:name>Loopback Times</news:name>
      <news:language>en</news:language></news:publication>
    <news:publication_date>2025-12-01T21:00:00+00:00</news:publication_date>
    <news:title>Sitemap story</news:title></news:news></url>
</urlset>"""
    srv.add("/news.xml.gz", gzip.compress(news.encode()), content_type="application/x-gzip")
    index = f"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>{srv.url("/news.xml.gz")}</loc></sitemap></sitemapindex>"""
    srv.add("/sitemap.xml", index, content_type="application/xml")
    subscribe(engine, srv.url("/sitemap.xml"))
    summary = poll(settings, engine)
    assert summary.articles_new == 1
    art = rows(engine)["n1.html"]
    assert as_utc(art.published_at) == datetime(2025, 12, 1, 21, 0, tzinfo=UTC)
    assert feed_row(engine, srv.url("/sitemap.xml")).kind == "sitemapindex"


def test_a_transient_page_failure_is_retried_by_a_later_poll(
    http_server: LoopbackServer, settings: Settings, engine: Any
) -> None:
    srv = http_server
    srv.add("/flaky.html", b"busy", status=503)
    srv.add("/feed.xml", rss([("f", srv.url("/flaky.html"))]), content_type="application/rss+xml")
    subscribe(engine, srv.url("/feed.xml"))
    poll(settings, engine)
    assert rows(engine)["flaky.html"].status == "retry"
    retry_at = as_utc(rows(engine)["flaky.html"].retry_at)
    assert retry_at is not None
    # no Retry-After: the fixed backoff
    assert abs(retry_at - (datetime.now(UTC) + RETRY_BACKOFF)) < timedelta(seconds=30)
    # Make the retry due (as if the backoff had passed) and the page healthy again.
    with engine.begin() as conn:
        conn.execute(
            sa.update(Article.__table__).values(retry_at=datetime.now(UTC) - timedelta(seconds=1))  # type: ignore[attr-defined]
        )
    srv.add("/flaky.html", article_page("Back", PARAGRAPHS))
    srv.add(
        "/feed.xml",
        rss([("f", srv.url("/flaky.html")), ("g", srv.url("/flaky.html?v=2"))]),
        content_type="application/rss+xml",
    )
    summary = poll(settings, engine, everything=True)
    assert rows(engine)["flaky.html"].status == "queued"
    assert summary.articles_new >= 1


def test_a_pages_retry_after_holds_its_retry_back_without_spending_attempts(
    http_server: LoopbackServer, settings: Settings, engine: Any
) -> None:
    """A 429 with Retry-After: 1 hour. The article is not claimed again by the polls of the
    next hour (before, it was after the fixed 10 minutes, and each such try spent one of its
    3 attempts against a host still paused); after the hour it is."""
    srv = http_server
    srv.add("/busy.html", b"slow down", status=429, headers={"Retry-After": "3600"})
    srv.add("/feed.xml", rss([("b", srv.url("/busy.html"))]), content_type="application/rss+xml")
    subscribe(engine, srv.url("/feed.xml"))
    polled = datetime.now(UTC)
    poll(settings, engine)
    row = rows(engine)["busy.html"]
    assert (row.status, row.attempts) == ("retry", 1)
    retry_at = as_utc(row.retry_at)
    assert retry_at is not None
    assert abs(retry_at - (polled + timedelta(hours=1))) < timedelta(seconds=30)
    cand = Candidate(url=row.url, url_hash=row.url_hash, feed_id=row.feed_id)
    with engine.begin() as conn:
        later, _ = claim(conn, [cand], lock_ttl=600, now=polled + timedelta(minutes=30))
        assert later == []
        due, _ = claim(conn, [cand], lock_ttl=600, now=polled + timedelta(minutes=61))
        assert due == [cand]
    row = rows(engine)["busy.html"]
    assert (row.status, row.retry_at, row.attempts) == ("fetching", None, 1)


def test_robots_can_be_ignored_per_feed_and_the_user_agent_names_a_contact(
    http_server: LoopbackServer, engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSINGEST_ALLOWED_NETWORKS", "127.0.0.0/8")
    monkeypatch.setenv("NEWSINGEST_CONTACT_URL", "mailto:desk@example.org")
    settings = load_settings()
    srv = http_server
    srv.add("/robots.txt", "User-agent: newsingest\nDisallow: /\n", content_type="text/plain")
    srv.add("/own/a.html", article_page("Our own page", PARAGRAPHS))
    srv.add("/feed.xml", rss([("a", srv.url("/own/a.html"))]), content_type="application/rss+xml")
    with session_scope(engine) as s:
        add_feeds(s, [srv.url("/feed.xml")], respect_robots=False)
    poll(settings, engine)
    assert rows(engine)["a.html"].status == "queued"
    assert not srv.requests_for("/robots.txt")
    agents = {r.headers.get("user-agent") for r in srv.requests}
    assert agents == {"newsingest/0.1 (+mailto:desk@example.org)"}


def test_the_address_guard_applies_to_every_redirect_hop(
    http_server: LoopbackServer, engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """127.0.0.1 is allowed, 127.0.0.2 is not: a redirect there is refused, never fetched."""
    monkeypatch.setenv("NEWSINGEST_ALLOWED_NETWORKS", "127.0.0.1/32")
    settings = load_settings()
    with LoopbackServer(host="127.0.0.2") as other:
        other.add("/secret.html", article_page("Internal", PARAGRAPHS))
        http_server.add("/go.html", status=302, redirect_to=other.url("/secret.html"))
        http_server.add(
            "/feed.xml",
            rss([("go", http_server.url("/go.html"))]),
            content_type="application/rss+xml",
        )
        subscribe(engine, http_server.url("/feed.xml"))
        poll(settings, engine)
        art = rows(engine)["go.html"]
        assert art.status == "failed"
        assert (art.status_reason or "").startswith("address_refused: 127.0.0.2")
        assert other.requests == []


def _preloaded() -> tuple[bool, bool]:
    import sys

    return "ingest.preload" in sys.modules, "dateparser" in sys.modules


def test_extraction_processes_start_with_the_extraction_stack_warm() -> None:
    """The forkserver imports ingest.preload (trafilatura, dateparser's locales) once, so pool
    processes do not each pay dateparser's cold start on their first undated page."""
    from ingest.pool import Extractor

    extractor = Extractor(1)
    try:
        pool = extractor.executor()
        assert pool is not None
        assert pool.submit(_preloaded).result(timeout=60) == (True, True)
    finally:
        extractor.close()
