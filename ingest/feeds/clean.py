"""Value hygiene: every string that leaves the parsers goes through here.

Titles, summaries and author names are plain text: markup is parsed with lxml's HTML parser,
``script``/``style``/``iframe``/... are dropped with their content, entities are decoded,
any remaining tag-like text (double-escaped markup such as ``&amp;lt;script&amp;gt;``) is
removed, control characters, NULs and lone surrogates are removed, whitespace is collapsed and
the length capped. Entry URLs must be absolute ``http``/``https`` after resolution against the
feed URL (``javascript:``, ``data:``, ``mailto:`` ... never come out). Dates come out as aware
UTC datetimes, languages as BCP 47-looking tags.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final
from urllib.parse import urljoin, urlsplit

import lxml.etree
import lxml.html

from ingest.feeds.model import MAX_AUTHOR_CHARS, MAX_AUTHORS, MAX_URL_CHARS

# HTML longer than this is cut before text extraction: a summary is capped far below it anyway.
_MAX_HTML_CHARS: Final = 200_000
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


def dict_get(obj: Any, key: str) -> Any:
    # dict.get bypasses FeedParserDict's key aliases, one of which (updated -> published)
    # emits a DeprecationWarning.
    return dict.get(obj, key) if isinstance(obj, dict) else None


def clean_str(value: str) -> str:
    return _BAD_CHARS.sub("", value)


def short(value: Any, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    value = " ".join(clean_str(value).split())
    return value[:limit] or None


def http_url(value: Any, base: str | None) -> str | None:
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


def plain_text(value: Any, limit: int) -> str | None:
    """Markup-free, whitespace-collapsed text of at most ``limit`` characters, or None."""
    if not isinstance(value, str):
        return None
    text = clean_str(value[:_MAX_HTML_CHARS])
    if "<" in text or "&" in text:
        text = _html_to_text(text)
        # Double-escaped markup decodes to tag-like text: drop it, a tag is never content.
        for _ in range(5):
            stripped = _TAG_LIKE.sub(" ", text)
            if stripped == text:
                break
            text = stripped
        text = clean_str(text)
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


def struct_time_utc(value: Any) -> datetime | None:
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


def parse_datetime(value: Any) -> datetime | None:
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


def language_tag(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    tag = value.strip().replace("_", "-")
    return tag if len(tag) <= 35 and _LANGUAGE.match(tag) else None


_EMAIL_WITH_NAME: Final = re.compile(r"^\S+@\S+\s*\((.+)\)$")
_NAME_WITH_EMAIL: Final = re.compile(r"^(.+?)\s*[(<](?:mailto:)?\S+@\S+[)>]$")
_BARE_EMAIL: Final = re.compile(r"^(?:mailto:)?\S+@\S+$")


def clean_authors(names: Iterable[Any]) -> tuple[str, ...]:
    out: list[str] = []
    for raw in names:
        name = plain_text(raw, MAX_AUTHOR_CHARS)
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
