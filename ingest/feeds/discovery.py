"""Where feeds hide: links advertised by HTML pages, ``Sitemap:`` lines of robots.txt, and the
paths sites commonly serve feeds at."""

from __future__ import annotations

from typing import Final

import lxml.etree
import lxml.html

from ingest.feeds.clean import clean_str, http_url

COMMON_FEED_PATHS: Final[tuple[str, ...]] = (
    "/feed",
    "/feed/",
    "/rss",
    "/rss.xml",
    "/feed.xml",
    "/atom.xml",
    "/index.xml",
    "/index.rss",
    "/feed.json",
    "/feeds/posts/default",
    "/news-sitemap.xml",
    "/sitemap_news.xml",
    "/sitemap-news.xml",
)

_FEED_LINK_TYPES: Final = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
        "application/rdf+xml",
    }
)


def discover_feed_links(html_doc: bytes | str, base_url: str) -> list[str]:
    """Feed URLs advertised by an HTML page, in page order, resolved and de-duplicated.

    Looks at ``<link rel="alternate" type="application/rss+xml|atom+xml|feed+json|rdf+xml"
    href=...>`` (``rel`` may hold several tokens); honours ``<base href>``; keeps http(s) only.
    """
    if isinstance(html_doc, str):
        raw = clean_str(html_doc).encode("utf-8")
        parser = lxml.html.HTMLParser(encoding="utf-8", no_network=True, default_doctype=False)
    else:
        raw = html_doc
        parser = lxml.html.HTMLParser(no_network=True, default_doctype=False)
    if not raw.strip():
        return []
    try:
        root = lxml.etree.fromstring(raw, parser)
    except (lxml.etree.LxmlError, ValueError):
        return []
    if root is None:
        return []
    base = http_url(base_url, None) or base_url
    for el in root.iter("base"):
        try:
            href = el.get("href")
        except ValueError:  # undecodable attribute bytes
            continue
        if href:
            base = http_url(href, base) or base
            break
    found: list[str] = []
    for el in root.iter("link"):
        try:
            rel = (el.get("rel") or "").lower().split()
            mime = (el.get("type") or "").split(";", 1)[0].strip().lower()
            href = el.get("href")
        except ValueError:  # undecodable attribute bytes
            continue
        if "alternate" not in rel or mime not in _FEED_LINK_TYPES:
            continue
        link = http_url(href, base)
        if link and link not in found:
            found.append(link)
    return found


def sitemaps_from_robots(text: str, base_url: str) -> list[str]:
    """The ``Sitemap:`` URLs of a robots.txt, resolved against ``base_url``, de-duplicated.

    The field name is case-insensitive; ``#`` starts a comment; only http(s) URLs are kept.
    """
    found: list[str] = []
    for line in text.lstrip("\ufeff").splitlines():
        field, sep, value = line.split("#", 1)[0].partition(":")
        if not sep or field.strip().lower() != "sitemap":
            continue
        link = http_url(value.strip(), base_url)
        if link and link not in found:
            found.append(link)
    return found
