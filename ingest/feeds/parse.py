"""Feed and sitemap parsing: bytes in, :class:`~ingest.feeds.model.ParsedFeed` out.

Pure: no network, no file system, no clock. The fetcher hands :func:`parse_feed` a response
body (and optionally the feed URL and the ``Content-Type`` header); it returns the entries
found, or raises one of the errors of :mod:`schemas.errors`. For *any* input bytes the only
exceptions that leave it are :class:`~schemas.errors.ContentTooLarge`,
:class:`~schemas.errors.MalformedFeed` and :class:`~schemas.errors.HostileFeed`.

The format is detected from the bytes (``content_type`` only lends its ``charset``), then one
module parses it: :mod:`~ingest.feeds.rss` (``rss``, ``rdf``, ``atom``),
:mod:`~ingest.feeds.jsonfeed` (``json``), :mod:`~ingest.feeds.sitemap` (``sitemap``,
``sitemapindex``, ``text-sitemap``). Before that, :mod:`~ingest.feeds.sniff` undoes gzip and
settles the encoding, and :mod:`~ingest.feeds.xmlguard` refuses entity declarations; every
value that comes out goes through :mod:`~ingest.feeds.clean`.

An ill-formed document that yields no entries, and anything that is not a feed at all (an
HTML page, an empty document, other XML, broken JSON), raise
:class:`~schemas.errors.MalformedFeed`. A well-formed feed without items is simply returned
with no entries. Nothing expands the input (no entities; gzip output capped), so memory grows
with the body size only.

Error reasons raised
--------------------
``ContentTooLarge``: ``feed_too_large``, ``decompressed_too_large``.
``HostileFeed``: ``entity_declaration``, ``entity_expansion``, ``external_entity``.
``MalformedFeed``: ``empty_document``, ``not_a_feed``, ``invalid_json``, ``bad_gzip``,
``bad_encoding``, ``ill_formed_xml``, ``parser_error``.
"""

from __future__ import annotations

import re
from typing import Final

from ingest.feeds.clean import http_url
from ingest.feeds.jsonfeed import parse_json_feed
from ingest.feeds.model import ParsedFeed
from ingest.feeds.rss import parse_with_feedparser
from ingest.feeds.sitemap import parse_text_sitemap, parse_xml_sitemap
from ingest.feeds.sniff import gunzip_layers, sniff_encoding, sniff_head, to_utf8
from ingest.feeds.xmlguard import check_not_hostile, root_start
from schemas.errors import ContentTooLarge, MalformedFeed

_ROOT_NAME: Final = re.compile(rb"<([^\s/>]+)")


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
    data = gunzip_layers(bytes(body), max_bytes)
    base = http_url(url, None) if url else None
    max_entries = max(0, max_entries)

    head = sniff_head(data)
    if not head:
        raise MalformedFeed("the document is empty", reason="empty_document")
    if head[0] == "{":
        return parse_json_feed(data, base, max_entries)
    if head[0] != "<":
        text_sitemap = parse_text_sitemap(data, base, max_entries)
        if text_sitemap is not None:
            return text_sitemap
        if b"<" not in data:
            raise MalformedFeed("neither XML, JSON nor a list of URLs", reason="not_a_feed")
    return _parse_xml(data, base, content_type, max_entries)


def _parse_xml(
    data: bytes, base: str | None, content_type: str | None, max_entries: int
) -> ParsedFeed:
    # Whitespace before "<?xml" is a common server bug that makes expat give up.
    encoding, skip = sniff_encoding(data)
    if encoding in (None, "utf-8"):
        rest = data[skip:].lstrip(b" \t\r\n")
        if rest.startswith(b"<"):
            data = data[:skip] + rest
    check_not_hostile(data)
    utf8, encoding_warning = to_utf8(data, content_type)
    check_not_hostile(utf8)

    root = root_start(utf8)
    if root < 0:
        raise MalformedFeed("the document has no root element", reason="empty_document")
    name_match = _ROOT_NAME.match(utf8, root)
    root_name = name_match.group(1).rsplit(b":", 1)[-1].lower() if name_match else b""
    if root_name == b"html":
        raise MalformedFeed("the document is an HTML page, not a feed", reason="not_a_feed")
    if root_name in (b"urlset", b"sitemapindex"):
        return parse_xml_sitemap(utf8, base, max_entries, encoding_warning)
    return parse_with_feedparser(utf8, base, max_entries, encoding_warning, root_name)
