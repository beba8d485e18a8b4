"""Article claims: the database row that says "this URL is being fetched", written first.

A fetcher claims a URL by inserting its row (``status=fetching``) with
``INSERT ... ON CONFLICT DO NOTHING``: of two overlapping polls that meet the same URL only
one inserts, so a page is never downloaded twice at once. The row then records the outcome:
the extracted text (``queued``), no article (``not_article``), a permanent failure
(``failed``), a transient one (``retry``, claimable again after a backoff) or, when its
canonical URL is an article already stored, ``duplicate`` (see :mod:`ingest.dedup`). Claims whose
fetcher died are taken over once older than the lock TTL.

Entities and mentions are written only by ``workers/store.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from ingest import dedup
from ingest.dedup import DedupResult
from schemas.models import Article, ArticleStatus, utcnow
from schemas.urls import InvalidUrl, normalize_url
from schemas.urls import url_hash as url_hash_of

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
                        ARTICLE.c.attempts < MAX_ATTEMPTS,
                        sa.or_(
                            ARTICLE.c.retry_at <= now,
                            # rows written before retry_at existed: the fixed backoff
                            sa.and_(ARTICLE.c.retry_at.is_(None), ARTICLE.c.fetched_at < retry_due),
                        ),
                    ),
                )
            )
            .values(status=ArticleStatus.FETCHING, fetched_at=now, retry_at=None)
            .returning(ARTICLE.c.url_hash)
        )
        claimed.update(conn.execute(stmt).scalars().all())
    won = [c for h, c in unique.items() if h in claimed]
    return won, len(candidates) - len(won)


def fingerprint(text: str) -> int:
    """The text's SimHash (:func:`ingest.dedup.simhash`), for ``record_extracted``."""
    return dedup.simhash(text)


@dataclass(frozen=True, slots=True)
class Extracted:
    """One extracted article for :func:`record_extracted_many`: its row's URL hash, the
    values to store (see :func:`ingest.entries.article_fields`) and, optionally, the SimHash
    of ``fields["text"]`` computed outside the transaction."""

    url_hash: str
    fields: dict[str, Any]
    fingerprint: int | None = None


def record_extracted(
    conn: Connection,
    url_hash: str,
    fields: dict[str, Any],
    *,
    near_duplicate_distance: int = 3,
    fingerprint: int | None = None,
) -> DedupResult:
    """Store what trafilatura extracted, after the cross-feed dedup checks (:mod:`ingest.dedup`).

    - The canonical URL (``fields["canonical_url"]``, else the row's own URL) is another
      stored article's URL or canonical URL: this row becomes ``duplicate`` of it, without
      text, and is not queued.
    - Else the text is stored and the row ``queued``; a stored text whose SimHash is within
      ``near_duplicate_distance`` bits (-1: off) links it by ``duplicate_of`` (first copy,
      i.e. the lowest id, wins).

    ``fingerprint``: :func:`ingest.dedup.simhash` of ``fields["text"]`` when the caller
    computed it outside the transaction (~0.5 ms for 600 words), else it is computed here.
    One article of :func:`record_extracted_many`.
    """
    item = Extracted(url_hash, fields, fingerprint)
    return record_extracted_many(conn, [item], near_duplicate_distance=near_duplicate_distance)[0]


def record_extracted_many(
    conn: Connection, items: Sequence[Extracted], *, near_duplicate_distance: int = 3
) -> list[DedupResult]:
    """:func:`record_extracted` for several articles (a feed's) in the caller's transaction;
    one result per item, in order.

    Three statements for the whole batch, each built once so SQLAlchemy's compiled cache
    serves them: the advisory locks of every item; one lookup of the rows themselves, the
    canonical candidates and the band candidates of every item (a ``UNION ALL`` of indexed
    ``IN`` lookups, :class:`ingest.dedup.BatchLookup`); one ``executemany`` of the updates.
    A fetcher stores a feed's articles in one transaction this way; one transaction an
    article took 5 round trips an article (pool ping, locks, lookup, update, commit).

    Concurrency: before any lookup, the transaction takes PostgreSQL transaction-level
    advisory locks (:func:`ingest.dedup.lock_keys`) on every item's URL hash, canonical
    hash and four band values, all at once in sorted order. Any two articles that could
    match each other share one of those keys, so a second transaction waits until the
    first commits and then (READ COMMITTED: each statement sees what committed before it)
    finds it: two copies stored at once cannot both become "the first". Taken at once and
    sorted, so two fetchers never wait on each other in a cycle. Locks rather than
    re-checking after the update: a re-check would see the other's row only if it had
    committed, and both could still miss each other; the locks are released at commit.
    Within the batch, the candidates read up front are extended in memory with each item
    stored, so an item is matched against the items before it exactly as one transaction
    per article, in order, would match it.
    SQLite needs no locks: ``BEGIN IMMEDIATE`` serialises writing transactions.
    """
    near = near_duplicate_distance >= 0
    if near and near_duplicate_distance > dedup.MAX_DISTANCE:
        raise ValueError(
            f"near-duplicate distance {near_duplicate_distance} > {dedup.MAX_DISTANCE}"
        )
    prepared: list[tuple[Extracted, str | None, int]] = []
    keys: set[int] = set()
    for item in items:
        text = str(item.fields.get("text") or "")
        canonical = _canonical_hash(item.fields.get("canonical_url"), item.url_hash)
        h = (
            dedup.simhash(text)
            if item.fingerprint is None
            else dedup.to_unsigned64(item.fingerprint)
        )
        prepared.append((item, canonical, h))
        keys.update(dedup.lock_keys(item.url_hash, canonical, h, near=near))
    dedup.take_locks(conn, sorted(keys))
    # What each item is looked up by: its URL hash, canonical hash and (near: on) SimHash.
    probes = [(item.url_hash, canonical, h if near else None) for item, canonical, h in prepared]
    lookup = dedup.BatchLookup(conn, probes)
    results: list[DedupResult] = []
    updates: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    now = utcnow()
    for (item, canonical, h), probe in zip(prepared, probes, strict=True):
        found = lookup.found(*probe)
        if found.row_id is None:
            results.append(DedupResult(queued=False))
            continue
        values, result = _extracted_values(item, canonical, h, found, near_duplicate_distance)
        if result.queued:
            lookup.stored(item.url_hash, canonical, h)
        values.update(fetched_at=now, row_id=found.row_id)
        updates.setdefault(tuple(sorted(values)), []).append(values)
        results.append(result)
    for rows in updates.values():  # one executemany per set of columns (normally one)
        conn.execute(_UPDATE_EXTRACTED, rows)
    return results


def _extracted_values(
    item: Extracted,
    canonical: str | None,
    h: int,
    found: dedup.Found,
    near_duplicate_distance: int,
) -> tuple[dict[str, Any], DedupResult]:
    """The row's new values and the outcome: a duplicate of a stored article's canonical
    URL (no text), else the text, linked to its first near copy if any."""
    values: dict[str, Any] = {**item.fields, "canonical_hash": canonical}
    first = found.canonical_match() if canonical else None
    if first is not None:
        first_id, first_url = first
        values.update(
            text="",
            word_count=0,
            simhash=None,
            **dict.fromkeys(dedup.BAND_COLUMNS),
            duplicate_of=first_id,
            status=ArticleStatus.DUPLICATE,
            status_reason=f"same canonical URL as article {first_id} ({first_url})"[:1024],
        )
        return values, DedupResult(queued=False, duplicate_of=first_id, kind="canonical")
    match = found.near_match(h, near_duplicate_distance)
    values.update(
        simhash=dedup.to_signed64(h),
        **dict(zip(dedup.BAND_COLUMNS, dedup.bands(h), strict=True)),
        duplicate_of=match[0] if match else None,
        status=ArticleStatus.QUEUED,
        status_reason=None,
    )
    if match:
        return values, DedupResult(
            queued=True, duplicate_of=match[0], kind="near", distance=match[1]
        )
    return values, DedupResult(queued=True)


#: The extracted article's update: its SET columns are the parameters' keys (the same in
#: both outcomes, so one compiled statement), plus one more attempt.
_UPDATE_EXTRACTED = (
    sa.update(ARTICLE)
    .where(ARTICLE.c.id == sa.bindparam("row_id"))
    .values(attempts=ARTICLE.c.attempts + 1)
)


def _canonical_hash(canonical_url: Any, own_hash: str) -> str | None:
    """URL hash of the canonical link, else the row's own URL hash.

    A canonical link to a bare site root (``https://host/``) from another URL is ignored:
    sites that point every page's canonical at their home page (or redirect removed pages
    there) would otherwise make every later article a duplicate of the first.
    """
    if isinstance(canonical_url, str) and canonical_url:
        try:
            normal = normalize_url(canonical_url)
        except InvalidUrl:
            return own_hash
        found = url_hash_of(normal)
        if _is_site_root(normal) and found != own_hash:
            return own_hash
        return found
    return own_hash


def _is_site_root(url: str) -> bool:
    parts = urlsplit(url)
    return parts.path in {"", "/"} and not parts.query


def retry_time(now: datetime, retry_after: float | None = None) -> datetime:
    """When an article that failed transiently may be claimed again: after the backoff, or
    after the page's Retry-After (seconds, already capped at a day) when that is later."""
    wait = RETRY_BACKOFF
    if retry_after is not None and retry_after > wait.total_seconds():
        wait = timedelta(seconds=retry_after)
    return now + wait


def record_outcome(
    conn: Connection,
    url_hash: str,
    status: ArticleStatus,
    reason: str,
    *,
    retry_after: float | None = None,
) -> None:
    """Record a failure or a not-an-article page with its reason. A transient failure
    (``retry``) is claimable again at :func:`retry_time` (``retry_after``: the page's
    Retry-After in seconds), so a server asking for an hour is not asked again, and an
    attempt spent, ten minutes later."""
    now = utcnow()
    values: dict[str, Any] = {
        "status_reason": reason[:1024],
        "attempts": ARTICLE.c.attempts + 1,
        "fetched_at": now,
        "retry_at": None,
    }
    if status is ArticleStatus.RETRY:
        # Out of attempts: the transient failure becomes permanent.
        values["status"] = sa.case(
            (ARTICLE.c.attempts + 1 >= MAX_ATTEMPTS, ArticleStatus.FAILED.value),
            else_=ArticleStatus.RETRY.value,
        )
        values["retry_at"] = sa.case(
            (ARTICLE.c.attempts + 1 >= MAX_ATTEMPTS, sa.null()),
            else_=sa.literal(retry_time(now, retry_after), ARTICLE.c.retry_at.type),
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
