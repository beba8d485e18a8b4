"""Sitemaps: XML ``<urlset>`` (with the Google News extension), ``<sitemapindex>`` and plain-text
sitemaps (one absolute http(s) URL per line).

XML sitemaps are parsed with lxml in recover mode, without DTDs, network or entity resolution.
Elements are matched by local name, so a wrong or missing namespace is tolerated. An
ill-formed sitemap that yields URLs returns them with ``ParsedFeed.warning`` set; one that
yields none raises :class:`~schemas.errors.MalformedFeed`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final

import lxml.etree

from ingest.feeds.clean import http_url, language_tag, parse_datetime, plain_text
from ingest.feeds.model import MAX_TITLE_CHARS, FeedEntry, ParsedFeed
from ingest.feeds.sniff import decode_text
from schemas.errors import MalformedFeed


def parse_xml_sitemap(
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
            link = http_url(_child_texts(el).get("loc") or _own_text(el), base)
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
        link = http_url(fields.get("loc") or _own_text(el), base)
        if link is None:
            continue
        news = next((child for child in el if _local_name(child) == "news"), None)
        news_fields = _descendant_texts(news) if news is not None else {}
        entries.append(
            FeedEntry(
                url=link,
                title=plain_text(news_fields.get("title"), MAX_TITLE_CHARS),
                published_at=parse_datetime(news_fields.get("publication_date"))
                or parse_datetime(fields.get("lastmod")),
                summary=None,
                authors=(),
                guid=None,
                language=language_tag(news_fields.get("language")),
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


_URL_LINE: Final = re.compile(r"^https?://\S+$", re.I)


def parse_text_sitemap(data: bytes, base: str | None, max_entries: int) -> ParsedFeed | None:
    """A text sitemap, or None if the first non-blank line is not an http(s) URL."""
    lines = [line.strip() for line in decode_text(data).lstrip("\ufeff").splitlines()]
    lines = [line for line in lines if line]
    if not lines or not _URL_LINE.match(lines[0]):
        return None
    entries: list[FeedEntry] = []
    skipped = 0
    for line in lines:
        link = http_url(line, base) if _URL_LINE.match(line) else None
        if link is None:
            skipped += 1
            continue
        if len(entries) < max_entries:
            entries.append(FeedEntry(link, None, None, None, (), None))
    warning = f"ignored_lines: {skipped} lines are not http(s) URLs" if skipped else None
    return ParsedFeed("text-sitemap", None, tuple(entries), (), None, warning)
