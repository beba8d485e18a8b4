"""Article claims: the database row that says "this URL is being fetched", written first.

A fetcher claims a URL by inserting its row (``status=fetching``) with
``INSERT ... ON CONFLICT DO NOTHING``: of two overlapping polls that meet the same URL only
one inserts, so a page is never downloaded twice at once. The row then records the outcome:
the extracted text (``queued``), no article (``not_article``), a permanent failure
(``failed``) or a transient one (``retry``, claimable again after a backoff). Claims whose
fetcher died are taken over once older than the lock TTL.

Entities and mentions are written only by ``workers/store.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from schemas.models import Article, ArticleStatus, utcnow

MAX_ATTEMPTS = 3
RETRY_BACKOFF = timedelta(minutes=10)

ARTICLE = Article.__table__  # type: ignore[attr-defined]


def insert_ignore(conn: Connection, table: sa.Table) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` for the connection's dialect."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


@dataclass(frozen=True, slots=True)
class Candidate:
    """A link found in a feed, not yet fetched."""

    url: str  # normalised
    url_hash: str
    feed_id: int | None
    title: str | None = None
    published_at: datetime | None = None


def claim(
    conn: Connection,
    candidates: Sequence[Candidate],
    *,
    lock_ttl: float,
    now: datetime | None = None,
) -> tuple[list[Candidate], int]:
    """Claim the candidates nobody stored or is fetching; returns (claimed, duplicates)."""
    now = now or utcnow()
    unique: dict[str, Candidate] = {}
    for cand in candidates:
        unique.setdefault(cand.url_hash, cand)
    if not unique:
        return [], len(candidates)
    claimed: set[str] = set()
    rows: list[dict[str, Any]] = [
        {
            "url": c.url,
            "url_hash": c.url_hash,
            "feed_id": c.feed_id,
            "title": c.title,
            "published_at": c.published_at,
            "published_source": "feed" if c.published_at else None,
            "authors": [],
            "text": "",
            "word_count": 0,
            "attempts": 0,
            "status": ArticleStatus.FETCHING,
            "fetched_at": now,
        }
        for c in unique.values()
    ]
    for start in range(0, len(rows), 500):
        stmt = insert_ignore(conn, ARTICLE).returning(ARTICLE.c.url_hash)
        claimed.update(conn.execute(stmt, rows[start : start + 500]).scalars().all())
    # Rows that exist: take over stale claims and retries whose backoff has passed.
    rest = [h for h in unique if h not in claimed]
    if rest:
        stale = now - timedelta(seconds=lock_ttl)
        retry_due = now - RETRY_BACKOFF
        stmt = (
            sa.update(ARTICLE)
            .where(ARTICLE.c.url_hash.in_(rest))
            .where(
                sa.or_(
                    sa.and_(
                        ARTICLE.c.status == ArticleStatus.FETCHING, ARTICLE.c.fetched_at < stale
                    ),
                    sa.and_(
                        ARTICLE.c.status == ArticleStatus.RETRY,
                        ARTICLE.c.fetched_at < retry_due,
                        ARTICLE.c.attempts < MAX_ATTEMPTS,
                    ),
                )
            )
            .values(status=ArticleStatus.FETCHING, fetched_at=now)
            .returning(ARTICLE.c.url_hash)
        )
        claimed.update(conn.execute(stmt).scalars().all())
    won = [c for h, c in unique.items() if h in claimed]
    return won, len(candidates) - len(won)


def record_extracted(conn: Connection, url_hash: str, fields: dict[str, Any]) -> None:
    """Store what trafilatura extracted; the article is now ``queued`` for entities."""
    conn.execute(
        sa.update(ARTICLE)
        .where(ARTICLE.c.url_hash == url_hash)
        .values(
            **fields,
            status=ArticleStatus.QUEUED,
            status_reason=None,
            attempts=ARTICLE.c.attempts + 1,
            fetched_at=utcnow(),
        )
    )


def record_outcome(conn: Connection, url_hash: str, status: ArticleStatus, reason: str) -> None:
    """Record a failure or a not-an-article page with its reason."""
    values: dict[str, Any] = {
        "status_reason": reason[:1024],
        "attempts": ARTICLE.c.attempts + 1,
        "fetched_at": utcnow(),
    }
    if status is ArticleStatus.RETRY:
        # Out of attempts: the transient failure becomes permanent.
        values["status"] = sa.case(
            (ARTICLE.c.attempts + 1 >= MAX_ATTEMPTS, ArticleStatus.FAILED.value),
            else_=ArticleStatus.RETRY.value,
        )
    else:
        values["status"] = status
    conn.execute(sa.update(ARTICLE).where(ARTICLE.c.url_hash == url_hash).values(**values))


def queued_older_than(conn: Connection, age: timedelta, limit: int = 10_000) -> list[str]:
    """URL hashes extracted but not processed for longer than ``age`` (the sweep's input)."""
    cutoff = utcnow() - age
    stmt = (
        sa.select(ARTICLE.c.url_hash)
        .where(ARTICLE.c.status == ArticleStatus.QUEUED, ARTICLE.c.fetched_at < cutoff)
        .order_by(ARTICLE.c.fetched_at)
        .limit(limit)
    )
    return list(conn.execute(stmt).scalars().all())


def statuses(conn: Connection, url_hashes: Iterable[str]) -> dict[str, str]:
    hashes = list(url_hashes)
    stmt = sa.select(ARTICLE.c.url_hash, ARTICLE.c.status).where(ARTICLE.c.url_hash.in_(hashes))
    return {row.url_hash: row.status for row in conn.execute(stmt)}
