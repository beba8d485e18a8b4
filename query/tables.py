"""The tables the read side queries, as SQLAlchemy Core tables."""

from __future__ import annotations

import sqlalchemy as sa

from schemas.models import Article, Entity, Feed, Mention

ARTICLE: sa.Table = Article.__table__  # type: ignore[attr-defined]
ENTITY: sa.Table = Entity.__table__  # type: ignore[attr-defined]
MENTION: sa.Table = Mention.__table__  # type: ignore[attr-defined]
FEED: sa.Table = Feed.__table__  # type: ignore[attr-defined]
