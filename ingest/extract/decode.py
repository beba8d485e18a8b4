"""Bytes to text, and refusing what is plainly not an HTML page.

:func:`decode_html` never raises; :func:`sniff_bytes` and :func:`sniff_text` raise
:class:`~schemas.errors.NotAnArticle` (``not_html``, ``empty_document``).
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

from schemas.errors import NotAnArticle

__all__ = ["decode_html", "sniff_bytes", "sniff_text"]

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


def sniff_bytes(body: bytes) -> None:
    head = body[:1024].lstrip()[:16]
    for magic, what in _BINARY_MAGIC:
        if head.startswith(magic):
            raise NotAnArticle(f"the body is {what}", reason="not_html")
    if head[4:8] == b"ftyp":
        raise NotAnArticle("the body is an MP4/HEIF file", reason="not_html")


def sniff_text(text: str) -> str:
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
