"""RSS (0.9x, 2.0, and the obsolete CDF), RDF (RSS 0.90 / 1.0) and Atom (0.3, 1.0), through
feedparser.

``xml:base`` and relative links are resolved, against the feed URL where the feed gives no
base. ``feedparser.parse`` is only ever given an in-memory stream: passed raw bytes it would
try ``open(bytes)`` first, i.e. read a local file named by the body.

When the document is not well-formed (feedparser's ``bozo``) but entries were recovered, they
are returned and ``ParsedFeed.warning`` holds a short reason such as
``"ill_formed_xml: undefined entity at line 7, column 12"``. An ill-formed document that yields
no entries raises :class:`~schemas.errors.MalformedFeed`.

feedparser's loose (SGML) parser, which ill-formed documents fall back to, is slow on
pathological markup (e.g. a megabyte of ``<a<a<a``): run the parser under the worker's task
time limit, and keep ``max_bytes`` for feeds at the few megabytes real feeds need.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from typing import Any, Final

import feedparser

from ingest.feeds.clean import (
    clean_authors,
    dict_get,
    http_url,
    language_tag,
    plain_text,
    short,
    struct_time_utc,
)
from ingest.feeds.model import (
    MAX_GUID_CHARS,
    MAX_SUMMARY_CHARS,
    MAX_TITLE_CHARS,
    FeedEntry,
    ParsedFeed,
)
from ingest.feeds.sniff import bozo_warning
from schemas.errors import MalformedFeed

_FEED_KINDS: Final = {
    "rss090": "rdf",
    "rss10": "rdf",
    "atom01": "atom",
    "atom02": "atom",
    "atom03": "atom",
    "atom10": "atom",
    "atom": "atom",
}
_ROOT_KINDS: Final = {b"rss": "rss", b"channel": "rss", b"rdf": "rdf", b"feed": "atom"}


def parse_with_feedparser(
    utf8: bytes,
    base: str | None,
    max_entries: int,
    encoding_warning: str | None,
    root_name: bytes,
) -> ParsedFeed:
    # The body is already UTF-8 with a matching declaration, so this header changes nothing
    # about decoding; it is there because any response header without a Content-Type makes
    # feedparser flag the feed (NonXMLContentType). Content-Location is the base for
    # relative links. feedparser gets a stream, never bytes: it would try open(bytes).
    headers = {"content-type": "application/xml; charset=utf-8"}
    if base:
        headers["content-location"] = base
    try:
        result = feedparser.parse(io.BytesIO(utf8), response_headers=headers)
        version = str(result.get("version") or "")
        bozo = bool(result.get("bozo"))
        bozo_exception = result.get("bozo_exception")
        raw_entries = result.get("entries") or []
        feed = result.get("feed") or {}
    except Exception as exc:  # feedparser bugs on hostile input: reject it
        raise MalformedFeed(f"feedparser failed: {exc!r}", reason="parser_error") from exc

    warning = bozo_warning(bozo_exception) if bozo else encoding_warning
    kind = _FEED_KINDS.get(version, "rss" if version else _ROOT_KINDS.get(root_name, ""))
    entries = tuple(_feedparser_entries(raw_entries, feed, base, max_entries))
    if not entries:
        if not kind:
            raise MalformedFeed("no RSS, Atom or RDF feed in the document", reason="not_a_feed")
        if bozo and type(bozo_exception).__name__ == "SAXParseException":
            raise MalformedFeed(
                f"ill-formed XML and no entries recovered ({warning})", reason="ill_formed_xml"
            )
    if not kind:
        kind = "rss"
        warning = warning or "unknown_format: entries found outside a known feed format"
    return ParsedFeed(
        kind=kind,
        title=plain_text(dict_get(feed, "title"), MAX_TITLE_CHARS),
        entries=entries,
        sitemaps=(),
        ttl_seconds=_ttl_seconds(feed),
        warning=warning,
    )


def _feedparser_entries(
    raw_entries: Iterable[Any], feed: Any, base: str | None, max_entries: int
) -> Iterator[FeedEntry]:
    feed_language = language_tag(dict_get(feed, "language"))
    count = 0
    for entry in raw_entries:
        if count >= max_entries:
            return
        if not isinstance(entry, dict):
            continue
        link = _entry_link(entry, base)
        if link is None:
            continue
        count += 1
        title_detail = dict_get(entry, "title_detail")
        summary_detail = dict_get(entry, "summary_detail")
        language = (
            language_tag(dict_get(title_detail, "language"))
            or language_tag(dict_get(summary_detail, "language"))
            or feed_language
        )
        yield FeedEntry(
            url=link,
            title=plain_text(dict_get(entry, "title"), MAX_TITLE_CHARS),
            published_at=struct_time_utc(dict_get(entry, "published_parsed"))
            or struct_time_utc(dict_get(entry, "updated_parsed")),
            summary=plain_text(_entry_summary(entry), MAX_SUMMARY_CHARS),
            authors=_feedparser_authors(entry),
            guid=short(dict_get(entry, "id"), MAX_GUID_CHARS),
            language=language,
        )


def _entry_link(entry: Any, base: str | None) -> str | None:
    # FeedBurner rewrites links to its redirector and keeps the real one in origLink.
    for candidate in (dict_get(entry, "feedburner_origlink"), dict_get(entry, "link")):
        link = http_url(candidate, base)
        if link:
            return link
    links = dict_get(entry, "links")
    if isinstance(links, list):
        for item in links:
            if dict_get(item, "rel") in (None, "alternate"):
                link = http_url(dict_get(item, "href"), base)
                if link:
                    return link
    return None


def _entry_summary(entry: Any) -> Any:
    summary = dict_get(entry, "summary")
    if isinstance(summary, str) and summary.strip():
        return summary
    content = dict_get(entry, "content")
    if isinstance(content, list):
        for item in content:
            value = dict_get(item, "value")
            if isinstance(value, str) and value.strip():
                return value
    return None


def _feedparser_authors(entry: Any) -> tuple[str, ...]:
    # feedparser's own split of "email (Name)" strings is unreliable (it cuts e-mail domains
    # and leaves "Name (mailto:" behind), so a single author is taken from the raw string.
    authors = dict_get(entry, "authors")
    names: list[Any] = []
    if isinstance(authors, list) and len(authors) > 1:
        names = [dict_get(author, "name") for author in authors]
    elif isinstance(dict_get(entry, "author"), str):
        names = [dict_get(entry, "author")]
    elif isinstance(authors, list):
        names = [dict_get(author, "name") for author in authors]
    return clean_authors(names)


_MIN_TTL: Final = 60
_MAX_TTL: Final = 365 * 86_400
_PERIOD_SECONDS: Final = {
    "hourly": 3_600,
    "daily": 86_400,
    "weekly": 604_800,
    "monthly": 2_592_000,
    "yearly": 31_536_000,
}
_SMALL_INT: Final = re.compile(r"^\s*\+?(\d{1,9})\s*$")


def _ttl_seconds(feed: Any) -> int | None:
    ttl = _small_int(dict_get(feed, "ttl"))
    if ttl:
        return _clamp_ttl(ttl * 60)
    period = dict_get(feed, "sy_updateperiod")
    if isinstance(period, str) and period.strip().lower() in _PERIOD_SECONDS:
        frequency = _small_int(dict_get(feed, "sy_updatefrequency")) or 1
        return _clamp_ttl(_PERIOD_SECONDS[period.strip().lower()] // frequency)
    return None


def _small_int(value: Any) -> int | None:
    match = _SMALL_INT.match(value) if isinstance(value, str) else None
    return int(match.group(1)) if match else None


def _clamp_ttl(seconds: int) -> int:
    return min(max(seconds, _MIN_TTL), _MAX_TTL)
