"""Page metadata read from the parsed tree: canonical URL, language; value clean-up."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from lxml.html import HtmlElement

__all__ = [
    "absolute",
    "authors",
    "canonical_url",
    "clean",
    "language",
    "language_code",
    "meta_values",
    "resolve",
    "title_element",
]


def clean(value: str | None) -> str | None:
    if not value:
        return None
    value = " ".join(value.split())
    return value or None


def authors(value: str | None) -> tuple[str, ...]:
    """trafilatura joins several authors with "; "."""
    seen: dict[str, None] = {}
    for part in (value or "").split(";"):
        name = clean(part)
        if name and name.casefold() not in {n.casefold() for n in seen}:
            seen[name] = None
    return tuple(seen)


def absolute(url: str | None) -> str | None:
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


def resolve(link: str | None, base: str | None) -> str | None:
    """``link`` made absolute against ``base``; None unless the result is http(s)."""
    if not link or not link.strip():
        return None
    link = link.strip()
    if link.startswith("//") and base is None:
        link = "https:" + link
    try:
        return absolute(urljoin(base, link) if base else link)
    except ValueError:
        return None


def canonical_url(tree: HtmlElement, base: str | None) -> str | None:
    for link in tree.iterfind(".//link[@href]"):
        rel = (link.get("rel") or "").lower().split()
        if "canonical" in rel:
            resolved = resolve(link.get("href"), base)
            if resolved:
                return resolved
    for meta in tree.iterfind(".//meta[@content]"):
        if (meta.get("property") or meta.get("name") or "").strip().lower() == "og:url":
            resolved = resolve(meta.get("content"), base)
            if resolved:
                return resolved
    return None


_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?=$|[-_])")


def language_code(value: str | None) -> str | None:
    """The primary subtag of a language tag, lower-cased: ``de-AT`` -> ``de``."""
    if not value:
        return None
    match = _LANGUAGE.match(value.strip().split(",")[0].strip())
    return match[0].lower() if match else None


def language(tree: HtmlElement) -> str | None:
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
        code = language_code(candidate)
        if code is not None:
            return code
    return None


def meta_values(tree: HtmlElement) -> dict[str, str]:
    """``<meta>`` content by property/name (casefolded), the first of each."""
    values: dict[str, str] = {}
    for meta in tree.iterfind(".//meta[@content]"):
        key = (meta.get("property") or meta.get("name") or "").strip().casefold()
        content = (meta.get("content") or "").strip()
        if key and content and key not in values:
            values[key] = content
    return values


def title_element(tree: HtmlElement) -> str | None:
    """The text of the page's ``<title>``."""
    element = tree.find(".//title")
    return clean(element.text_content()) if element is not None else None
