"""SQLModel tables: Feed, Article, Entity, Mention, DeadLetter.

The unique constraints are what make writes idempotent: a feed by its URL, an
article by the hash of its normalised URL, an entity by (label, key), a mention
by (article, entity). Every timestamp is stored timezone-aware in UTC; SQLite
gives them back naive, so read them through :func:`as_utc`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

# Stable constraint and index names, identical on SQLite and PostgreSQL.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """Make a datetime read back from the database timezone-aware (UTC)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _ts(*, nullable: bool = True, index: bool = False, default: Any = None) -> Any:
    kwargs: dict[str, Any] = {"sa_type": sa.DateTime(timezone=True), "nullable": nullable}
    if index:
        kwargs["index"] = True
    if default is not None:
        return Field(default_factory=default, **kwargs)
    return Field(default=None, **kwargs)


class FeedKind(StrEnum):
    UNKNOWN = "unknown"
    RSS = "rss"
    ATOM = "atom"
    RDF = "rdf"
    JSON = "json"
    SITEMAP = "sitemap"
    SITEMAP_INDEX = "sitemapindex"


class ArticleStatus(StrEnum):
    """Where an article is in the pipeline. The row is written when a fetcher claims the URL,
    so the database, not the queue, knows about every article in flight."""

    FETCHING = "fetching"  # claimed by a fetcher; download and extraction under way
    RETRY = "retry"  # transient download failure; a later poll may claim it again
    NOT_ARTICLE = "not_article"  # page yields no article text, see status_reason
    FAILED = "failed"  # permanent failure (fetch refused, dead-lettered), see status_reason
    QUEUED = "queued"  # text extracted and stored, message sent, entities pending
    PROCESSED = "processed"  # entities stored
    SKIPPED = "skipped"  # stored without entities, see status_reason (e.g. language)
    DUPLICATE = "duplicate"  # same article as duplicate_of (canonical link): no text kept


class Feed(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=2048, unique=True)
    kind: str = Field(default=FeedKind.UNKNOWN, max_length=16)
    title: str | None = Field(default=None, max_length=1024)
    active: bool = Field(default=True)
    respect_robots: bool = Field(default=True)
    etag: str | None = Field(default=None, max_length=1024)
    last_modified: str | None = Field(default=None, max_length=128)
    body_hash: str | None = Field(default=None, max_length=64)
    poll_interval: int = Field(default=900, description="seconds")
    next_poll_at: datetime = _ts(nullable=False, index=True, default=utcnow)
    last_polled_at: datetime | None = _ts()
    last_success_at: datetime | None = _ts()
    consecutive_failures: int = Field(default=0)
    last_status: int | None = Field(default=None, description="last HTTP status")
    last_error: str | None = Field(default=None, max_length=2048)
    created_at: datetime = _ts(nullable=False, default=utcnow)
    locked_until: datetime | None = _ts()
    lock_owner: str | None = Field(default=None, max_length=64)
    # 0002: adaptive polling and feed health
    hint_interval: int | None = Field(
        default=None, description="seconds the feed asks for (ttl, sy:updatePeriod, max-age)"
    )
    deactivated_at: datetime | None = _ts()
    deactivated_reason: str | None = Field(default=None, max_length=1024)


class Article(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=4096)
    canonical_url: str | None = Field(default=None, max_length=4096)
    url_hash: str = Field(max_length=64, unique=True)
    feed_id: int | None = Field(
        default=None, foreign_key="feed.id", index=True, ondelete="SET NULL"
    )
    title: str | None = Field(default=None)
    authors: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    published_at: datetime | None = _ts(index=True)
    published_source: str | None = Field(default=None, max_length=16)
    language: str | None = Field(default=None, max_length=16)
    site_name: str | None = Field(default=None, max_length=512)
    image: str | None = Field(default=None, max_length=4096)
    text: str = Field(default="", sa_type=sa.Text)
    text_hash: str | None = Field(default=None, max_length=64, index=True)
    word_count: int = Field(default=0)
    status: str = Field(default=ArticleStatus.FETCHING, max_length=16, index=True)
    status_reason: str | None = Field(default=None, max_length=1024)
    attempts: int = Field(default=0, description="download attempts")
    nlp_attempts: int = Field(default=0, description="deliveries to the entity stage")
    fetched_at: datetime = _ts(nullable=False, index=True, default=utcnow)
    retry_at: datetime | None = _ts()
    """Status ``retry``: not claimed again before this (the backoff, or the page's own
    Retry-After when that is later)."""
    processed_at: datetime | None = _ts()
    nlp_model: str | None = Field(default=None, max_length=256)
    nlp_model_version: str | None = Field(default=None, max_length=64)
    # 0002: cross-feed dedup. canonical_hash = url_hash of the page's canonical link;
    # simhash = 64-bit SimHash of the text (signed), split into four 16-bit bands, each
    # indexed, so near-duplicates (Hamming distance <= 3) share at least one band value.
    canonical_hash: str | None = Field(default=None, max_length=64, index=True)
    simhash: int | None = Field(default=None, sa_type=sa.BigInteger)
    simhash_b0: int | None = Field(default=None, index=True)
    simhash_b1: int | None = Field(default=None, index=True)
    simhash_b2: int | None = Field(default=None, index=True)
    simhash_b3: int | None = Field(default=None, index=True)
    duplicate_of: int | None = Field(
        default=None, foreign_key="article.id", index=True, ondelete="SET NULL"
    )


class Entity(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("label", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    label: str = Field(max_length=32)
    key: str = Field(max_length=512, index=True)
    name: str = Field(max_length=512)
    short_key: str | None = Field(
        default=None,
        max_length=128,
        index=True,
        description="last word of a multi-word person key, to meet its short form",
    )
    first_seen: datetime = _ts(nullable=False, default=utcnow)
    last_seen: datetime = _ts(nullable=False, default=utcnow)


class Mention(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("article_id", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="article.id", ondelete="CASCADE")
    entity_id: int = Field(foreign_key="entity.id", index=True, ondelete="CASCADE")
    count: int = Field(default=1)
    first_offset: int = Field(default=0)
    model_label: str | None = Field(
        default=None,
        max_length=32,
        description="the model's own label (entity.label is the common one: workers/labels.py)",
    )


class DeadLetter(SQLModel, table=True):
    __tablename__ = "dead_letter"

    id: int | None = Field(default=None, primary_key=True)
    stage: str = Field(max_length=32, index=True)
    key: str | None = Field(default=None, max_length=64, index=True, description="url hash")
    message: str = Field(sa_type=sa.Text, description="the message as JSON")
    error: str = Field(sa_type=sa.Text)
    attempts: int = Field(default=1)
    first_failed_at: datetime = _ts(nullable=False, default=utcnow)
    last_failed_at: datetime = _ts(nullable=False, default=utcnow)
    replayed_at: datetime | None = _ts()


ALL_TABLES = ("feed", "article", "entity", "mention", "dead_letter")
