"""Replay dead letters: re-validate the message, put its articles back in the queue."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from schemas.errors import InvalidMessage
from schemas.messages import ExtractMessage
from schemas.models import ArticleStatus, utcnow
from schemas.settings import Settings
from workers.dead_letters import ARTICLE, DEAD_LETTER


@dataclass
class ReplayResult:
    replayed: int = 0
    articles: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)


def replay(
    engine: Engine, settings: Settings, enqueuer: Any, ids: Sequence[int] | None
) -> ReplayResult:
    """Replay the given open dead letters (all open ones if ``ids`` is None)."""
    result = ReplayResult()
    stmt = sa.select(DEAD_LETTER.c.id, DEAD_LETTER.c.message).where(
        DEAD_LETTER.c.replayed_at.is_(None)
    )
    if ids is not None:
        stmt = stmt.where(DEAD_LETTER.c.id.in_(list(ids)))
    with engine.connect() as conn:
        letters = list(conn.execute(stmt.order_by(DEAD_LETTER.c.id)))
    if ids is not None:
        found = {row.id for row in letters}
        result.refused += [(i, "no open dead letter with this id") for i in ids if i not in found]
    for row in letters:
        try:
            message = ExtractMessage.from_json(row.message)
        except InvalidMessage as exc:
            result.refused.append((row.id, f"message still invalid: {exc}"))
            continue
        hashes = list(message.url_hashes)
        with engine.begin() as conn:
            conn.execute(
                sa.update(ARTICLE)
                .where(ARTICLE.c.url_hash.in_(hashes))
                .where(ARTICLE.c.status == ArticleStatus.FAILED)
                .values(status=ArticleStatus.QUEUED, status_reason=None)
            )
            conn.execute(
                sa.update(DEAD_LETTER)
                .where(DEAD_LETTER.c.id == row.id)
                .values(replayed_at=utcnow())
            )
        result.articles += enqueuer.send(hashes)
        result.replayed += 1
    return result
