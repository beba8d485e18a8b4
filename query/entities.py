"""Entities: the most mentioned in a period (with the change against the previous one), and
one entity's timeline, co-mentions and latest articles.

Counts are articles, not mentions: an entity named ten times in one article counts once.
The period is a window of published time ending now; the previous period is the window of
the same length just before it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from query.articles import ArticleRow, conditions, list_articles
from query.errors import InvalidQuery, NotFound
from query.filters import Filters, Sort
from query.labels import kind_of, named_labels
from query.tables import ARTICLE, ENTITY, MENTION
from schemas.keys import lookup_keys
from schemas.models import as_utc, utcnow

MAX_TOP = 500


@dataclass(frozen=True, slots=True)
class TopEntity:
    id: int
    label: str
    kind: str
    name: str
    key: str
    articles: int
    previous: int | None  # None: no previous period (no --since)

    @property
    def change(self) -> int | None:
        return None if self.previous is None else self.articles - self.previous


def _counts(
    conn: Connection, filters: Filters, labels: Sequence[str], limit: int | None,
    only: Sequence[int] | None = None,
) -> list[Any]:  # fmt: skip
    # Driven from the period's articles (published_at index), then their mentions (the
    # (article_id, entity_id) unique index), labels checked after grouping: joined the other
    # way SQLite walked every mention of every named entity (1.4M rows for 200k articles).
    articles = sa.select(ARTICLE.c.id).where(
        *conditions(replace(filters, entity=None, search=None), Sort.PUBLISHED)
    )
    counted = sa.select(MENTION.c.entity_id, sa.func.count().label("n")).where(
        MENTION.c.article_id.in_(articles)
    )
    if only is not None:
        counted = counted.where(MENTION.c.entity_id.in_(list(only)))
    inner = counted.group_by(MENTION.c.entity_id).subquery("counted")
    stmt = sa.select(inner.c.entity_id, inner.c.n).join(ENTITY, ENTITY.c.id == inner.c.entity_id)
    if only is None:
        stmt = stmt.where(ENTITY.c.label.in_(list(labels)))
    stmt = stmt.order_by(inner.c.n.desc(), inner.c.entity_id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(conn.execute(stmt).all())


def top_entities(
    conn: Connection,
    filters: Filters,
    *,
    labels: Sequence[str] | None = None,
    limit: int = 20,
    now: datetime | None = None,
) -> list[TopEntity]:
    """The entities in the most articles matching ``filters`` (``since``: the period; its
    previous period is as long, just before it). Default labels: the named kinds."""
    if not 1 <= limit <= MAX_TOP:
        raise InvalidQuery(f"--limit must be between 1 and {MAX_TOP}")
    now = now or utcnow()
    labels = tuple(labels or named_labels())
    period = replace(filters, until=filters.until or (now if filters.since else None))
    top = _counts(conn, period, labels, limit)
    if not top:
        return []
    ids = [r.entity_id for r in top]
    previous: dict[int, int] | None = None
    if filters.since is not None:
        end = period.until or now
        span = end - filters.since
        before = replace(filters, since=filters.since - span, until=filters.since)
        previous = {r.entity_id: r.n for r in _counts(conn, before, labels, None, ids)}
    info = {
        r.id: r
        for r in conn.execute(
            sa.select(ENTITY.c.id, ENTITY.c.label, ENTITY.c.name, ENTITY.c.key).where(
                ENTITY.c.id.in_(ids)
            )
        )
    }
    return [
        TopEntity(
            id=r.entity_id,
            label=info[r.entity_id].label,
            kind=kind_of(info[r.entity_id].label),
            name=info[r.entity_id].name,
            key=info[r.entity_id].key,
            articles=r.n,
            previous=None if previous is None else previous.get(r.entity_id, 0),
        )
        for r in top
    ]


@dataclass(frozen=True, slots=True)
class EntityView:
    id: int
    label: str
    kind: str
    name: str
    key: str
    first_seen: datetime | None
    last_seen: datetime | None
    articles: int
    timeline: list[tuple[date, int]]  # articles per day, oldest first, every day of the window
    together: list[TopEntity]  # most often in the same articles (articles in common)
    latest: list[ArticleRow]
    others: list[tuple[str, str]]  # (label, name) of other entities the name also matches


def find_entities(conn: Connection, name: str, labels: Sequence[str] | None) -> list[Any]:
    """Entities whose key, or person short form, is ``name`` folded; most mentioned first."""
    keys = [k for k in lookup_keys(name) if k]
    if not keys:
        raise InvalidQuery(f"{name!r} has no letters to look for")
    mentions = (
        sa.select(sa.func.count())
        .where(MENTION.c.entity_id == ENTITY.c.id)
        .scalar_subquery()
        .label("mentions")
    )
    stmt = sa.select(ENTITY, mentions).where(
        sa.or_(ENTITY.c.key.in_(keys), ENTITY.c.short_key.in_(keys))
    )
    if labels:
        stmt = stmt.where(ENTITY.c.label.in_(list(labels)))
    # The exact key before a short form, then the most mentioned.
    stmt = stmt.order_by(ENTITY.c.key.in_(keys).desc(), sa.desc("mentions"), ENTITY.c.id)
    return list(conn.execute(stmt).all())


def show_entity(
    conn: Connection,
    name: str,
    *,
    labels: Sequence[str] | None = None,
    days: int = 30,
    related: int = 10,
    latest: int = 10,
    now: datetime | None = None,
) -> EntityView:
    """One entity: articles per day over ``days``, co-mentions, latest articles."""
    if not 1 <= days <= 3660:
        raise InvalidQuery("--days must be between 1 and 3660")
    now = now or utcnow()
    found = find_entities(conn, name, labels)
    if not found:
        raise NotFound(f"no entity {name!r}" + (f" ({', '.join(labels)})" if labels else ""))
    entity = found[0]
    start = (now - timedelta(days=days - 1)).date()
    stored = Filters()
    window = sa.select(ARTICLE.c.published_at).join(MENTION, MENTION.c.article_id == ARTICLE.c.id)
    window = window.where(
        MENTION.c.entity_id == entity.id,
        ARTICLE.c.status.in_(list(stored.statuses)),
        ARTICLE.c.published_at >= datetime.combine(start, datetime.min.time(), now.tzinfo),
    )
    per_day = Counter(as_utc(r[0]).date() for r in conn.execute(window) if r[0] is not None)  # type: ignore[union-attr]
    timeline = [
        (start + timedelta(days=i), per_day.get(start + timedelta(days=i), 0)) for i in range(days)
    ]
    total = conn.execute(
        sa.select(sa.func.count()).select_from(MENTION).where(MENTION.c.entity_id == entity.id)
    ).scalar_one()
    other = MENTION.alias("other")
    pairs = conn.execute(
        sa.select(other.c.entity_id, sa.func.count().label("n"))
        .select_from(MENTION.join(other, other.c.article_id == MENTION.c.article_id))
        .where(MENTION.c.entity_id == entity.id, other.c.entity_id != entity.id)
        .group_by(other.c.entity_id)
        .order_by(sa.desc("n"), other.c.entity_id)
        .limit(related)
    ).all()
    names = {
        r.id: r
        for r in conn.execute(
            sa.select(ENTITY.c.id, ENTITY.c.label, ENTITY.c.name, ENTITY.c.key).where(
                ENTITY.c.id.in_([p.entity_id for p in pairs])
            )
        )
    }
    together = [
        TopEntity(p.entity_id, names[p.entity_id].label, kind_of(names[p.entity_id].label),
                  names[p.entity_id].name, names[p.entity_id].key, p.n, None)
        for p in pairs
    ]  # fmt: skip
    page = list_articles(
        conn, Filters(entity=entity.key, labels=(entity.label,)), sort=Sort.PUBLISHED, limit=latest
    )
    return EntityView(
        id=entity.id,
        label=entity.label,
        kind=kind_of(entity.label),
        name=entity.name,
        key=entity.key,
        first_seen=as_utc(entity.first_seen),
        last_seen=as_utc(entity.last_seen),
        articles=int(total),
        timeline=timeline,
        together=together,
        latest=page.rows,
        others=[(r.label, r.name) for r in found[1:]],
    )
