"""What parsing returns: :class:`ParsedFeed` holding :class:`FeedEntry` values, and the caps
on their fields."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

MAX_TITLE_CHARS: Final = 1_000
MAX_SUMMARY_CHARS: Final = 4_000
MAX_URL_CHARS: Final = 4_096
MAX_GUID_CHARS: Final = 2_048
MAX_AUTHOR_CHARS: Final = 200
MAX_AUTHORS: Final = 20


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One article found in a feed or sitemap."""

    url: str
    """Absolute http(s) link to the article."""
    title: str | None
    """Plain text."""
    published_at: datetime | None
    """Timezone-aware UTC: published, else updated (sitemaps: publication_date, else lastmod)."""
    summary: str | None
    """Plain text, at most :data:`MAX_SUMMARY_CHARS` characters."""
    authors: tuple[str, ...]
    guid: str | None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """What :func:`parse_feed` found in one document."""

    kind: str
    """One of ``rss``, ``atom``, ``rdf``, ``json``, ``sitemap``, ``sitemapindex``,
    ``text-sitemap``."""
    title: str | None
    entries: tuple[FeedEntry, ...]
    sitemaps: tuple[str, ...]
    """Child sitemap URLs of a sitemap index (empty for everything else)."""
    ttl_seconds: int | None
    """Polling hint from RSS ``<ttl>`` or ``sy:updatePeriod``/``sy:updateFrequency``,
    clamped to [60 s, 1 year]; None if the feed gives none."""
    warning: str | None
    """Short reason when the document was ill-formed but entries were recovered."""
