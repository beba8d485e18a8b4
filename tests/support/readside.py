"""Row factories for the read side's tests: articles, feeds, entities and mentions written
straight to the tables (the FTS triggers/index keep up as they do in production)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from schemas.db import make_engine, upgrade
from schemas.models import Article, Entity, Feed, Mention

ARTICLE: sa.Table = Article.__table__  # type: ignore[attr-defined]
ENTITY: sa.Table = Entity.__table__  # type: ignore[attr-defined]
MENTION: sa.Table = Mention.__table__  # type: ignore[attr-defined]
FEED: sa.Table = Feed.__table__  # type: ignore[attr-defined]
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
PEOPLE = {"PERSON", "PER"}


@contextmanager
def database(url: str) -> Iterator[Engine]:
    upgrade(url)
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def add_feed(conn: Connection, url: str) -> int:
    return int(conn.execute(sa.insert(FEED).values(url=url)).inserted_primary_key[0])


def entity_id(conn: Connection, label: str, name: str, key: str | None = None) -> int:
    key = key or name.casefold()
    found = conn.execute(
        sa.select(ENTITY.c.id).where(ENTITY.c.label == label, ENTITY.c.key == key)
    ).scalar()
    if found is not None:
        return int(found)
    words = key.split()
    short = words[-1] if label in PEOPLE and len(words) > 1 else None
    return int(
        conn.execute(
            sa.insert(ENTITY).values(label=label, key=key, name=name, short_key=short)
        ).inserted_primary_key[0]
    )


_serial = [0]


def add_article(
    conn: Connection,
    title: str,
    text: str = "",
    *,
    language: str | None = "en",
    published: datetime | None = NOW,
    fetched: datetime | None = None,
    feed_id: int | None = None,
    status: str = "processed",
    site: str | None = "news.example",
    url: str | None = None,
    entities: Sequence[tuple[str, str, int]] = (),
    **extra: Any,
) -> int:
    """An article (and its mentions: (label, name, count) each)."""
    _serial[0] += 1
    tag = hashlib.sha256(title.encode()).hexdigest()[:6]
    url = url or f"https://news.example/a/{_serial[0]}-{tag}"
    values = {
        "url": url,
        "url_hash": hashlib.sha256(url.encode()).hexdigest(),
        "title": title,
        "text": text,
        "authors": ["A. Writer"],
        "language": language,
        "published_at": published,
        "published_source": "meta" if published else None,
        "fetched_at": fetched or (published or NOW) + timedelta(minutes=5),
        "feed_id": feed_id,
        "status": status,
        "site_name": site,
        "word_count": len(text.split()),
        **extra,
    }
    article = int(conn.execute(sa.insert(ARTICLE).values(**values)).inserted_primary_key[0])
    for offset, (label, name, count) in enumerate(entities):
        conn.execute(
            sa.insert(MENTION).values(
                article_id=article,
                entity_id=entity_id(conn, label, name),
                count=count,
                first_offset=offset,
            )
        )
    return article
