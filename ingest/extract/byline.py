"""Authors: the people who wrote the article, not the outlet, a desk or a "Staff" label.

Order: JSON-LD ``Person`` authors (the CMS's own record); else what trafilatura found in
the markup; else the page's ``rel=author`` links and ``byline``/``author`` elements. Each
name loses a leading "By", "Von", "Por"... and is dropped when it is the site's name, the
publisher, or a generic label.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from lxml.html import HtmlElement

__all__ = ["authors", "clean_name"]

_PREFIX = re.compile(
    r"^(?:(?:written|posted|published|(?:zeige )?alle beiträge|view all posts|beiträge)\s+)?"
    r"(?:by|von|par|por|di|da|door|av|af|przez|zum profil von|autor(?:in)?|author|text"
    r"|责任编辑|作者|编辑)(?:\s*[:：]\s*|\s+)",
    re.IGNORECASE,
)
_GENERIC = frozenset(
    {
        "admin",
        "administrator",
        "staff",
        "redaktion",
        "redacción",
        "rédaction",
        "redazione",
        "editor",
        "editors",
        "editorial",
        "editorial staff",
        "newsroom",
        "web desk",
        "news desk",
        "follow",
        "guest",
        "anonymous",
        "unknown",
    }
)
_MAX_NAME = 60
_BYLINE_CLASS = re.compile(r"\b(?:byline|by-?line|author(?:-?name)?|article-?author)\b", re.I)


def clean_name(name: str) -> str | None:
    """A person's name from a byline fragment; None when it is no name."""
    name = " ".join(name.split()).strip(" ,;:|-–—·•")
    name = _PREFIX.sub("", name).strip(" ,;:|-–—·•")
    if not name or len(name) > _MAX_NAME or "@" in name or "://" in name:
        return None
    if name.casefold() in _GENERIC or not any(char.isalpha() for char in name):
        return None
    return name


def authors(
    tree: HtmlElement,
    *,
    jsonld: Iterable[str],
    trafilatura: Iterable[str],
    not_people: Iterable[str | None],
) -> tuple[str, ...]:
    excluded = {" ".join(n.split()).casefold() for n in not_people if n}
    for source in (jsonld, trafilatura, _from_markup(tree)):
        names = _unique(source, excluded)
        if names:
            return names
    return ()


def _unique(names: Iterable[str], excluded: set[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for raw in names:
        name = clean_name(raw)
        if name is None:
            continue
        key = name.casefold()
        if key in excluded or key in seen:
            continue
        seen[key] = name
    return tuple(seen.values())


def _from_markup(tree: HtmlElement) -> list[str]:
    """Bylines the markup marks: ``rel=author`` links, then byline/author elements."""
    found = []
    for link in tree.iterfind(".//a[@rel]"):
        if "author" in (link.get("rel") or "").lower().split():
            found.append(link.text_content())
        if len(found) >= 3:
            break
    if found:
        return found
    candidates = tree.xpath(
        ".//*[contains(@class, 'author') or contains(@class, 'byline')"
        " or contains(@class, 'Author') or contains(@class, 'Byline')]"
    )
    for element in candidates:
        if element.tag in {"body", "article", "main", "section", "html"}:
            continue
        if not _BYLINE_CLASS.search(element.get("class") or ""):
            continue
        text = " ".join(element.text_content().split())
        if 0 < len(text) <= _MAX_NAME + 10 and len(text.split()) <= 6:
            found.append(text)
            break
    return found
