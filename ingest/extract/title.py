"""The headline: what the article is called, not the ``<title>`` with the site's name.

The page names its article in several places that each go wrong in their own way: the
``<title>`` and ``og:title`` carry the site's name ("Headline - The Gazette"), the first
``<h1>`` on many sites is the logo, a section name or a blog's name, and JSON-LD is absent
on most older pages. A heading that one of the metadata titles contains is the headline
both agree on; failing that, JSON-LD's ``headline``; failing that, the metadata title with
the segment naming the site removed.
"""

from __future__ import annotations

import re

from lxml.html import HtmlElement

__all__ = ["headline", "strip_site_name"]

_MAX_HEADINGS = 30
# "Headline - Site", "Site | Headline", "Headline · Site", "Headline :: Site"
_SEPARATOR = re.compile(r"\s+(?:[-|·•–—»:]|::|//)\s+")
_MIN_CHARS = 6


def headline(
    tree: HtmlElement,
    *,
    jsonld: str | None,
    metadata_titles: list[str | None],
    site_name: str | None,
) -> str | None:
    """The article's headline; None when the page names none."""
    references = [_norm(t) for t in (jsonld, *metadata_titles) if t]
    references = [r for r in references if r]
    heading = _agreed_heading(tree, references)
    if heading is not None:
        return heading
    if jsonld:
        return " ".join(jsonld.split())
    for title in metadata_titles:
        if title and title.strip():
            return strip_site_name(" ".join(title.split()), site_name)
    return None


def _agreed_heading(tree: HtmlElement, references: list[str]) -> str | None:
    if not references:
        return None
    best: str | None = None
    for number, element in enumerate(tree.iter("h1", "h2")):
        if number >= _MAX_HEADINGS:
            break
        text = " ".join(element.text_content().split())
        key = _norm(text)
        if len(key) < _MIN_CHARS:
            continue
        if any(key == ref or _segment_of(key, ref) for ref in references) and (
            best is None or len(text) > len(best)
        ):
            best = text
        if best is not None and element.tag == "h1" and best == text:
            break  # the first h1 that agrees is the headline
    return best


def _segment_of(key: str, reference: str) -> bool:
    """``key`` is the whole of ``reference`` less a site-name segment at either end."""
    if key not in reference:
        return False
    rest = reference.replace(key, "", 1).strip()
    # the site's name is the short part: a heading that is only the site's name is not it
    return (
        bool(rest)
        and len(rest) < len(key)
        and bool(re.fullmatch(r"(?:[-|·•–—»:]|::|//).*|.*(?:[-|·•–—»:]|::|//)", rest))
    )


def strip_site_name(title: str, site_name: str | None) -> str:
    """``title`` less the segment that names the site ("Headline - The Gazette")."""
    parts = _SEPARATOR.split(title)
    if len(parts) < 2:
        return title
    site = _norm(site_name or "")
    if site:
        kept = [p for p in parts if not (_norm(p) == site or site in _norm(p) or _norm(p) in site)]
        if kept and len(kept) < len(parts):
            return " - ".join(kept) if len(kept) > 1 else kept[0]
    # no site name to go by: the site's segment is the shorter one at an end
    first, last = parts[0], parts[-1]
    if len(parts) == 2:
        return first if len(first) >= len(last) else last
    return title


def _norm(text: str) -> str:
    return " ".join(text.replace("\u2026", "...").split()).casefold()
