"""Feeds and sitemaps: parsing (:func:`parse_feed`, pure, bytes in) and discovery helpers.

One module per concern: ``parse`` (format detection and the entry point), ``sniff`` (gzip,
byte order marks, encodings), ``xmlguard`` (entity declarations refused), ``rss`` (RSS, RDF,
Atom), ``sitemap``, ``jsonfeed``, ``discovery`` (links in HTML, robots.txt) and ``clean``
(plain text, URLs, dates, languages).
"""

from ingest.feeds.discovery import COMMON_FEED_PATHS, discover_feed_links, sitemaps_from_robots
from ingest.feeds.model import MAX_SUMMARY_CHARS, MAX_TITLE_CHARS, FeedEntry, ParsedFeed
from ingest.feeds.parse import parse_feed

__all__ = [
    "COMMON_FEED_PATHS",
    "MAX_SUMMARY_CHARS",
    "MAX_TITLE_CHARS",
    "FeedEntry",
    "ParsedFeed",
    "discover_feed_links",
    "parse_feed",
    "sitemaps_from_robots",
]
