"""JSON Feed 1.0 / 1.1 (https://jsonfeed.org/version/1.1), parsed with :mod:`json`: feedparser
6.0.x has no JSON Feed support (it only exists in its unreleased main branch)."""

from __future__ import annotations

import json
from typing import Any

from ingest.feeds.clean import (
    clean_authors,
    http_url,
    language_tag,
    parse_datetime,
    plain_text,
    short,
)
from ingest.feeds.model import (
    MAX_GUID_CHARS,
    MAX_SUMMARY_CHARS,
    MAX_TITLE_CHARS,
    FeedEntry,
    ParsedFeed,
)
from schemas.errors import MalformedFeed


def parse_json_feed(data: bytes, base: str | None, max_entries: int) -> ParsedFeed:
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise MalformedFeed(f"invalid JSON: {exc}", reason="invalid_json") from exc
    if not isinstance(doc, dict):
        raise MalformedFeed("JSON document is not an object", reason="not_a_feed")
    version = doc.get("version")
    items = doc.get("items")
    is_json_feed = isinstance(version, str) and "jsonfeed.org/version/" in version
    if not is_json_feed and not isinstance(items, list):
        raise MalformedFeed("JSON document is not a JSON Feed", reason="not_a_feed")
    warning = None if is_json_feed else "unknown_json_feed_version: no jsonfeed.org version"
    feed_language = language_tag(doc.get("language"))
    feed_authors = _json_authors(doc)
    entries: list[FeedEntry] = []
    for item in items if isinstance(items, list) else []:
        if len(entries) >= max_entries:
            break
        if not isinstance(item, dict):
            continue
        link = http_url(item.get("url"), base) or http_url(item.get("external_url"), base)
        if link is None:
            item_id = item.get("id")
            link = http_url(item_id, None) if isinstance(item_id, str) else None
        if link is None:
            continue
        summary = next(
            (
                value
                for value in (item.get(k) for k in ("summary", "content_text", "content_html"))
                if isinstance(value, str) and value.strip()
            ),
            None,
        )
        item_id = item.get("id")
        entries.append(
            FeedEntry(
                url=link,
                title=plain_text(item.get("title"), MAX_TITLE_CHARS),
                published_at=parse_datetime(item.get("date_published"))
                or parse_datetime(item.get("date_modified")),
                summary=plain_text(summary, MAX_SUMMARY_CHARS),
                authors=_json_authors(item) or feed_authors,
                guid=short(
                    str(item_id) if isinstance(item_id, str | int) else None, MAX_GUID_CHARS
                ),
                language=language_tag(item.get("language")) or feed_language,
            )
        )
    return ParsedFeed(
        kind="json",
        title=plain_text(doc.get("title"), MAX_TITLE_CHARS),
        entries=tuple(entries),
        sitemaps=(),
        ttl_seconds=None,
        warning=warning,
    )


def _json_authors(obj: dict[str, Any]) -> tuple[str, ...]:
    authors = obj.get("authors")
    people = list(authors) if isinstance(authors, list) else []
    author = obj.get("author")  # JSON Feed 1.0
    if isinstance(author, dict):
        people.append(author)
    return clean_authors(p.get("name") for p in people if isinstance(p, dict))
