"""robots.txt per host, fetched once per run with a small cap; used for article pages."""

from __future__ import annotations

import asyncio
import logging
from urllib import robotparser
from urllib.parse import urlsplit

import httpx

from ingest import http
from ingest.politeness import Politeness, robots_crawl_delay
from schemas.errors import BrokerUnavailable, NewsIngestError, TransientError
from schemas.settings import Settings

log = logging.getLogger(__name__)

MAX_ROBOTS_BYTES = 512_000


class Robots:
    """robots.txt per host, fetched once per run with a small cap; used for article pages."""

    def __init__(
        self, client: httpx.AsyncClient, settings: Settings, limiter: Politeness | None = None
    ) -> None:
        self.client = client
        self.settings = settings
        self.limiter = limiter
        self._parsers: dict[str, asyncio.Task[robotparser.RobotFileParser | None]] = {}

    async def allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        task = self._parsers.get(origin)
        if task is None:
            task = self._parsers[origin] = asyncio.ensure_future(self._load(origin))
        parser = await task
        return True if parser is None else parser.can_fetch(self.settings.user_agent, url)

    async def _load(self, origin: str) -> robotparser.RobotFileParser | None:
        parser = robotparser.RobotFileParser()
        try:
            resp = await http.get(
                self.client,
                origin + "/robots.txt",
                max_bytes=MAX_ROBOTS_BYTES,
                total_timeout=min(self.settings.total_timeout, 15.0),
                max_redirects=self.settings.max_redirects,
            )
        except TransientError:
            # RFC 9309: an unreachable robots.txt means "assume disallowed" for now.
            parser.parse(["User-agent: *", "Disallow: /"])
            return parser
        except NewsIngestError:
            return None  # 4xx, too large, refused: no usable rules, allowed
        parser.parse(resp.body.decode("utf-8", "replace").splitlines())
        delay = robots_crawl_delay(parser, self.settings.user_agent)
        if delay and self.limiter is not None:
            try:
                await self.limiter.set_crawl_delay(origin + "/", delay)
            except BrokerUnavailable as exc:
                log.warning("could not record Crawl-delay of %s: %s", origin, exc)
        return parser
