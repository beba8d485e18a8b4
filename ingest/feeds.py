"""Feed and sitemap parsing: bytes in, :class:`ParsedFeed` out.

This module is pure: no network, no file system, no clock. The fetcher hands it a response
body (and optionally the feed URL and the ``Content-Type`` header); it returns the entries
found, or raises one of the errors of :mod:`schemas.errors`. For *any* input bytes the only
exceptions that leave :func:`parse_feed` are :class:`~schemas.errors.ContentTooLarge`,
:class:`~schemas.errors.MalformedFeed` and :class:`~schemas.errors.HostileFeed`.

Formats (detected from the bytes; ``content_type`` is only a hint, see below)
-------------------------------------------------------------------------------
``rss``           RSS 0.91-0.94 and 2.0 (and the obsolete CDF), through feedparser.
``rdf``           RSS 0.90 / 1.0 (RDF), through feedparser.
``atom``          Atom 0.3 and 1.0, through feedparser (``xml:base`` and relative links are
                  resolved, against ``url`` where the feed gives no base).
``json``          JSON Feed 1.0 / 1.1 (https://jsonfeed.org/version/1.1). feedparser 6.0.x
                  has no JSON Feed support (it only exists in its unreleased main branch), so
                  it is parsed here with :mod:`json`.
``sitemap``       XML sitemap ``<urlset>``, with the Google News extension (``news:title``,
                  ``news:publication_date``, ``news:language``), parsed with lxml. Elements
                  are matched by local name, so a wrong or missing namespace is tolerated.
``sitemapindex``  ``<sitemapindex>``: the child sitemap URLs go to ``ParsedFeed.sitemaps``.
``text-sitemap``  A plain-text sitemap: one absolute http(s) URL per line.

A body starting with the gzip magic number is decompressed first (at most two layers), with a
hard cap of ``max_bytes`` on the decompressed size. Byte order marks are honoured.

Character encodings of XML documents are resolved by feedparser's own RFC 3023 logic
(``feedparser.encodings.convert_to_utf8``: BOM, XML declaration, then fallbacks); the
``charset`` of ``content_type`` is used only when the document declares no encoding itself
(no BOM, no ``encoding=`` in the XML declaration). The UTF-8 result of that conversion is
what is checked for hostile constructs and what the parsers see.

Hostile XML policy
------------------
Before any XML parser touches the bytes, the prolog (everything before the root element,
and at least everything before the first ``<name`` as feedparser itself sees it) is scanned
for ``<!ENTITY`` declarations - once on the raw bytes, once on the decoded UTF-8 text.
**Any entity declaration is refused** with :class:`~schemas.errors.HostileFeed`:

* ``external_entity``     an entity with a ``SYSTEM`` or ``PUBLIC`` identifier (XXE, local
                          file or URL inclusion, parameter entities pulling external DTDs);
* ``entity_expansion``    an entity whose value references other entities (billion laughs);
* ``entity_declaration``  any other entity declaration. This covers the quadratic blowup,
                          whose single large literal entity looks harmless by itself.

Why refuse them all: feedparser strips the DOCTYPE but re-inserts every declaration whose
value is a plain literal (its "safe entities", ``feedparser.sanitizer.replace_doctype``), and
both its expat and its loose parser then expand them. A 100 KB literal referenced a few
thousand times (defusedxml's ``quadratic.xml``) costs about 1 s and 300 MB; the same payload
encoded as UTF-7 (``+ADw-!ENTITY``, which feedparser decodes if the XML declaration asks for
it) passes any scan of the raw bytes. Real news feeds do not declare entities; the two
feedparser conformance feeds that do (``wellformed/rss/entity_in_doctype.xml`` with one tiny
literal entity and ``wellformed/rdf/doctype_contains_entity_decl.xml`` with an *external*
parameter entity) are refused on purpose: the false-positive cost is a couple of synthetic
test feeds, the false-negative cost is a worker stalled or killed by memory.

A DOCTYPE *without* entity declarations - e.g. RSS 0.91's
``<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "http://...dtd">`` - is
accepted and never fetched: feedparser removes the DOCTYPE and disables external general
entities in expat; lxml runs with ``load_dtd=False, no_network=True, resolve_entities=False,
huge_tree=False``. ``feedparser.parse`` is only ever given an in-memory stream: passed raw
bytes it would try ``open(bytes)`` first, i.e. read a local file named by the body.

Ill-formed input
----------------
When the document is not well-formed (feedparser's ``bozo``, lxml's recovered errors) but
entries were recovered, they are returned and ``ParsedFeed.warning`` holds a short reason
such as ``"ill_formed_xml: undefined entity at line 7, column 12"``. Encoding fix-ups
(``encoding_override``) are reported the same way. An ill-formed document that yields no
entries, and anything that is not a feed at all (an HTML page, an empty document, other XML,
broken JSON), raise :class:`~schemas.errors.MalformedFeed`. A well-formed feed without items
is simply returned with no entries.

Output hygiene
--------------
Titles, summaries and author names are plain text: markup is parsed with lxml's HTML parser,
``script``/``style``/``iframe``/... are dropped with their content, entities are decoded,
any remaining tag-like text (double-escaped markup such as ``&amp;lt;script&amp;gt;``) is
removed, control characters, NULs and lone surrogates are removed, whitespace is collapsed and
the length capped (:data:`MAX_TITLE_CHARS`, :data:`MAX_SUMMARY_CHARS`). Entry URLs must be
absolute ``http``/``https`` after resolution against the feed URL; entries without one are
dropped (``javascript:``, ``data:``, ``mailto:`` ... never come out).

Cost
----
Everything here is linear in the input (the prolog scan included, also on unterminated
comments, PIs and literals), and nothing expands it (no entities; gzip output capped), so
memory grows with the body size only. The slowest part is
feedparser itself: a few seconds for an 8 MB, 5,000-item feed, and its loose (SGML) parser,
which ill-formed documents fall back to, needs up to ~10 s per MB of pathological markup
(e.g. a megabyte of ``<a<a<a``). Run the parser under the worker's task time limit, and keep
``max_bytes`` for feeds at the few megabytes real feeds need.

Error reasons raised
--------------------
``ContentTooLarge``: ``feed_too_large``, ``decompressed_too_large``.
``HostileFeed``: ``entity_declaration``, ``entity_expansion``, ``external_entity``.
``MalformedFeed``: ``empty_document``, ``not_a_feed``, ``invalid_json``, ``bad_gzip``,
``bad_encoding``, ``ill_formed_xml``, ``parser_error``.
"""

from __future__ import annotations

import html
import io
import json
import re
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final
from urllib.parse import urljoin, urlsplit

import feedparser
import lxml.etree
import lxml.html
from feedparser.encodings import convert_to_utf8

from schemas.errors import ContentTooLarge, HostileFeed, MalformedFeed

__all__ = [
    "COMMON_FEED_PATHS",
    "MAX_SUMMARY_CHARS",
    "MAX_TITLE_CHARS",
    "FeedEntry",
    "ParsedFeed",
    "discover_feed_links",
    "parse_feed",
    "sitemaps_from_robots",
]

MAX_TITLE_CHARS: Final = 1_000
MAX_SUMMARY_CHARS: Final = 4_000
MAX_URL_CHARS: Final = 4_096
MAX_GUID_CHARS: Final = 2_048
MAX_AUTHOR_CHARS: Final = 200
MAX_AUTHORS: Final = 20
# HTML longer than this is cut before text extraction: a summary is capped far below it anyway.
_MAX_HTML_CHARS: Final = 200_000
_MIN_TTL: Final = 60
_MAX_TTL: Final = 365 * 86_400
_MAX_GZIP_LAYERS: Final = 2

COMMON_FEED_PATHS: Final[tuple[str, ...]] = (
    "/feed",
    "/feed/",
    "/rss",
    "/rss.xml",
    "/feed.xml",
    "/atom.xml",
    "/index.xml",
    "/index.rss",
    "/feed.json",
    "/feeds/posts/default",
    "/news-sitemap.xml",
    "/sitemap_news.xml",
    "/sitemap-news.xml",
)

_FEED_LINK_TYPES: Final = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
        "application/rdf+xml",
    }
)


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One article found in a feed or sitemap."""

    url: str
    """Absolute http(s) link to the article."""
    title: str | None
    """Plain text."""
    published_at: datetime | None
    """Timezone-aware UTC: published, else updated (sitemaps: publication_date, else lastmod)."""
    summary: str | None
    """Plain text, at most :data:`MAX_SUMMARY_CHARS` characters."""
    authors: tuple[str, ...]
    guid: str | None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """What :func:`parse_feed` found in one document."""

    kind: str
    """One of ``rss``, ``atom``, ``rdf``, ``json``, ``sitemap``, ``sitemapindex``,
    ``text-sitemap``."""
    title: str | None
    entries: tuple[FeedEntry, ...]
    sitemaps: tuple[str, ...]
    """Child sitemap URLs of a sitemap index (empty for everything else)."""
    ttl_seconds: int | None
    """Polling hint from RSS ``<ttl>`` or ``sy:updatePeriod``/``sy:updateFrequency``,
    clamped to [60 s, 1 year]; None if the feed gives none."""
    warning: str | None
    """Short reason when the document was ill-formed but entries were recovered."""


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def parse_feed(
    body: bytes,
    *,
    url: str | None = None,
    content_type: str | None = None,
    max_bytes: int = 10_000_000,
    max_entries: int = 5000,
) -> ParsedFeed:
    """Parse a feed or sitemap body.

    ``url`` is the address the body was fetched from: relative links are resolved against it.
    ``content_type`` is the response's Content-Type; only its ``charset`` is used, and only
    when the document does not declare its own encoding. At most ``max_entries`` entries (and
    child sitemaps) are returned.

    Raises ContentTooLarge, HostileFeed or MalformedFeed (see the module docstring).
    """
    if len(body) > max_bytes:
        raise ContentTooLarge(
            f"feed body is {len(body)} bytes, over the {max_bytes} byte cap",
            reason="feed_too_large",
        )
    data = _gunzip_layers(bytes(body), max_bytes)
    base = _http_url(url, None) if url else None
    max_entries = max(0, max_entries)

    head = _sniff_head(data)
    if not head:
        raise MalformedFeed("the document is empty", reason="empty_document")
    if head[0] == "{":
        return _parse_json_feed(data, base, max_entries)
    if head[0] != "<":
        text_sitemap = _parse_text_sitemap(data, base, max_entries)
        if text_sitemap is not None:
            return text_sitemap
        if b"<" not in data:
            raise MalformedFeed("neither XML, JSON nor a list of URLs", reason="not_a_feed")
    return _parse_xml(data, base, content_type, max_entries)


def discover_feed_links(html_doc: bytes | str, base_url: str) -> list[str]:
    """Feed URLs advertised by an HTML page, in page order, resolved and de-duplicated.

    Looks at ``<link rel="alternate" type="application/rss+xml|atom+xml|feed+json|rdf+xml"
    href=...>`` (``rel`` may hold several tokens); honours ``<base href>``; keeps http(s) only.
    """
    if isinstance(html_doc, str):
        raw = _clean_str(html_doc).encode("utf-8")
        parser = lxml.html.HTMLParser(encoding="utf-8", no_network=True, default_doctype=False)
    else:
        raw = html_doc
        parser = lxml.html.HTMLParser(no_network=True, default_doctype=False)
    if not raw.strip():
        return []
    try:
        root = lxml.etree.fromstring(raw, parser)
    except (lxml.etree.LxmlError, ValueError):
        return []
    if root is None:
        return []
    base = _http_url(base_url, None) or base_url
    for el in root.iter("base"):
        try:
            href = el.get("href")
        except ValueError:  # undecodable attribute bytes
            continue
        if href:
            base = _http_url(href, base) or base
            break
    found: list[str] = []
    for el in root.iter("link"):
        try:
            rel = (el.get("rel") or "").lower().split()
            mime = (el.get("type") or "").split(";", 1)[0].strip().lower()
            href = el.get("href")
        except ValueError:  # undecodable attribute bytes
            continue
        if "alternate" not in rel or mime not in _FEED_LINK_TYPES:
            continue
        link = _http_url(href, base)
        if link and link not in found:
            found.append(link)
    return found


def sitemaps_from_robots(text: str, base_url: str) -> list[str]:
    """The ``Sitemap:`` URLs of a robots.txt, resolved against ``base_url``, de-duplicated.

    The field name is case-insensitive; ``#`` starts a comment; only http(s) URLs are kept.
    """
    found: list[str] = []
    for line in text.lstrip("\ufeff").splitlines():
        field, sep, value = line.split("#", 1)[0].partition(":")
        if not sep or field.strip().lower() != "sitemap":
            continue
        link = _http_url(value.strip(), base_url)
        if link and link not in found:
            found.append(link)
    return found


# --------------------------------------------------------------------------------------------
# Container and format sniffing
# --------------------------------------------------------------------------------------------

_GZIP_MAGIC: Final = b"\x1f\x8b"


def _gunzip_layers(data: bytes, limit: int) -> bytes:
    for _ in range(_MAX_GZIP_LAYERS):
        if not data.startswith(_GZIP_MAGIC):
            break
        data = _gunzip(data, limit)
    return data


def _gunzip(data: bytes, limit: int) -> bytes:
    """Decompress (possibly multi-member) gzip, refusing more than ``limit`` output bytes.

    A truncated stream yields what was decompressed so far (the parsers then report the
    document as ill-formed); a stream that yields nothing at all is ``bad_gzip``.
    """
    out = bytearray()
    while data.startswith(_GZIP_MAGIC):
        inflater = zlib.decompressobj(wbits=31)
        pending = data
        try:
            while pending:
                out += inflater.decompress(pending, limit + 1 - len(out))
                if len(out) > limit:
                    raise ContentTooLarge(
                        f"gzip body inflates to more than {limit} bytes",
                        reason="decompressed_too_large",
                    )
                if inflater.eof:
                    break
                pending = inflater.unconsumed_tail
        except zlib.error as exc:
            if not out:
                raise MalformedFeed(f"cannot decompress gzip: {exc}", reason="bad_gzip") from exc
            break
        if not inflater.eof:
            break
        data = inflater.unused_data
    if not out:
        raise MalformedFeed("gzip body decompresses to nothing", reason="bad_gzip")
    return bytes(out)


_BOMS: Final[tuple[tuple[bytes, str], ...]] = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)
# XML spec appendix F: the first character ('<', '{' or anything ASCII) without a BOM.
_NULL_PATTERNS: Final[tuple[tuple[bytes, bytes, str], ...]] = (
    (b"\x00\x00\x00", b"", "utf-32-be"),
    (b"", b"\x00\x00\x00", "utf-32-le"),
    (b"\x00", b"", "utf-16-be"),
    (b"", b"\x00", "utf-16-le"),
)


def _sniff_encoding(data: bytes) -> tuple[str | None, int]:
    """(encoding, BOM length) from a BOM or the NUL pattern of an ASCII first character."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding, len(bom)
    if len(data) >= 4:
        for before, after, encoding in _NULL_PATTERNS:
            width = len(before) + len(after) + 1
            unit = data[:width]
            if (
                len(unit) == width
                and unit.startswith(before)
                and unit.endswith(after)
                and 0 < unit[len(before)] < 0x80
                and (before or after)
            ):
                return encoding, 0
    return None, 0


def _decode_text(data: bytes) -> str:
    encoding, skip = _sniff_encoding(data)
    return data[skip:].decode(encoding or "utf-8", "replace")


def _sniff_head(data: bytes) -> str:
    """The first few hundred characters, decoded, without BOM and leading whitespace."""
    return _decode_text(data[:4096]).lstrip(" \t\r\n\ufeff\x00")


# --------------------------------------------------------------------------------------------
# Hostile XML pre-check
# --------------------------------------------------------------------------------------------

# "<" opening a PI, a comment or declaration, or an element (name start: letter, "_", ":",
# or any non-ASCII byte).
_MARKUP_START: Final = re.compile(rb"<[?!A-Za-z_:\x80-\xff]")
# Inside a markup declaration / internal subset: literals, comments, PIs, brackets, the end.
# An unterminated literal, comment or PI runs to the end of the data (``\Z``): one match, so
# the scan stays linear however many of them there are.
_DECL_TOKEN: Final = re.compile(
    rb"\"[^\"]*(?:\"|\Z)|'[^']*(?:'|\Z)|<!--.*?(?:-->|\Z)|<\?.*?(?:\?>|\Z)|[\[\]>]", re.S
)
# Where feedparser's replace_doctype() ends the "head" it takes entity declarations from.
_FEEDPARSER_HEAD_END: Final = re.compile(rb"<\w")
_ENTITY_OPEN: Final = re.compile(rb"<!ENTITY", re.I)
_ENTITY_DECL: Final = re.compile(
    rb"<!ENTITY\s+(?:%\s*)?[^\s\"'>]+\s+(SYSTEM\b|PUBLIC\b|\"[^\"]*(?:\"|\Z)|'[^']*(?:'|\Z))", re.I
)
_ROOT_NAME: Final = re.compile(rb"<([^\s/>]+)")


def _root_start(data: bytes) -> int:
    """Offset of the ``<`` opening the root element, or -1 if there is none.

    Skips the XML declaration, PIs, comments and the DOCTYPE (with its internal subset:
    quoted literals, comments and PIs inside it are honoured); stray text is skipped.
    """
    n = len(data)
    i = 0
    while i < n:
        markup = _MARKUP_START.search(data, i)  # skips stray "<" without a Python loop
        if markup is None:
            return -1
        lt = markup.start()
        if data.startswith(b"<?", lt):
            end = data.find(b"?>", lt + 2)
            i = n if end < 0 else end + 2
        elif data.startswith(b"<!--", lt):
            end = data.find(b"-->", lt + 4)
            i = n if end < 0 else end + 3
        elif data.startswith(b"<!", lt):
            i = _declaration_end(data, lt + 2)
        else:
            return lt
    return -1


def _declaration_end(data: bytes, pos: int) -> int:
    depth = 0
    for match in _DECL_TOKEN.finditer(data, pos):
        token = match.group()
        if token == b"[":
            depth += 1
        elif token == b"]":
            depth = max(0, depth - 1)
        elif token == b">" and depth == 0:
            return match.end()
    return len(data)


def _check_not_hostile(data: bytes) -> None:
    """Refuse entity declarations before the root element (``data`` ASCII-compatible)."""
    root = _root_start(data)
    end = len(data) if root < 0 else root
    feedparser_head = _FEEDPARSER_HEAD_END.search(data)
    if feedparser_head is not None:
        end = max(end, feedparser_head.end())
    head = data[:end]
    if _ENTITY_OPEN.search(head) is None:
        return
    targets = [m.group(1) for m in _ENTITY_DECL.finditer(head)]
    if any(t[:1].upper() in (b"S", b"P") for t in targets):
        raise HostileFeed("the document declares external entities", reason="external_entity")
    if any(b"&" in t or b"%" in t for t in targets):
        raise HostileFeed(
            "the document declares nested entities (entity expansion)",
            reason="entity_expansion",
        )
    raise HostileFeed("the document declares entities in its DTD", reason="entity_declaration")


# --------------------------------------------------------------------------------------------
# XML: feedparser for feeds, lxml for sitemaps
# --------------------------------------------------------------------------------------------

_XML_DECL_ENCODING: Final = re.compile(rb"<\?xml[^>]{0,200}?encoding\s*=", re.I)
_CHARSET: Final = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]{1,40})", re.I)
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


def _parse_xml(
    data: bytes, base: str | None, content_type: str | None, max_entries: int
) -> ParsedFeed:
    # Whitespace before "<?xml" is a common server bug that makes expat give up.
    encoding, skip = _sniff_encoding(data)
    if encoding in (None, "utf-8"):
        rest = data[skip:].lstrip(b" \t\r\n")
        if rest.startswith(b"<"):
            data = data[:skip] + rest
    _check_not_hostile(data)
    utf8, encoding_warning = _to_utf8(data, content_type)
    _check_not_hostile(utf8)

    root = _root_start(utf8)
    if root < 0:
        raise MalformedFeed("the document has no root element", reason="empty_document")
    name_match = _ROOT_NAME.match(utf8, root)
    root_name = name_match.group(1).rsplit(b":", 1)[-1].lower() if name_match else b""
    if root_name == b"html":
        raise MalformedFeed("the document is an HTML page, not a feed", reason="not_a_feed")
    if root_name in (b"urlset", b"sitemapindex"):
        return _parse_xml_sitemap(utf8, base, max_entries, encoding_warning)
    return _parse_with_feedparser(utf8, base, max_entries, encoding_warning, root_name)


def _to_utf8(data: bytes, content_type: str | None) -> tuple[bytes, str | None]:
    """Decode as feedparser would (RFC 3023 rules) and re-encode as UTF-8."""
    headers: dict[str, str] = {}
    charset = _CHARSET.search(content_type or "")
    encoding, _ = _sniff_encoding(data)
    if charset and encoding is None and not _XML_DECL_ENCODING.match(data[:256]):
        headers["content-type"] = f"application/xml; charset={charset.group(1)}"
    result: dict[str, Any] = {}
    try:
        utf8 = convert_to_utf8(headers, data, result)
    except Exception as exc:  # any codec the document names may misbehave
        raise MalformedFeed(f"cannot decode the document: {exc!r}", reason="bad_encoding") from exc
    if not isinstance(utf8, bytes):
        raise MalformedFeed("cannot decode the document", reason="bad_encoding")
    warning = _bozo_warning(result.get("bozo_exception")) if result.get("bozo") else None
    return utf8, warning


def _bozo_warning(exc: object) -> str:
    name = type(exc).__name__
    text = str(exc)
    if name == "SAXParseException":
        slug = "ill_formed_xml"
        parts = text.split(":", 3)
        if len(parts) == 4 and parts[1].isdigit() and parts[2].isdigit():
            text = f"{parts[3].strip()} at line {parts[1]}, column {parts[2]}"
    elif name == "CharacterEncodingOverride":
        slug = "encoding_override"
    elif name == "CharacterEncodingUnknown":
        slug = "encoding_unknown"
    elif name == "NonXMLContentType":
        slug = "non_xml_content_type"
    elif name == "UndeclaredNamespace":
        slug = "undeclared_namespace"
    else:
        slug = "ill_formed_xml"
    text = _clean_str(" ".join(text.split()))[:160]
    return f"{slug}: {text}" if text else slug


def _parse_with_feedparser(
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

    warning = _bozo_warning(bozo_exception) if bozo else encoding_warning
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
        title=_plain_text(_get(feed, "title"), MAX_TITLE_CHARS),
        entries=entries,
        sitemaps=(),
        ttl_seconds=_ttl_seconds(feed),
        warning=warning,
    )


def _feedparser_entries(
    raw_entries: Iterable[Any], feed: Any, base: str | None, max_entries: int
) -> Iterator[FeedEntry]:
    feed_language = _language(_get(feed, "language"))
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
        title_detail = _get(entry, "title_detail")
        summary_detail = _get(entry, "summary_detail")
        language = (
            _language(_get(title_detail, "language"))
            or _language(_get(summary_detail, "language"))
            or feed_language
        )
        yield FeedEntry(
            url=link,
            title=_plain_text(_get(entry, "title"), MAX_TITLE_CHARS),
            published_at=_struct_time_utc(_get(entry, "published_parsed"))
            or _struct_time_utc(_get(entry, "updated_parsed")),
            summary=_plain_text(_entry_summary(entry), MAX_SUMMARY_CHARS),
            authors=_feedparser_authors(entry),
            guid=_short(_get(entry, "id"), MAX_GUID_CHARS),
            language=language,
        )


def _entry_link(entry: Any, base: str | None) -> str | None:
    # FeedBurner rewrites links to its redirector and keeps the real one in origLink.
    for candidate in (_get(entry, "feedburner_origlink"), _get(entry, "link")):
        link = _http_url(candidate, base)
        if link:
            return link
    links = _get(entry, "links")
    if isinstance(links, list):
        for item in links:
            if _get(item, "rel") in (None, "alternate"):
                link = _http_url(_get(item, "href"), base)
                if link:
                    return link
    return None


def _entry_summary(entry: Any) -> Any:
    summary = _get(entry, "summary")
    if isinstance(summary, str) and summary.strip():
        return summary
    content = _get(entry, "content")
    if isinstance(content, list):
        for item in content:
            value = _get(item, "value")
            if isinstance(value, str) and value.strip():
                return value
    return None


_EMAIL_WITH_NAME: Final = re.compile(r"^\S+@\S+\s*\((.+)\)$")
_NAME_WITH_EMAIL: Final = re.compile(r"^(.+?)\s*[(<](?:mailto:)?\S+@\S+[)>]$")
_BARE_EMAIL: Final = re.compile(r"^(?:mailto:)?\S+@\S+$")


def _feedparser_authors(entry: Any) -> tuple[str, ...]:
    # feedparser's own split of "email (Name)" strings is unreliable (it cuts e-mail domains
    # and leaves "Name (mailto:" behind), so a single author is taken from the raw string.
    authors = _get(entry, "authors")
    names: list[Any] = []
    if isinstance(authors, list) and len(authors) > 1:
        names = [_get(author, "name") for author in authors]
    elif isinstance(_get(entry, "author"), str):
        names = [_get(entry, "author")]
    elif isinstance(authors, list):
        names = [_get(author, "name") for author in authors]
    return _clean_authors(names)


def _clean_authors(names: Iterable[Any]) -> tuple[str, ...]:
    out: list[str] = []
    for raw in names:
        name = _plain_text(raw, MAX_AUTHOR_CHARS)
        if not name:
            continue
        match = _EMAIL_WITH_NAME.match(name) or _NAME_WITH_EMAIL.match(name)
        if match:
            name = match.group(1).strip()
        if name.count("(") > name.count(")"):  # "Name (mailto:" left by feedparser
            name = name[: name.rfind("(")].strip()
        if not name or _BARE_EMAIL.match(name) or name in out:
            continue
        out.append(name)
        if len(out) >= MAX_AUTHORS:
            break
    return tuple(out)


_PERIOD_SECONDS: Final = {
    "hourly": 3_600,
    "daily": 86_400,
    "weekly": 604_800,
    "monthly": 2_592_000,
    "yearly": 31_536_000,
}
_SMALL_INT: Final = re.compile(r"^\s*\+?(\d{1,9})\s*$")


def _ttl_seconds(feed: Any) -> int | None:
    ttl = _small_int(_get(feed, "ttl"))
    if ttl:
        return _clamp_ttl(ttl * 60)
    period = _get(feed, "sy_updateperiod")
    if isinstance(period, str) and period.strip().lower() in _PERIOD_SECONDS:
        frequency = _small_int(_get(feed, "sy_updatefrequency")) or 1
        return _clamp_ttl(_PERIOD_SECONDS[period.strip().lower()] // frequency)
    return None


def _small_int(value: Any) -> int | None:
    match = _SMALL_INT.match(value) if isinstance(value, str) else None
    return int(match.group(1)) if match else None


def _clamp_ttl(seconds: int) -> int:
    return min(max(seconds, _MIN_TTL), _MAX_TTL)


def _parse_xml_sitemap(
    utf8: bytes, base: str | None, max_entries: int, encoding_warning: str | None
) -> ParsedFeed:
    parser = lxml.etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        attribute_defaults=False,
        recover=True,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )
    try:
        root = lxml.etree.fromstring(utf8, parser)
    except (lxml.etree.LxmlError, ValueError) as exc:
        raise MalformedFeed(f"unreadable sitemap XML: {exc}", reason="ill_formed_xml") from exc
    errors = [e for e in parser.error_log if e.level >= lxml.etree.ErrorLevels.ERROR]
    warning = encoding_warning
    if errors:
        first = errors[0]
        detail = " ".join(str(first.message).split())[:120]
        warning = f"ill_formed_xml: {detail} at line {first.line}, column {first.column}"
    if root is None:
        raise MalformedFeed("unreadable sitemap XML", reason="ill_formed_xml")

    if _local_name(root) == "sitemapindex":
        sitemaps: list[str] = []
        for el in _elements_named(root, "sitemap"):
            if len(sitemaps) >= max_entries:
                break
            link = _http_url(_child_texts(el).get("loc") or _own_text(el), base)
            if link and link not in sitemaps:
                sitemaps.append(link)
        if not sitemaps and errors:
            raise MalformedFeed(f"no sitemap recovered ({warning})", reason="ill_formed_xml")
        return ParsedFeed("sitemapindex", None, (), tuple(sitemaps), None, warning)

    entries: list[FeedEntry] = []
    for el in _elements_named(root, "url"):
        if len(entries) >= max_entries:
            break
        fields = _child_texts(el)
        link = _http_url(fields.get("loc") or _own_text(el), base)
        if link is None:
            continue
        news = next((child for child in el if _local_name(child) == "news"), None)
        news_fields = _descendant_texts(news) if news is not None else {}
        entries.append(
            FeedEntry(
                url=link,
                title=_plain_text(news_fields.get("title"), MAX_TITLE_CHARS),
                published_at=_parse_datetime(news_fields.get("publication_date"))
                or _parse_datetime(fields.get("lastmod")),
                summary=None,
                authors=(),
                guid=None,
                language=_language(news_fields.get("language")),
            )
        )
    if not entries and errors:
        raise MalformedFeed(f"no URL recovered ({warning})", reason="ill_formed_xml")
    return ParsedFeed("sitemap", None, tuple(entries), (), None, warning)


# lxml's recover mode can keep bytes that are not UTF-8; reading such a tag or text raises
# UnicodeDecodeError (a ValueError). The helpers below treat those nodes as absent.


def _local_name(el: Any) -> str:
    try:
        tag = el.tag
    except ValueError:
        return ""
    if not isinstance(tag, str):  # comments, PIs, entity references
        return ""
    # "{namespace}name", or "prefix:name" when lxml recovered an undeclared prefix.
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1].lower()


def _elements_named(root: Any, name: str) -> Iterator[Any]:
    """Children of ``root`` with that local name; all descendants if no child has it."""
    found = False
    for el in root:
        if _local_name(el) == name:
            found = True
            yield el
    if not found:
        for el in root.iter():
            if el is not root and _local_name(el) == name:
                yield el


def _child_texts(el: Any) -> dict[str, str]:
    """Text of the first child of each local name."""
    texts: dict[str, str] = {}
    for child in el:
        name = _local_name(child)
        if name and name not in texts:
            text = _text_content(child)
            if text is not None:
                texts[name] = text
    return texts


def _descendant_texts(el: Any) -> dict[str, str]:
    """Text of the first descendant of each local name."""
    texts: dict[str, str] = {}
    for child in el.iter():
        name = _local_name(child)
        if child is not el and name and name not in texts:
            text = _text_content(child)
            if text is not None:
                texts[name] = text
    return texts


def _own_text(el: Any) -> str | None:
    """The element's own leading text (a few generators omit ``<loc>``)."""
    try:
        return el.text.strip() if isinstance(el.text, str) else None
    except ValueError:
        return None


def _text_content(el: Any) -> str | None:
    try:
        return "".join(el.itertext()).strip()
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------
# JSON Feed and text sitemaps
# --------------------------------------------------------------------------------------------


def _parse_json_feed(data: bytes, base: str | None, max_entries: int) -> ParsedFeed:
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise MalformedFeed(f"invalid JSON: {exc}", reason="invalid_json") from exc
    if not isinstance(doc, dict):
        raise MalformedFeed("JSON document is not an object", reason="not_a_feed")
    version = doc.get("version")
    items = doc.get("items")
    is_json_feed = isinstance(version, str) and "jsonfeed.org/version/" in version
    if not is_json_feed and not isinstance(items, list):
        raise MalformedFeed("JSON document is not a JSON Feed", reason="not_a_feed")
    warning = None if is_json_feed else "unknown_json_feed_version: no jsonfeed.org version"
    feed_language = _language(doc.get("language"))
    feed_authors = _json_authors(doc)
    entries: list[FeedEntry] = []
    for item in items if isinstance(items, list) else []:
        if len(entries) >= max_entries:
            break
        if not isinstance(item, dict):
            continue
        link = _http_url(item.get("url"), base) or _http_url(item.get("external_url"), base)
        if link is None:
            item_id = item.get("id")
            link = _http_url(item_id, None) if isinstance(item_id, str) else None
        if link is None:
            continue
        summary = next(
            (
                value
                for value in (item.get(k) for k in ("summary", "content_text", "content_html"))
                if isinstance(value, str) and value.strip()
            ),
            None,
        )
        item_id = item.get("id")
        entries.append(
            FeedEntry(
                url=link,
                title=_plain_text(item.get("title"), MAX_TITLE_CHARS),
                published_at=_parse_datetime(item.get("date_published"))
                or _parse_datetime(item.get("date_modified")),
                summary=_plain_text(summary, MAX_SUMMARY_CHARS),
                authors=_json_authors(item) or feed_authors,
                guid=_short(
                    str(item_id) if isinstance(item_id, str | int) else None, MAX_GUID_CHARS
                ),
                language=_language(item.get("language")) or feed_language,
            )
        )
    return ParsedFeed(
        kind="json",
        title=_plain_text(doc.get("title"), MAX_TITLE_CHARS),
        entries=tuple(entries),
        sitemaps=(),
        ttl_seconds=None,
        warning=warning,
    )


def _json_authors(obj: dict[str, Any]) -> tuple[str, ...]:
    authors = obj.get("authors")
    people = list(authors) if isinstance(authors, list) else []
    author = obj.get("author")  # JSON Feed 1.0
    if isinstance(author, dict):
        people.append(author)
    return _clean_authors(p.get("name") for p in people if isinstance(p, dict))


_URL_LINE: Final = re.compile(r"^https?://\S+$", re.I)


def _parse_text_sitemap(data: bytes, base: str | None, max_entries: int) -> ParsedFeed | None:
    """A text sitemap, or None if the first non-blank line is not an http(s) URL."""
    lines = [line.strip() for line in _decode_text(data).lstrip("\ufeff").splitlines()]
    lines = [line for line in lines if line]
    if not lines or not _URL_LINE.match(lines[0]):
        return None
    entries: list[FeedEntry] = []
    skipped = 0
    for line in lines:
        link = _http_url(line, base) if _URL_LINE.match(line) else None
        if link is None:
            skipped += 1
            continue
        if len(entries) < max_entries:
            entries.append(FeedEntry(link, None, None, None, (), None))
    warning = f"ignored_lines: {skipped} lines are not http(s) URLs" if skipped else None
    return ParsedFeed("text-sitemap", None, tuple(entries), (), None, warning)


# --------------------------------------------------------------------------------------------
# Value hygiene: URLs, text, dates, languages
# --------------------------------------------------------------------------------------------

# C0 controls except tab/newline/CR, DEL, C1 controls and lone surrogates.
_BAD_CHARS: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_URL_STRIP: Final = re.compile("[\t\n\r]")
_ABSOLUTE_HTTP: Final = re.compile("https?://", re.I)
_TAG_LIKE: Final = re.compile(r"<\s*/?\s*[A-Za-z!?][^<>]*>")
_DROP_ELEMENTS: Final = (
    "script",
    "style",
    "noscript",
    "template",
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "applet",
    "svg",
    "math",
    "textarea",
    "select",
    "head",
)
_BLOCK_ELEMENTS: Final = (
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "tr",
    "td",
    "th",
    "table",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "section",
    "article",
    "header",
    "footer",
    "figure",
    "figcaption",
    "dd",
    "dt",
    "hr",
)


def _get(obj: Any, key: str) -> Any:
    # dict.get bypasses FeedParserDict's key aliases, one of which (updated -> published)
    # emits a DeprecationWarning.
    return dict.get(obj, key) if isinstance(obj, dict) else None


def _clean_str(value: str) -> str:
    return _BAD_CHARS.sub("", value)


def _short(value: Any, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    value = " ".join(_clean_str(value).split())
    return value[:limit] or None


def _http_url(value: Any, base: str | None) -> str | None:
    """An absolute http(s) URL, resolved against ``base``, or None."""
    if not isinstance(value, str):
        return None
    candidate = _URL_STRIP.sub("", value).strip()
    if not candidate or len(candidate) > MAX_URL_CHARS or _BAD_CHARS.search(candidate):
        return None
    candidate = candidate.replace(" ", "%20")
    try:
        if base and not _ABSOLUTE_HTTP.match(candidate):
            candidate = urljoin(base, candidate)
        parts = urlsplit(candidate)
        hostname = parts.hostname
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not hostname:  # urlsplit lower-cases it
        return None
    candidate = parts.scheme + candidate[len(parts.scheme) :]  # "HTTP://" -> "http://"
    return candidate if len(candidate) <= MAX_URL_CHARS else None


def _plain_text(value: Any, limit: int) -> str | None:
    """Markup-free, whitespace-collapsed text of at most ``limit`` characters, or None."""
    if not isinstance(value, str):
        return None
    text = _clean_str(value[:_MAX_HTML_CHARS])
    if "<" in text or "&" in text:
        text = _html_to_text(text)
        # Double-escaped markup decodes to tag-like text: drop it, a tag is never content.
        for _ in range(5):
            stripped = _TAG_LIKE.sub(" ", text)
            if stripped == text:
                break
            text = stripped
        text = _clean_str(text)
    text = " ".join(text.split())
    if len(text) > limit:
        cut = text[: limit - 1]
        space = cut.rfind(" ")
        text = (cut[:space] if space > limit * 0.8 else cut) + "\u2026"
    return text or None


def _html_to_text(markup: str) -> str:
    parser = lxml.html.HTMLParser(
        encoding="utf-8",
        remove_comments=True,
        remove_pis=True,
        no_network=True,
        default_doctype=False,
    )
    try:
        root = lxml.etree.fromstring(markup.encode("utf-8"), parser)
    except (lxml.etree.LxmlError, ValueError):
        root = None
    if root is None:  # nothing lxml could build a tree from: strip crudely
        return html.unescape(re.sub(r"<[^>]*>?", " ", markup))
    lxml.etree.strip_elements(root, *_DROP_ELEMENTS, with_tail=False)
    for el in root.iter(*_BLOCK_ELEMENTS):
        el.tail = " " + (el.tail or "")
    return "".join(root.itertext())


def _struct_time_utc(value: Any) -> datetime | None:
    """feedparser's ``*_parsed`` values are UTC ``time.struct_time``."""
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime(
            value.tm_year,
            value.tm_mon,
            value.tm_mday,
            value.tm_hour,
            value.tm_min,
            min(value.tm_sec, 59),  # leap seconds
            tzinfo=UTC,
        )
    except (ValueError, OverflowError):
        return None


_YEAR_MONTH: Final = re.compile(r"^(\d{4})(?:-(\d{2}))?$")


def _parse_datetime(value: Any) -> datetime | None:
    """Tolerant ISO 8601 / W3C datetime (then RFC 2822), as aware UTC; naive means UTC."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > 64:
        return None
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(text.upper().replace(" ", "T", 1))
    except ValueError:
        match = _YEAR_MONTH.match(text)
        try:
            if match:
                parsed = datetime(int(match.group(1)), int(match.group(2) or 1), 1)
            else:
                parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    try:
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


_LANGUAGE: Final = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")


def _language(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    tag = value.strip().replace("_", "-")
    return tag if len(tag) <= 35 and _LANGUAGE.match(tag) else None
