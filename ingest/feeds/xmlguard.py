"""The hostile XML guard: refuse entity declarations before any XML parser sees the bytes.

The prolog (everything before the root element, and at least everything before the first
``<name`` as feedparser itself sees it) is scanned for ``<!ENTITY`` declarations - once on the
raw bytes, once on the decoded UTF-8 text. **Any entity declaration is refused** with
:class:`~schemas.errors.HostileFeed`:

* ``external_entity``     an entity with a ``SYSTEM`` or ``PUBLIC`` identifier (XXE, local
                          file or URL inclusion, parameter entities pulling external DTDs);
* ``entity_expansion``    an entity whose value references other entities (billion laughs);
* ``entity_declaration``  any other entity declaration. This covers the quadratic blowup,
                          whose single large literal entity looks harmless by itself.

Why refuse them all: feedparser strips the DOCTYPE but re-inserts every declaration whose
value is a plain literal (its "safe entities", ``feedparser.sanitizer.replace_doctype``), and
both its expat and its loose parser then expand them: a 100 KB literal referenced a few
thousand times (defusedxml's ``quadratic.xml``) becomes hundreds of megabytes. The same payload
encoded as UTF-7 (``+ADw-!ENTITY``, which feedparser decodes if the XML declaration asks for
it) passes any scan of the raw bytes, hence the second scan. Real news feeds do not declare
entities; the two feedparser conformance feeds that do (``wellformed/rss/entity_in_doctype.xml``
with one tiny literal entity and ``wellformed/rdf/doctype_contains_entity_decl.xml`` with an
*external* parameter entity) are refused on purpose: the false-positive cost is a couple of
synthetic test feeds, the false-negative cost is a worker stalled or killed by memory.

A DOCTYPE *without* entity declarations - e.g. RSS 0.91's
``<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "http://...dtd">`` - is
accepted and never fetched: feedparser removes the DOCTYPE and disables external general
entities in expat; lxml runs with ``load_dtd=False, no_network=True, resolve_entities=False,
huge_tree=False``.

The scan is linear in the input, also on unterminated comments, PIs and literals.
"""

from __future__ import annotations

import re
from typing import Final

from schemas.errors import HostileFeed

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


def root_start(data: bytes) -> int:
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


def check_not_hostile(data: bytes) -> None:
    """Refuse entity declarations before the root element (``data`` ASCII-compatible)."""
    root = root_start(data)
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
