"""The only code that writes entities and mentions, and marks articles processed.

One transaction per batch. Idempotent: an article already processed by the same model
version is skipped; otherwise its mentions are replaced, never added to, so the same message
processed twice, or by two workers at once, leaves the same rows and counts. Rows are locked
in URL-hash order and entities upserted in (label, key) order, so concurrent batches on
PostgreSQL wait for each other instead of deadlocking.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from schemas.keys import PERSON_LABELS
from schemas.models import Article, ArticleStatus, Entity, Mention, as_utc, utcnow
from workers.entity_keys import EntityCount

ARTICLE: sa.Table = Article.__table__  # type: ignore[attr-defined]
ENTITY: sa.Table = Entity.__table__  # type: ignore[attr-defined]
MENTION: sa.Table = Mention.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class PendingArticle:
    id: int
    url_hash: str
    text: str
    language: str | None
    status: str
    nlp_model: str | None
    nlp_model_version: str | None
    nlp_attempts: int = 0


@dataclass(frozen=True, slots=True)
class ArticleResult:
    url_hash: str
    status: ArticleStatus  # PROCESSED or SKIPPED
    entities: tuple[EntityCount, ...] = ()
    language: str | None = None
    reason: str | None = None


@dataclass
class StoreStats:
    processed: int = 0
    skipped: int = 0
    already_done: int = 0
    missing: int = 0
    entities: int = 0
    mentions: int = 0
    missing_hashes: list[str] = field(default_factory=list)


def _insert(conn: Connection, table: sa.Table) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def load_pending(
    conn: Connection, url_hashes: Sequence[str], *, lock: bool = False
) -> dict[str, PendingArticle]:
    """The articles of a message, locked (PostgreSQL ``FOR UPDATE``) when ``lock``."""
    stmt = (
        sa.select(
            ARTICLE.c.id,
            ARTICLE.c.url_hash,
            ARTICLE.c.text,
            ARTICLE.c.language,
            ARTICLE.c.status,
            ARTICLE.c.nlp_model,
            ARTICLE.c.nlp_model_version,
            ARTICLE.c.nlp_attempts,
        )
        .where(ARTICLE.c.url_hash.in_(sorted(set(url_hashes))))
        .order_by(ARTICLE.c.url_hash)
    )
    if lock and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return {row.url_hash: PendingArticle(**row._mapping) for row in conn.execute(stmt)}


def is_done(article: PendingArticle, model: str, version: str) -> bool:
    return (
        article.status in (ArticleStatus.PROCESSED, ArticleStatus.SKIPPED)
        and article.nlp_model == model
        and article.nlp_model_version == version
    )


def store_results(
    conn: Connection,
    results: Sequence[ArticleResult],
    *,
    model: str,
    version: str,
    now: datetime | None = None,
) -> StoreStats:
    """Write a batch's entities, mentions and article statuses (call inside a transaction)."""
    now = now or utcnow()
    stats = StoreStats()
    current = load_pending(conn, [r.url_hash for r in results], lock=True)
    todo: list[tuple[PendingArticle, ArticleResult]] = []
    for result in sorted(results, key=lambda r: r.url_hash):
        article = current.get(result.url_hash)
        if article is None:
            stats.missing += 1
            stats.missing_hashes.append(result.url_hash)
        elif is_done(article, model, version):
            stats.already_done += 1
        else:
            todo.append((article, result))
    if not todo:
        return stats

    # Entities: one upsert for the whole batch, in key order, person short forms resolved.
    names: dict[tuple[str, str], str] = {}
    for _, r in todo:
        for e in r.entities:
            names.setdefault((e.label, e.key), e.name)
    alias = person_aliases(conn, set(names))
    targets: dict[tuple[str, str], str] = {}
    for k, n in names.items():
        target = alias.get(k, k)
        targets.setdefault(target, names.get(target, n))
    wanted = sorted(targets.items())
    ids = entity_ids(conn, wanted, now)
    stats.entities = len(ids)
    if ids:
        merge_short_forms(conn, ids)
    for k, target in alias.items():
        if target in ids:
            ids[k] = ids[target]

    # Mentions: replaced, never added to (two forms met in one article are summed).
    article_ids = [article.id for article, _ in todo]
    conn.execute(sa.delete(MENTION).where(MENTION.c.article_id.in_(article_ids)))
    merged: dict[tuple[int, int], tuple[int, int, str | None]] = {}
    for article, result in todo:
        for e in result.entities:
            slot = (article.id, ids[(e.label, e.key)])
            count, offset, model_label = e.count, e.first_offset, e.model_label or None
            if slot in merged:
                before = merged[slot]
                count, offset = before[0] + count, min(before[1], offset)
                model_label = before[2] if before[1] <= e.first_offset else model_label
            merged[slot] = (count, offset, model_label)
    insert_mentions(conn, [(a, ent, c, o, m) for (a, ent), (c, o, m) in merged.items()])
    stats.mentions = len(merged)

    # Article rows: one executemany (pipelined by psycopg) instead of a statement per row.
    update = (
        sa.update(ARTICLE)
        .where(ARTICLE.c.id == sa.bindparam("b_id"))
        .values(
            status=sa.bindparam("b_status"),
            status_reason=sa.bindparam("b_reason"),
            nlp_attempts=0,
            processed_at=now,
            nlp_model=model,
            nlp_model_version=version,
            language=sa.func.coalesce(ARTICLE.c.language, sa.bindparam("b_language")),
        )
    )
    conn.execute(
        update,
        [
            {
                "b_id": article.id,
                "b_status": result.status,
                "b_reason": result.reason,
                "b_language": result.language,
            }
            for article, result in todo
        ],
    )
    for _, result in todo:
        if result.status is ArticleStatus.PROCESSED:
            stats.processed += 1
        else:
            stats.skipped += 1
    return stats


LAST_SEEN_GRANULARITY = timedelta(hours=1)


def entity_ids(
    conn: Connection, wanted: Sequence[tuple[tuple[str, str], str]], now: datetime
) -> dict[tuple[str, str], int]:
    """Ids of the (label, key) entities, inserting the new ones (``wanted`` in key order).

    Existing rows are read, not upserted: an ``ON CONFLICT DO UPDATE`` on every entity of
    every batch locked popular entities ("Donald Trump") until commit, so workers storing
    unrelated articles queued behind each other. ``last_seen`` moves at most once an hour.
    """
    ids: dict[tuple[str, str], int] = {}
    if not wanted:
        return ids
    keys = [k for k, _ in wanted]
    for start in range(0, len(keys), 500):
        part = keys[start : start + 500]
        rows = conn.execute(
            sa.select(ENTITY.c.id, ENTITY.c.label, ENTITY.c.key, ENTITY.c.last_seen).where(
                sa.tuple_(ENTITY.c.label, ENTITY.c.key).in_(part)
            )
        )
        stale: list[int] = []
        for row in rows:
            ids[(row.label, row.key)] = row.id
            if (as_utc(row.last_seen) or now) < now - LAST_SEEN_GRANULARITY:
                stale.append(row.id)
        if stale:
            conn.execute(
                sa.update(ENTITY)
                .where(ENTITY.c.id.in_(stale), ENTITY.c.last_seen < now)
                .values(last_seen=now)
            )
    new = [
        {
            "label": label,
            "key": key,
            "name": name,
            "short_key": short_key(label, key),
            "first_seen": now,
            "last_seen": now,
        }
        for (label, key), name in wanted
        if (label, key) not in ids
    ]
    if not new:
        return ids
    insert = _insert(conn, ENTITY)
    # DO UPDATE with a no-op assignment so RETURNING also gives rows another worker inserted
    # between our SELECT and this INSERT (rare: only brand-new entities).
    stmt = insert.on_conflict_do_update(
        index_elements=["label", "key"], set_={"label": insert.excluded.label}
    ).returning(ENTITY.c.id, ENTITY.c.label, ENTITY.c.key)
    for start in range(0, len(new), 500):
        for row in conn.execute(stmt, new[start : start + 500]):
            ids[(row.label, row.key)] = row.id
    return ids


def insert_mentions(
    conn: Connection, rows: Sequence[tuple[int, int, int, int, str | None]]
) -> None:
    """(article_id, entity_id, count, first_offset, model_label) rows: COPY on PostgreSQL,
    else INSERT."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        assert raw is not None
        sql = "COPY mention (article_id, entity_id, count, first_offset, model_label) FROM STDIN"
        with raw.cursor() as cur, cur.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
        return
    conn.execute(
        sa.insert(MENTION),
        [
            {"article_id": a, "entity_id": e, "count": c, "first_offset": o, "model_label": m}
            for a, e, c, o, m in rows
        ],
    )


def bump_nlp_attempts(conn: Connection, article_ids: Sequence[int]) -> dict[int, int]:
    """Count one more delivery to the entity stage (commit before running the model, so a
    process killed by the model still leaves the count behind)."""
    stmt = (
        sa.update(ARTICLE)
        .where(ARTICLE.c.id.in_(list(article_ids)))
        .values(nlp_attempts=ARTICLE.c.nlp_attempts + 1)
        .returning(ARTICLE.c.id, ARTICLE.c.nlp_attempts)
    )
    return {row.id: row.nlp_attempts for row in conn.execute(stmt)}


def short_key(label: str, key: str) -> str | None:
    """The last word of a multi-word person key ("volodymyr zelenskiy" -> "zelenskiy")."""
    words = key.split(" ")
    return words[-1][:128] if label in PERSON_LABELS and len(words) > 1 else None


def person_aliases(
    conn: Connection, keys: set[tuple[str, str]]
) -> dict[tuple[str, str], tuple[str, str]]:
    """One-word person keys that name exactly one known multi-word person.

    "zelenskiy" maps to "volodymyr zelenskiy" when that is the only person, in this batch or
    already stored, whose name ends with that word; with two candidates ("john smith", "jane
    smith") the short form stays on its own.
    """
    singles = {(label, key) for label, key in keys if label in PERSON_LABELS and " " not in key}
    if not singles:
        return {}
    longs: dict[tuple[str, str], set[str]] = {}
    for label, key in keys:
        short = short_key(label, key)
        if short:
            longs.setdefault((label, short), set()).add(key)
    stored = conn.execute(
        sa.select(ENTITY.c.label, ENTITY.c.short_key, ENTITY.c.key).where(
            ENTITY.c.label.in_({label for label, _ in singles}),
            ENTITY.c.short_key.in_({key for _, key in singles}),
        )
    )
    for row in stored:
        longs.setdefault((row.label, row.short_key), set()).add(row.key)
    return {
        (label, key): (label, next(iter(longs[(label, key)])))
        for label, key in singles
        if len(longs.get((label, key), ())) == 1
    }


def merge_short_forms(conn: Connection, ids: dict[tuple[str, str], int]) -> None:
    """A stored one-word person ("zelenskiy") meets its full name when that name is the only
    one ending with the word: its mentions move to the full name and it is removed.

    One query finds the stored one-word persons for the whole batch; only those (rare) cost
    more statements.
    """
    shorts: dict[tuple[str, str], tuple[str, int]] = {}
    for (label, key), long_id in ids.items():
        short = short_key(label, key)
        if short is not None:
            shorts[(label, short)] = (key, long_id)
    if not shorts:
        return
    found = conn.execute(
        sa.select(ENTITY.c.id, ENTITY.c.label, ENTITY.c.key).where(
            sa.tuple_(ENTITY.c.label, ENTITY.c.key).in_(sorted(shorts))
        )
    ).all()
    for short_row, label, short in found:
        key, long_id = shorts[(label, short)]
        others = conn.execute(
            sa.select(sa.func.count()).where(
                ENTITY.c.label == label, ENTITY.c.short_key == short, ENTITY.c.key != key
            )
        ).scalar()
        if others:
            continue
        for m in conn.execute(sa.select(MENTION).where(MENTION.c.entity_id == short_row)).all():
            existing = conn.execute(
                sa.select(MENTION.c.id, MENTION.c.count, MENTION.c.first_offset).where(
                    MENTION.c.article_id == m.article_id, MENTION.c.entity_id == long_id
                )
            ).first()
            if existing is None:
                conn.execute(
                    sa.update(MENTION).where(MENTION.c.id == m.id).values(entity_id=long_id)
                )
            else:
                conn.execute(
                    sa.update(MENTION)
                    .where(MENTION.c.id == existing.id)
                    .values(
                        count=existing[1] + m._mapping["count"],
                        first_offset=min(existing[2], m._mapping["first_offset"]),
                    )
                )
                conn.execute(sa.delete(MENTION).where(MENTION.c.id == m.id))
        conn.execute(sa.delete(ENTITY).where(ENTITY.c.id == short_row))
        ids.pop((label, short), None)
