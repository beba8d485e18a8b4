"""One article in full: every field, its text, its entities and its (near) duplicates;
and the entities of many articles at once (the export's chunks)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection

from query.errors import InvalidQuery, NotFound
from query.tables import ARTICLE, ENTITY, FEED, MENTION
from schemas.models import as_utc
from schemas.urls import url_hash

NEAR_DISTANCE = 3


@dataclass(frozen=True, slots=True)
class EntityCount:
    label: str
    name: str
    key: str
    count: int


@dataclass(frozen=True, slots=True)
class Related:
    id: int
    relation: str  # "original", "duplicate" (same canonical page), "near-duplicate"
    url: str
    title: str | None
    distance: int | None = None


@dataclass(frozen=True, slots=True)
class ArticleDetail:
    fields: dict[str, Any]
    text: str
    entities: list[EntityCount] = field(default_factory=list)
    related: list[Related] = field(default_factory=list)


def find_article_id(conn: Connection, ref: str) -> int:
    """An article by id or URL (any form of it that normalises to the same URL)."""
    text = ref.strip()
    if text.isdigit():
        found = conn.execute(sa.select(ARTICLE.c.id).where(ARTICLE.c.id == int(text))).scalar()
    else:
        try:
            digest = url_hash(text)
        except ValueError:
            raise InvalidQuery(f"{ref!r} is neither an article id nor a URL") from None
        found = conn.execute(
            sa.select(ARTICLE.c.id).where(
                sa.or_(ARTICLE.c.url_hash == digest, ARTICLE.c.url == text)
            )
        ).scalar()
    if found is None:
        raise NotFound(f"no article {ref!r}")
    return int(found)


def entity_counts(conn: Connection, article_ids: Sequence[int]) -> dict[int, list[EntityCount]]:
    """Each article's entities (most mentioned first), in one query for all of them."""
    out: dict[int, list[EntityCount]] = {i: [] for i in article_ids}
    for article_id, label, name, key, count in entity_rows(conn, article_ids):
        out[article_id].append(EntityCount(label, name, key, count))
    return out


def entity_rows(conn: Connection, article_ids: Sequence[int]) -> list[Any]:
    """(article_id, label, name, key, count) of these articles' entities, in one query,
    ordered by article, then most mentioned first."""
    if not article_ids:
        return []
    stmt = (
        sa.select(
            MENTION.c.article_id, ENTITY.c.label, ENTITY.c.name, ENTITY.c.key, MENTION.c.count
        )
        .join(ENTITY, ENTITY.c.id == MENTION.c.entity_id)
        .order_by(MENTION.c.article_id, MENTION.c.count.desc(), ENTITY.c.key, ENTITY.c.label)
    )
    if conn.dialect.name == "postgresql":
        # One array parameter: psycopg parsing a 1,000-parameter IN list per export chunk
        # cost more than the query.
        ids = sa.bindparam("ids", list(article_ids), type_=ARRAY(sa.Integer))
        stmt = stmt.where(MENTION.c.article_id == sa.func.any(ids))
    else:
        stmt = stmt.where(MENTION.c.article_id.in_(list(article_ids)))
    return list(conn.execute(stmt).all())


DETAIL_FIELDS = (
    "id", "url", "canonical_url", "title", "authors", "published_at", "published_source",
    "language", "site_name", "image", "word_count", "status", "status_reason", "feed_id",
    "fetched_at", "processed_at", "nlp_model", "nlp_model_version", "text_hash",
    "duplicate_of",
)  # fmt: skip


def _hamming(a: int, b: int) -> int:
    return ((a ^ b) & 0xFFFFFFFFFFFFFFFF).bit_count()


def related_articles(conn: Connection, row: Any) -> list[Related]:
    """The original this one duplicates, its own duplicates, and near-duplicates by SimHash."""
    cols = (ARTICLE.c.id, ARTICLE.c.url, ARTICLE.c.title, ARTICLE.c.status, ARTICLE.c.simhash)
    out: list[Related] = []
    seen = {row.id}
    if row.duplicate_of is not None:
        original = conn.execute(sa.select(*cols).where(ARTICLE.c.id == row.duplicate_of)).first()
        if original is not None:
            out.append(Related(original.id, "original", original.url, original.title))
            seen.add(original.id)
    copies = conn.execute(
        sa.select(*cols).where(ARTICLE.c.duplicate_of == row.id).order_by(ARTICLE.c.id)
    ).all()
    for c in copies:
        relation = "duplicate" if c.status == "duplicate" else "near-duplicate"
        dist = _hamming(c.simhash, row.simhash) if None not in (c.simhash, row.simhash) else None
        out.append(Related(c.id, relation, c.url, c.title, dist))
        seen.add(c.id)
    if row.simhash is not None:
        bands = [row.simhash_b0, row.simhash_b1, row.simhash_b2, row.simhash_b3]
        band_cols = [ARTICLE.c.simhash_b0, ARTICLE.c.simhash_b1, ARTICLE.c.simhash_b2]
        conds = [c == b for c, b in zip([*band_cols, ARTICLE.c.simhash_b3], bands, strict=True)]
        candidates = conn.execute(
            sa.select(*cols).where(sa.or_(*conds), ARTICLE.c.id.not_in(list(seen))).limit(200)
        ).all()
        for c in candidates:
            if c.simhash is None:
                continue
            dist = _hamming(c.simhash, row.simhash)
            if dist <= NEAR_DISTANCE:
                out.append(Related(c.id, "near-duplicate", c.url, c.title, dist))
    return out


def get_article(conn: Connection, ref: str) -> ArticleDetail:
    """One article in full: every field, its text, its entities and its (near) duplicates."""
    article_id = find_article_id(conn, ref)
    row = conn.execute(sa.select(ARTICLE).where(ARTICLE.c.id == article_id)).one()
    values = {name: getattr(row, name) for name in DETAIL_FIELDS}
    for name in ("published_at", "fetched_at", "processed_at"):
        values[name] = as_utc(values[name])
    if row.feed_id is not None:
        values["feed_url"] = conn.execute(
            sa.select(FEED.c.url).where(FEED.c.id == row.feed_id)
        ).scalar()
    return ArticleDetail(
        fields=values,
        text=row.text or "",
        entities=entity_counts(conn, [article_id])[article_id],
        related=related_articles(conn, row),
    )
