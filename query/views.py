"""Lookups by id for the HTTP API and the dashboard: one entity, and the entities of one
article with their ids (for links and highlighting)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from query.errors import NotFound
from query.labels import kind_of
from query.tables import ENTITY, MENTION


@dataclass(frozen=True, slots=True)
class EntityRef:
    id: int
    label: str
    kind: str
    name: str
    key: str


@dataclass(frozen=True, slots=True)
class ArticleMention:
    entity: EntityRef
    count: int
    first_offset: int


def entity_by_id(conn: Connection, entity_id: int) -> EntityRef:
    row = conn.execute(
        sa.select(ENTITY.c.id, ENTITY.c.label, ENTITY.c.name, ENTITY.c.key).where(
            ENTITY.c.id == entity_id
        )
    ).first()
    if row is None:
        raise NotFound(f"no entity with id {entity_id}")
    return EntityRef(row.id, row.label, kind_of(row.label), row.name, row.key)


def article_mentions(conn: Connection, article_id: int) -> list[ArticleMention]:
    """The article's entities, most mentioned first."""
    rows = conn.execute(
        sa.select(
            ENTITY.c.id,
            ENTITY.c.label,
            ENTITY.c.name,
            ENTITY.c.key,
            MENTION.c.count.label("n"),
            MENTION.c.first_offset,
        )
        .join(ENTITY, ENTITY.c.id == MENTION.c.entity_id)
        .where(MENTION.c.article_id == article_id)
        .order_by(MENTION.c.count.desc(), ENTITY.c.key)
    )
    return [
        ArticleMention(
            EntityRef(r.id, r.label, kind_of(r.label), r.name, r.key), int(r.n), r.first_offset
        )
        for r in rows
    ]
