"""Dead letters: messages and articles the pipeline gave up on, with the reason.

A dead letter keeps the message as it was, so ``newsingest dlq replay`` can send it again
once the cause is fixed; its articles are marked ``failed`` with the reason's slug.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from schemas.models import Article, ArticleStatus, DeadLetter, utcnow

ARTICLE: sa.Table = Article.__table__  # type: ignore[attr-defined]
DEAD_LETTER: sa.Table = DeadLetter.__table__  # type: ignore[attr-defined]


def dead_letter(
    conn: Connection,
    *,
    stage: str,
    message: Any,
    error: str,
    key: str | None = None,
    attempts: int = 1,
    now: datetime | None = None,
) -> int:
    """Record a failed message; an open dead letter for the same stage and key is updated."""
    now = now or utcnow()
    body = message if isinstance(message, str) else json.dumps(message, sort_keys=True)
    if key is not None:
        existing = conn.execute(
            sa.select(DEAD_LETTER.c.id).where(
                DEAD_LETTER.c.stage == stage,
                DEAD_LETTER.c.key == key,
                DEAD_LETTER.c.replayed_at.is_(None),
            )
        ).scalar()
        if existing is not None:
            conn.execute(
                sa.update(DEAD_LETTER)
                .where(DEAD_LETTER.c.id == existing)
                .values(
                    message=body,
                    error=error,
                    attempts=DEAD_LETTER.c.attempts + attempts,
                    last_failed_at=now,
                )
            )
            return int(existing)
    result = conn.execute(
        sa.insert(DEAD_LETTER)
        .values(
            stage=stage,
            key=key,
            message=body,
            error=error,
            attempts=attempts,
            first_failed_at=now,
            last_failed_at=now,
        )
        .returning(DEAD_LETTER.c.id)
    )
    return int(result.scalar_one())


def mark_failed(conn: Connection, url_hashes: Sequence[str], reason: str) -> None:
    """Articles whose entity stage failed for good (their dead letter holds the details)."""
    conn.execute(
        sa.update(ARTICLE)
        .where(ARTICLE.c.url_hash.in_(list(url_hashes)))
        .where(ARTICLE.c.status == ArticleStatus.QUEUED)
        .values(status=ArticleStatus.FAILED, status_reason=reason[:1024])
    )
