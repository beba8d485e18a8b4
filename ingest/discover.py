"""Find the feeds of a site from its home page: <link rel=alternate>, robots.txt sitemaps,
then common feed paths. Each candidate is fetched and must parse as a feed to be kept."""

from __future__ import annotations

import asyncio
from urllib.parse import urljoin, urlsplit

import httpx

from ingest import http
from ingest.feeds import COMMON_FEED_PATHS, discover_feed_links, parse_feed, sitemaps_from_robots
from schemas.errors import FeedError, NewsIngestError
from schemas.settings import Settings

MAX_CANDIDATES = 20


async def _fetch(client: httpx.AsyncClient, settings: Settings, url: str) -> http.Response:
    return await http.get(
        client,
        url,
        max_bytes=settings.max_feed_bytes,
        total_timeout=settings.total_timeout,
        max_redirects=settings.max_redirects,
    )


async def _is_feed(client: httpx.AsyncClient, settings: Settings, url: str) -> bool:
    try:
        resp = await _fetch(client, settings, url)
        parse_feed(resp.body, url=resp.final_url, max_bytes=settings.max_feed_bytes)
    except NewsIngestError:
        return False
    return True


async def discover(client: httpx.AsyncClient, settings: Settings, url: str) -> list[str]:
    """Feed URLs for ``url``: itself if it is a feed, else the feeds its site advertises.

    Raises the fetch error if the page itself cannot be fetched.
    """
    resp = await _fetch(client, settings, url)
    try:
        parse_feed(resp.body, url=resp.final_url, max_bytes=settings.max_feed_bytes)
    except FeedError:
        pass
    else:
        return [url]
    candidates = discover_feed_links(resp.body, resp.final_url)
    parts = urlsplit(resp.final_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    try:
        robots = await _fetch(client, settings, origin + "/robots.txt")
        candidates += sitemaps_from_robots(robots.body.decode("utf-8", "replace"), origin)
    except NewsIngestError:
        pass
    if not candidates:
        candidates = [urljoin(origin, path) for path in COMMON_FEED_PATHS]
    unique = list(dict.fromkeys(candidates))[:MAX_CANDIDATES]
    checks = await asyncio.gather(*(_is_feed(client, settings, c) for c in unique))
    return [c for c, ok in zip(unique, checks, strict=True) if ok]
