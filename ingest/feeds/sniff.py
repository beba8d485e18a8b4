"""From response bytes to a document a parser may see: gzip layers, byte order marks, and the
UTF-8 conversion feedparser itself would make.

A body starting with the gzip magic number is decompressed first (at most two layers), with a
hard cap of ``max_bytes`` on the decompressed size. Byte order marks are honoured.

Character encodings of XML documents are resolved by feedparser's own RFC 3023 logic
(``feedparser.encodings.convert_to_utf8``: BOM, XML declaration, then fallbacks); the
``charset`` of ``content_type`` is used only when the document declares no encoding itself
(no BOM, no ``encoding=`` in the XML declaration). The UTF-8 result of that conversion is
what is checked for hostile constructs and what the parsers see.
"""

from __future__ import annotations

import re
import zlib
from typing import Any, Final

from feedparser.encodings import convert_to_utf8

from ingest.feeds.clean import clean_str
from schemas.errors import ContentTooLarge, MalformedFeed

_MAX_GZIP_LAYERS: Final = 2
_GZIP_MAGIC: Final = b"\x1f\x8b"


def gunzip_layers(data: bytes, limit: int) -> bytes:
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


def sniff_encoding(data: bytes) -> tuple[str | None, int]:
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


def decode_text(data: bytes) -> str:
    encoding, skip = sniff_encoding(data)
    return data[skip:].decode(encoding or "utf-8", "replace")


def sniff_head(data: bytes) -> str:
    """The first few hundred characters, decoded, without BOM and leading whitespace."""
    return decode_text(data[:4096]).lstrip(" \t\r\n\ufeff\x00")


_XML_DECL_ENCODING: Final = re.compile(rb"<\?xml[^>]{0,200}?encoding\s*=", re.I)
_CHARSET: Final = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]{1,40})", re.I)


def to_utf8(data: bytes, content_type: str | None) -> tuple[bytes, str | None]:
    """Decode as feedparser would (RFC 3023 rules) and re-encode as UTF-8."""
    headers: dict[str, str] = {}
    charset = _CHARSET.search(content_type or "")
    encoding, _ = sniff_encoding(data)
    if charset and encoding is None and not _XML_DECL_ENCODING.match(data[:256]):
        headers["content-type"] = f"application/xml; charset={charset.group(1)}"
    result: dict[str, Any] = {}
    try:
        utf8 = convert_to_utf8(headers, data, result)
    except Exception as exc:  # any codec the document names may misbehave
        raise MalformedFeed(f"cannot decode the document: {exc!r}", reason="bad_encoding") from exc
    if not isinstance(utf8, bytes):
        raise MalformedFeed("cannot decode the document", reason="bad_encoding")
    warning = bozo_warning(result.get("bozo_exception")) if result.get("bozo") else None
    return utf8, warning


def bozo_warning(exc: object) -> str:
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
    text = clean_str(" ".join(text.split()))[:160]
    return f"{slug}: {text}" if text else slug
