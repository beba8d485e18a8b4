"""Conditional GET of feeds and article downloads, each inside its host's politeness slot.

A 429 or 503 answer pauses its host through the limiter (``Politeness.penalize``) before the
error goes up, so with the Redis limiter every worker slows down, not only this one.

Everything here is I/O with the client passed in; parsing and extraction are pure functions
elsewhere (``ingest.feeds``, ``ingest.extract``).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

import httpx

from ingest import http
from ingest.politeness import Politeness
from schemas import metrics
from schemas.errors import BrokerUnavailable, FetchTransient
from schemas.settings import Settings
from schemas.urls import host_of

log = logging.getLogger(__name__)

# Answers that mean "slow down": the host pauses for every worker (Retry-After, or backoff).
PENALIZED_REASONS = frozenset({"http_429", "http_503"})


async def penalize_for(limiter: Politeness, url: str, exc: FetchTransient) -> None:
    """Pause ``url``'s host after a 429/503 (its Retry-After, else backoff); other errors pass.

    Called inside the slot, so no other request to the host starts between the answer and the
    pause. A broker failure here is logged: the fetch error itself is what goes up.
    """
    if exc.reason not in PENALIZED_REASONS:
        return
    try:
        pause = await limiter.penalize(url, exc.retry_after)
        metrics.record_host_penalty(host_of(url), pause)
    except BrokerUnavailable as broker_exc:
        log.warning("could not pause %s after %s: %s", host_of(url), exc.reason, broker_exc)


@dataclass(frozen=True, slots=True)
class FeedFetch:
    response: http.Response
    body_hash: str | None  # sha256 of the body; None for 304

    @property
    def etag(self) -> str | None:
        value: str | None = self.response.headers.get("etag")
        return value

    @property
    def last_modified(self) -> str | None:
        value: str | None = self.response.headers.get("last-modified")
        return value


async def polite_get(
    client: httpx.AsyncClient, limiter: Politeness, url: str, **bounds: Any
) -> http.Response:
    """``http.get`` inside the host's slot; a 429/503 pauses the host for every fetcher."""
    async with limiter.slot(url):
        try:
            return await http.get(client, url, **bounds)
        except FetchTransient as exc:
            await penalize_for(limiter, url, exc)
            raise


async def fetch_feed(
    client: httpx.AsyncClient,
    limiter: Politeness,
    settings: Settings,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
) -> FeedFetch:
    """Conditional GET of a feed (If-None-Match / If-Modified-Since)."""
    resp = await polite_get(
        client,
        limiter,
        url,
        max_bytes=settings.max_feed_bytes,
        total_timeout=settings.total_timeout,
        max_redirects=settings.max_redirects,
        etag=etag,
        last_modified=last_modified,
    )
    digest = None if resp.not_modified else hashlib.sha256(resp.body).hexdigest()
    return FeedFetch(resp, digest)


async def fetch_page(
    client: httpx.AsyncClient, limiter: Politeness, settings: Settings, url: str
) -> http.Response:
    """Download an article page: HTML only, within the page size cap."""
    return await polite_get(
        client,
        limiter,
        url,
        max_bytes=settings.max_page_bytes,
        total_timeout=settings.total_timeout,
        max_redirects=settings.max_redirects,
        html_only=True,
    )
