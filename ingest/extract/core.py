"""The extraction itself: one parse, trafilatura, and the checks around it."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from lxml.html import HtmlElement
from trafilatura import bare_extraction
from trafilatura.settings import Document
from trafilatura.utils import load_html

from ingest.extract import byline, clean, metadata, notarticle
from ingest.extract.dates import (
    DATE_FORMAT,
    PAGE_DATE,
    Published,
    from_jsonld,
    prefer_jsonld,
    published,
)
from ingest.extract.decode import decode_html, sniff_bytes, sniff_text
from ingest.extract.jsonld import read_jsonld
from ingest.extract.title import headline
from ingest.extract.words import count_words
from schemas.errors import NotAnArticle

__all__ = [
    "DEFAULT_OPTIONS",
    "MAX_HTML_CHARS",
    "ExtractOptions",
    "ExtractedArticle",
    "count_words",
    "extract_article",
    "text_hash",
]

#: Larger documents are refused (trafilatura's own MAX_FILE_SIZE is 20 MB as well).
MAX_HTML_CHARS = 20_000_000


@dataclass(frozen=True, slots=True)
class ExtractOptions:
    """The trafilatura knobs we expose, and our own steps around trafilatura.

    trafilatura's part is its own defaults (balanced, with the readability/jusText fallback
    and tables), the best F1 of its option combinations on its evaluation corpus
    (``python -m bench.extract_options --options``); ``fast=True`` is 1.5-2x faster for a
    little less F1. Our steps (cleaning, metadata, not-article checks) are measured one by
    one by ``python -m bench.extract_options`` (bench/README.md). ``min_words=25`` refuses
    0.3 % of that corpus, all of it content pages, most of them extraction failures.
    """

    favor_precision: bool = False
    favor_recall: bool = False
    fast: bool = False
    """trafilatura's fast mode (formerly ``no_fallback``): skip the readability/jusText
    comparison."""
    include_comments: bool = False
    include_tables: bool = True
    min_words: int = 25
    """Below this many words the page is "not an article" (reason ``too_short``)."""
    page_date: bool = True
    """Look for the page's publication date (htmldate, ~6 % of the extraction time on
    trafilatura's evaluation corpus). The fetcher turns it off for an entry its feed dates:
    the feed's date is the one stored (:func:`ingest.entries.article_fields`), so the page's
    would be computed for nothing. Off: ``published_at`` and ``published_source`` are None."""

    cleaning: tuple[str, ...] = clean.DEFAULT_RULES
    """The text-cleaning rules applied after trafilatura (names in
    :data:`ingest.extract.clean.RULES`); ``()`` keeps trafilatura's text as it is."""
    structured_metadata: bool = True
    """Title, authors and date from JSON-LD and the page's headings first (off: what
    trafilatura reports)."""
    detect_not_article: bool = True
    """Refuse link lists, consent walls, paywall stubs, error and navigation pages
    (:mod:`ingest.extract.notarticle`)."""

    def __post_init__(self) -> None:
        unknown = set(self.cleaning) - set(clean.RULES)
        if unknown:
            raise ValueError(f"unknown cleaning rules: {sorted(unknown)}")
        if self.favor_precision and self.favor_recall:
            raise ValueError("favor_precision and favor_recall are mutually exclusive")
        if self.min_words < 0:
            raise ValueError("min_words must be >= 0")


DEFAULT_OPTIONS = ExtractOptions()


@dataclass(frozen=True, slots=True)
class ExtractedArticle:
    """The main text of a page and what the page says about itself."""

    text: str
    title: str | None
    authors: tuple[str, ...]
    published_at: datetime | None
    """Aware, UTC; midnight UTC when only the calendar day is known."""
    published_source: str | None
    """``"jsonld"``, ``"meta"`` (date markup), ``"text"`` (found in the page's text), ``"url"``
    (a date in the URL); None if no date. (``"feed"`` is set by the fetcher.)"""
    language: str | None
    """From the page's markup (``<html lang>``, Content-Language, og:locale); ISO 639-1
    where the page gives a two-letter primary subtag."""
    site_name: str | None
    image: str | None
    """Absolute http(s) URL of the lead image (og:image and the like)."""
    canonical_url: str | None
    """``<link rel=canonical>``, else ``og:url``; absolute http(s), else None."""
    word_count: int
    text_hash: str
    """sha256 hex of the whitespace-normalised, casefolded text."""
    published_day: date | None = None
    """The calendar day of ``published_at`` as the page states it (its own time zone): the
    day a reader of the page sees, which the UTC instant can move by one."""


def extract_article(
    html: bytes | str, *, url: str | None = None, options: ExtractOptions = DEFAULT_OPTIONS
) -> ExtractedArticle:
    """Extract the main text and metadata of one HTML page.

    ``html`` is the response body (decoded with :func:`decode_html`) or already-decoded
    text; ``url`` is where it was fetched from, used to resolve relative image and
    canonical URLs and as a date source. Raises :class:`NotAnArticle` and nothing else.
    """
    try:
        return _extract(html, url, options)
    except NotAnArticle:
        raise
    except Exception as exc:  # lxml, trafilatura, htmldate: any failure is the input's
        detail = f"{type(exc).__name__}: {exc}"[:300]
        raise NotAnArticle(f"extraction failed: {detail}", reason="parse_error") from None


def text_hash(text: str) -> str:
    """sha256 hex of ``text`` with whitespace runs collapsed to one space, casefolded."""
    return hashlib.sha256(" ".join(text.split()).casefold().encode("utf-8")).hexdigest()


def _extract(html: bytes | str, url: str | None, options: ExtractOptions) -> ExtractedArticle:
    if isinstance(html, (bytes, bytearray, memoryview)):
        body = bytes(html)
        if not body.strip():
            raise NotAnArticle("the document is empty", reason="empty_document")
        if len(body) > MAX_HTML_CHARS:
            raise NotAnArticle(f"the document has {len(body)} bytes", reason="too_large")
        sniff_bytes(body)
        text = decode_html(body)
    elif isinstance(html, str):
        text = html
    else:
        raise NotAnArticle(f"expected bytes or str, got {type(html).__name__}", reason="not_html")
    if len(text) > MAX_HTML_CHARS:
        raise NotAnArticle(f"the document has {len(text)} characters", reason="too_large")
    text = sniff_text(text)
    base_url = metadata.absolute(url)

    tree = load_html(text)
    if tree is None:
        raise NotAnArticle("the body does not parse as an HTML document", reason="not_html")
    structured = read_jsonld(tree)
    token = PAGE_DATE.set(options.page_date)
    try:
        document = _bare_extraction(tree, base_url, options)
    finally:
        PAGE_DATE.reset(token)
    if document is None:
        raise NotAnArticle("no main text found", reason="no_text")
    if not isinstance(document, Document):  # pragma: no cover - only with as_dict=True
        raise NotAnArticle("unexpected trafilatura result", reason="parse_error")

    parts = [document.text or ""]
    if options.include_comments and document.comments:
        parts.append(document.comments)
    article_text = unicodedata.normalize("NFC", "\n".join(parts)).strip()
    if not article_text:
        raise NotAnArticle("no main text found", reason="no_text")
    if options.detect_not_article:
        notarticle.check(tree, article_text, structured)

    metas = metadata.meta_values(tree)
    site_name = metadata.clean(document.sitename)
    title = metadata.clean(document.title)
    authors = metadata.authors(document.author)
    if options.structured_metadata:
        title = headline(
            tree,
            jsonld=structured.headline,
            metadata_titles=[
                metas.get("og:title"),
                metas.get("twitter:title"),
                title,
                metadata.title_element(tree),
            ],
            site_name=site_name or metas.get("og:site_name"),
        )
        authors = byline.authors(
            tree,
            jsonld=structured.authors,
            trafilatura=authors,
            not_people=(*structured.organisations, site_name, metas.get("og:site_name")),
        )
    if options.cleaning:
        article_text = clean.clean_text(article_text, title=title, rules=options.cleaning)
    word_count = count_words(article_text)
    if word_count < options.min_words:
        raise NotAnArticle(
            f"{word_count} words, fewer than {options.min_words}", reason="too_short"
        )

    canonical = metadata.canonical_url(tree, base_url)
    date_: Published | None = None
    if options.page_date:
        date_ = published(document.date, tree, (base_url, canonical, document.url))
        if options.structured_metadata:
            date_ = prefer_jsonld(date_, from_jsonld(structured.date_published))
    return ExtractedArticle(
        text=article_text,
        title=title,
        authors=authors,
        published_at=date_.instant if date_ else None,
        published_source=date_.source if date_ else None,
        language=metadata.language(tree) or metadata.language_code(document.language),
        site_name=site_name,
        image=metadata.resolve(document.image, base_url or canonical),
        canonical_url=canonical,
        word_count=word_count,
        text_hash=text_hash(article_text),
        published_day=date_.day if date_ else None,
    )


def _bare_extraction(tree: HtmlElement, base_url: str | None, options: ExtractOptions) -> Any:
    return bare_extraction(
        tree,
        url=base_url,
        fast=options.fast,
        favor_precision=options.favor_precision,
        favor_recall=options.favor_recall,
        include_comments=options.include_comments,
        include_tables=options.include_tables,
        with_metadata=True,
        date_extraction_params={
            "original_date": True,
            "extensive_search": True,
            "outputformat": DATE_FORMAT,
        },
        output_format="python",
    )
