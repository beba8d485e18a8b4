"""Article extraction: HTML in, clean text and metadata out, with trafilatura.

Pure: no I/O, no global state, no network. :func:`extract_article` is a module-level
function whose arguments and result (frozen dataclasses, :class:`NotAnArticle`) pickle,
so it can run in a worker process of a ``ProcessPoolExecutor``.

One parse serves everything: the page is parsed once with trafilatura's ``load_html``;
that tree goes to ``bare_extraction(with_metadata=True)`` (which works on its own copy)
and is also read directly for the few things trafilatura does not report the way we
want them (language, canonical URL, the page's own date).

It raises nothing but :class:`~schemas.errors.NotAnArticle`, whose ``reason`` is one of:

``empty_document``  no bytes, or only whitespace
``not_html``        not an HTML page: a PDF, image or other binary, JSON, plain text, a feed
``too_large``       over :data:`MAX_HTML_CHARS` (the fetcher should have capped it already)
``no_text``         HTML, but trafilatura finds no main text in it
``too_short``       the main text has fewer than ``ExtractOptions.min_words`` words
``parse_error``     lxml, trafilatura or htmldate failed on the input (wrapped, never leaked)

The publication date
    htmldate (through trafilatura) looks at the page metadata, JSON-LD, the URL and the
    text; by default a complete ``Y-M-D`` date in the URL wins outright. The date is
    labelled ``"url"`` when it equals a ``Y/M/D`` pattern of the request URL or the
    page's canonical URL *and* the page alone (htmldate's quick, non-extensive search
    without any URL) does not give that same day; otherwise it is labelled ``"page"``.
    A page that confirms the URL's day is ``"page"`` and lends its time of day, if any.
    A date with a time zone becomes that instant in UTC; a date without one (or a time
    without a time zone) becomes midnight UTC of that calendar day.
"""

from __future__ import annotations

import codecs
import contextvars
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import trafilatura.metadata
from charset_normalizer import from_bytes
from htmldate import find_date
from lxml.html import HtmlElement
from trafilatura import bare_extraction
from trafilatura.settings import Document
from trafilatura.utils import load_html

from schemas.errors import NotAnArticle

__all__ = [
    "DEFAULT_OPTIONS",
    "MAX_HTML_CHARS",
    "ExtractOptions",
    "ExtractedArticle",
    "count_words",
    "decode_html",
    "extract_article",
    "text_hash",
]

#: Larger documents are refused (trafilatura's own MAX_FILE_SIZE is 20 MB as well).
MAX_HTML_CHARS = 20_000_000


@dataclass(frozen=True, slots=True)
class ExtractOptions:
    """The trafilatura knobs we expose.

    The defaults are the combination ``python -m bench.extract_options`` picked on
    trafilatura's evaluation corpus (best F1; speed breaks ties): trafilatura's own
    defaults, balanced with the readability/jusText fallback and tables, snippet F1 0.926
    on 990 pages. ``fast=True`` is 1.5-2x faster at F1 0.920 (the next best was
    ``favor_precision``, 0.922). ``min_words=25`` refuses 0.3 % of that corpus, all of it
    content pages, most of them extraction failures (a caption, a site slogan).
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
    the feed's date is the one stored (:func:`ingest.poll.article_fields`), so the page's
    would be computed for nothing. Off: ``published_at`` and ``published_source`` are None."""

    def __post_init__(self) -> None:
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
    """``"page"`` (page metadata or text), ``"url"`` (a date in the URL); None if no date."""
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


def count_words(text: str) -> int:
    """Words as word processors count them: each CJK character (ideograph, kana) is one,
    otherwise a whitespace-separated token with at least one letter or digit."""
    cjk = len(_CJK.findall(text))
    rest = _CJK.sub(" ", text) if cjk else text
    return cjk + sum(1 for token in rest.split() if _ALNUM.search(token))


# --------------------------------------------------------------------------- decoding

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,512}?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]{1,40})""", re.IGNORECASE
)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})""")
# WHATWG: these labels mean windows-1252 (and friends) on the web
_WEB_ALIASES = {
    "latin_1": "cp1252",
    "ascii": "cp1252",
    "iso8859_9": "cp1254",
    "iso8859_11": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
}
_UNICODE_CODECS = frozenset(
    {"utf_8", "utf_8_sig", "utf_16", "utf_16_le", "utf_16_be", "utf_32", "utf_32_le", "utf_32_be"}
)
_SEVEN_BIT_CODECS = frozenset(
    {"iso2022_jp", "iso2022_jp_1", "iso2022_jp_2", "iso2022_jp_2004", "iso2022_jp_3", "iso2022_kr"}
)


def decode_html(body: bytes, content_type_charset: str | None = None) -> str:
    """Decode an HTML body to text, robustly; never raises.

    Order: a byte-order mark; UTF-16 recognised by its NUL pattern; strict UTF-8
    (mostly valid UTF-8 with a few stray bytes stays UTF-8, with replacement
    characters); the ``Content-Type`` charset, then the ``<meta>``/XML declaration
    (each only if the bytes decode cleanly with it, ``iso-8859-1`` read as
    windows-1252 like browsers do); then charset detection (charset_normalizer);
    finally UTF-8 with replacement characters.

    UTF-8 goes first because the opposite mistake is rare: text in a legacy charset
    practically never happens to be valid UTF-8, while pages that declare
    ``iso-8859-1`` but are UTF-8 are common. A declaration that is wrong (the bytes
    do not decode with it) is skipped; one that is wrong but decodes (any single-byte
    charset decodes anything) cannot be told apart from a right one and is believed.
    """
    if not body:
        return ""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(codec, errors="replace")
    utf16 = _sniff_utf16(body[:2048])
    if utf16 is not None:
        return body.decode(utf16, errors="replace")

    declared = [
        codec
        for codec in (_codec(content_type_charset), _codec(_declared_charset(body[:8192])))
        if codec is not None
    ]
    if body.isascii():
        # a 7-bit stateful encoding (ISO-2022-JP) is pure ASCII too: believe its declaration
        for codec in declared:
            if codec in _SEVEN_BIT_CODECS:
                decoded = _try_decode(body, codec)
                if decoded is not None:
                    return decoded
        return body.decode("ascii")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    lenient = body.decode("utf-8", errors="replace")
    if _mostly_utf8(lenient):
        return lenient
    for codec in declared:
        if codec in _UNICODE_CODECS:
            continue  # UTF-8 failed above; UTF-16/32 without a BOM or NUL pattern is a lie
        decoded = _try_decode(body, codec)
        if decoded is not None:
            return decoded
    detected = _detect(body)
    if detected is not None:
        decoded = _try_decode(body, detected)
        if decoded is not None:
            return decoded
    return lenient


def _codec(label: str | None) -> str | None:
    """The Python codec name for a charset label, None if unknown."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'").lower()).name
    except (LookupError, ValueError):
        return None
    name = name.replace("-", "_")
    return _WEB_ALIASES.get(name, name)


def _declared_charset(head: bytes) -> str | None:
    match = _XML_ENCODING.match(head) or _META_CHARSET.search(head)
    return match[1].decode("ascii") if match else None


def _try_decode(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _sniff_utf16(head: bytes) -> str | None:
    """UTF-16 without a BOM: ASCII markup makes every other byte NUL."""
    if len(head) < 8 or b"\x00" not in head:
        return None
    even, odd = head[0::2], head[1::2]
    if odd.count(0) >= 0.8 * len(odd) and even.count(0) <= 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) >= 0.8 * len(even) and odd.count(0) <= 0.1 * len(odd):
        return "utf-16-be"
    return None


def _mostly_utf8(lenient: str) -> bool:
    """UTF-8 with a few stray bytes: at least 4 valid non-ASCII characters per bad sequence.

    Text in a legacy charset decoded as UTF-8 has hardly any valid multi-byte sequences.
    """
    bad = lenient.count("\ufffd")
    good = sum(1 for char in lenient if char > "\x7f") - bad
    return good >= 4 * bad


def _detect(body: bytes) -> str | None:
    sample = body if len(body) <= 20_000 else body[:10_000] + body[-10_000:]
    best = from_bytes(sample).best()
    return None if best is None else _codec(best.encoding)


# --------------------------------------------------------------------------- sniffing

_BINARY_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or an office document)"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"RIFF", "a RIFF file (WebP, WAV, AVI)"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"(\xb5/\xfd", "zstd-compressed data"),
    (b"BZh", "bzip2-compressed data"),
    (b"\xd0\xcf\x11\xe0", "an OLE document"),
    (b"7z\xbc\xaf\x27\x1c", "a 7z archive"),
    (b"Rar!", "a RAR archive"),
    (b"OggS", "an Ogg file"),
    (b"ID3", "an MP3 file"),
    (b"wOFF", "a web font"),
    (b"wOF2", "a web font"),
    (b"\x00asm", "a WebAssembly module"),
    (b"\x7fELF", "an executable"),
)
# after an optional XML declaration, comments and a doctype: the first element's name
_FIRST_TAG = re.compile(
    r"""\A(?:\s|<\?[^>]*\?>|<!--.*?-->|<!DOCTYPE[^>]*>)*<([A-Za-z][\w:.-]*)""", re.DOTALL
)
_NOT_HTML_ROOTS = {
    "rss": "an RSS feed",
    "feed": "an Atom feed",
    "rdf:rdf": "an RDF feed",
    "urlset": "a sitemap",
    "sitemapindex": "a sitemap index",
    "opml": "an OPML outline",
    "svg": "an SVG image",
}
_XML_DECLARATION = re.compile(r"\A\s*<\?xml[^>]*\?>")
_HTML_TAG = re.compile(r"<html[\s>]", re.IGNORECASE)
_BLOCK_TAG = re.compile(
    r"<(?:head|body|title|meta|p|div|article|main|section|h[1-6]|table|ul|ol|blockquote|br)[\s/>]",
    re.IGNORECASE,
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ufffd]")
_STRIP = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def _sniff_bytes(body: bytes) -> None:
    head = body[:1024].lstrip()[:16]
    for magic, what in _BINARY_MAGIC:
        if head.startswith(magic):
            raise NotAnArticle(f"the body is {what}", reason="not_html")
    if head[4:8] == b"ftyp":
        raise NotAnArticle("the body is an MP4/HEIF file", reason="not_html")


def _sniff_text(text: str) -> str:
    """Refuse what is plainly not HTML; return the text fit for lxml."""
    stripped = text.lstrip("\ufeff \t\r\n\f\v")
    if not stripped:
        raise NotAnArticle("the document is empty", reason="empty_document")
    if stripped[0] in "{[":
        raise NotAnArticle("the body looks like JSON", reason="not_html")
    sample = stripped[:8192]
    if len(_CONTROL.findall(sample)) > 0.05 * len(sample):
        raise NotAnArticle("the body is binary data", reason="not_html")
    if "<" not in stripped:
        raise NotAnArticle("the body has no markup (plain text)", reason="not_html")
    first = _FIRST_TAG.match(sample)
    if first is not None and first[1].lower() in _NOT_HTML_ROOTS:
        raise NotAnArticle(f"the body is {_NOT_HTML_ROOTS[first[1].lower()]}", reason="not_html")
    # lxml refuses NULs and control characters in text input, and lone surrogates
    cleaned = _STRIP.sub("", stripped)
    try:
        cleaned.encode("utf-8")
    except UnicodeEncodeError:
        cleaned = cleaned.encode("utf-8", errors="replace").decode("utf-8")
    # the text is decoded already: an XML declaration only confuses lxml ("Unicode strings
    # with encoding declaration are not supported") and trafilatura's is-it-HTML check
    cleaned = _XML_DECLARATION.sub("", cleaned, count=1)
    # a document without <html> (HTML5 lets pages omit it; or a fragment such as a feed's
    # content:encoded): trafilatura refuses those unless they are wrapped
    if not _HTML_TAG.search(cleaned, 0, 4096) and _BLOCK_TAG.search(cleaned, 0, 65536):
        cleaned = f"<html>{cleaned}</html>"
    return cleaned


# --------------------------------------------------------------------------- extraction

# htmldate keeps the time and offset when the page gives them, e.g. 2019-08-02T23:30:00+0200
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
_URL_DATE = re.compile(r"\D((?:19|20)\d\d)[/_-](0?[1-9]|1[0-2])[/_-](0?[1-9]|[12]\d|3[01])(?:\D|$)")
# a word: each CJK ideograph or kana on its own (as word processors count them), else a run
# of non-space characters with at least one letter or digit in it
_CJK = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")
_ALNUM = re.compile(r"[^\W_]")


def _extract(html: bytes | str, url: str | None, options: ExtractOptions) -> ExtractedArticle:
    if isinstance(html, (bytes, bytearray, memoryview)):
        body = bytes(html)
        if not body.strip():
            raise NotAnArticle("the document is empty", reason="empty_document")
        if len(body) > MAX_HTML_CHARS:
            raise NotAnArticle(f"the document has {len(body)} bytes", reason="too_large")
        _sniff_bytes(body)
        text = decode_html(body)
    elif isinstance(html, str):
        text = html
    else:
        raise NotAnArticle(f"expected bytes or str, got {type(html).__name__}", reason="not_html")
    if len(text) > MAX_HTML_CHARS:
        raise NotAnArticle(f"the document has {len(text)} characters", reason="too_large")
    text = _sniff_text(text)
    base_url = _absolute(url)

    tree = load_html(text)
    if tree is None:
        raise NotAnArticle("the body does not parse as an HTML document", reason="not_html")
    token = _PAGE_DATE.set(options.page_date)
    try:
        document = _bare_extraction(tree, base_url, options)
    finally:
        _PAGE_DATE.reset(token)
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
    word_count = count_words(article_text)
    if word_count < options.min_words:
        raise NotAnArticle(
            f"{word_count} words, fewer than {options.min_words}", reason="too_short"
        )

    canonical = _canonical_url(tree, base_url)
    published_at, published_source = _published(
        document.date, tree, (base_url, canonical, document.url)
    )
    return ExtractedArticle(
        text=article_text,
        title=_clean(document.title),
        authors=_authors(document.author),
        published_at=published_at,
        published_source=published_source,
        language=_language(tree) or _language_code(document.language),
        site_name=_clean(document.sitename),
        image=_resolve(document.image, base_url or canonical),
        canonical_url=canonical,
        word_count=word_count,
        text_hash=text_hash(article_text),
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
            "outputformat": _DATE_FORMAT,
        },
        output_format="python",
    )


# ``ExtractOptions.page_date``: trafilatura's metadata pass always calls htmldate's
# find_date and has no option to leave the date out, so the name it calls is wrapped once,
# here, to skip the search while an extraction with ``page_date=False`` runs (a context
# variable: per thread and per task, so concurrent extractions do not see each other's).
# With the flag on (the default) the wrapper calls htmldate unchanged.
_PAGE_DATE: contextvars.ContextVar[bool] = contextvars.ContextVar("page_date", default=True)
_htmldate_find_date = trafilatura.metadata.find_date


def _trafilatura_find_date(*args: Any, **kwargs: Any) -> str | None:
    return _htmldate_find_date(*args, **kwargs) if _PAGE_DATE.get() else None


trafilatura.metadata.find_date = _trafilatura_find_date


def _clean(value: str | None) -> str | None:
    if not value:
        return None
    value = " ".join(value.split())
    return value or None


def _authors(value: str | None) -> tuple[str, ...]:
    """trafilatura joins several authors with "; "."""
    seen: dict[str, None] = {}
    for part in (value or "").split(";"):
        name = _clean(part)
        if name and name.casefold() not in {n.casefold() for n in seen}:
            seen[name] = None
    return tuple(seen)


def _absolute(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL, else None."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        return None
    return url


def _resolve(link: str | None, base: str | None) -> str | None:
    """``link`` made absolute against ``base``; None unless the result is http(s)."""
    if not link or not link.strip():
        return None
    link = link.strip()
    if link.startswith("//") and base is None:
        link = "https:" + link
    try:
        return _absolute(urljoin(base, link) if base else link)
    except ValueError:
        return None


def _canonical_url(tree: HtmlElement, base: str | None) -> str | None:
    for link in tree.iterfind(".//link[@href]"):
        rel = (link.get("rel") or "").lower().split()
        if "canonical" in rel:
            resolved = _resolve(link.get("href"), base)
            if resolved:
                return resolved
    for meta in tree.iterfind(".//meta[@content]"):
        if (meta.get("property") or meta.get("name") or "").strip().lower() == "og:url":
            resolved = _resolve(meta.get("content"), base)
            if resolved:
                return resolved
    return None


_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?=$|[-_])")


def _language_code(value: str | None) -> str | None:
    """The primary subtag of a language tag, lower-cased: ``de-AT`` -> ``de``."""
    if not value:
        return None
    match = _LANGUAGE.match(value.strip().split(",")[0].strip())
    return match[0].lower() if match else None


def _language(tree: HtmlElement) -> str | None:
    root = tree.getroottree().getroot()
    candidates: list[str | None] = [
        root.get("lang"),
        root.get("{http://www.w3.org/XML/1998/namespace}lang"),
    ]
    for meta in tree.iterfind(".//meta[@content]"):
        key = (meta.get("http-equiv") or meta.get("property") or meta.get("name") or "").lower()
        if key in {"content-language", "og:locale", "language", "dc.language", "dcterms.language"}:
            candidates.append(meta.get("content"))
    for candidate in candidates:
        code = _language_code(candidate)
        if code is not None:
            return code
    return None


def _parse_date(value: str | None) -> tuple[date, datetime] | None:
    """htmldate's string -> (the page's calendar day, the instant in UTC)."""
    if not value:
        return None
    try:
        parsed = datetime.strptime(value, _DATE_FORMAT)
    except ValueError:
        try:
            parsed = datetime.strptime(value[:10], "%Y-%m-%d")
        except ValueError:
            return None
    day = parsed.date()
    if parsed.tzinfo is None:
        return day, datetime(day.year, day.month, day.day, tzinfo=UTC)
    return day, parsed.astimezone(UTC)


def _url_day(url: str | None) -> date | None:
    if not url:
        return None
    match = _URL_DATE.search(url)
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def _published(
    value: str | None, tree: HtmlElement, urls: tuple[str | None, ...]
) -> tuple[datetime | None, str | None]:
    parsed = _parse_date(value)
    if parsed is None:
        return None, None
    day, instant = parsed
    if day not in {_url_day(url) for url in urls}:
        return instant, "page"
    # the day is also in the URL, which htmldate trusts first: does the page alone say so?
    page = _parse_date(
        find_date(
            tree, url="", extensive_search=False, original_date=True, outputformat=_DATE_FORMAT
        )
    )
    if page is not None and page[0] == day:
        return page[1], "page"
    return datetime(day.year, day.month, day.day, tzinfo=UTC), "url"
