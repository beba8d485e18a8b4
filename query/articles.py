"""Articles: the filtered, searched, keyset-paginated list (one article in full:
:mod:`query.article`; the search's backend side: :mod:`query.fulltext`).

Keyset pagination: each page continues strictly after the (sort key, id) of the previous
page's last row, so rows inserted meanwhile never shift a page (no repeat, no skip), unlike
OFFSET. Sorts: ``published`` (published_at DESC NULLS LAST, id DESC), ``fetched``
(fetched_at DESC, id DESC), ``relevance`` (score DESC, id DESC; searches only). Relevance is
``ts_rank_cd`` on PostgreSQL (a function of the row and the query: stable across pages) and
``-bm25`` on SQLite, over the newest :data:`RANK_WINDOW` matches (older matches follow,
newest first; see :func:`list_articles`). bm25 also depends on corpus statistics (how many
articles hold a word), so on SQLite every article that arrives between two pages shifts
every score and a relevance cursor loses its place: relevance paging on SQLite is exact
only while nothing is written (the time sorts, and PostgreSQL's relevance, are exact always).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from query.errors import InvalidQuery, NotFound
from query.filters import Cursor, Filters, Sort, decode_cursor, encode_cursor
from query.fulltext import Search
from query.search import parse
from query.tables import ARTICLE, ENTITY, FEED, MENTION
from schemas.keys import lookup_keys
from schemas.models import as_utc
from schemas.urls import host_of

MAX_LIMIT = 1000
RANK_WINDOW = 1000
"""Relevance ranks this many of the newest matches; older ones follow newest first."""


@dataclass(frozen=True, slots=True)
class ArticleRow:
    id: int
    published_at: datetime | None
    fetched_at: datetime | None
    site: str
    language: str | None
    title: str | None
    url: str
    status: str
    score: float | None = None
    snippet: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[ArticleRow]
    next_cursor: str | None


def entity_article_ids(entity: str, labels: Sequence[str] | None) -> sa.Select[Any]:
    """Ids of the articles mentioning an entity: its key, or a person's short form."""
    keys = [k for k in lookup_keys(entity) if k]
    if not keys:
        raise InvalidQuery(f"--entity {entity!r} has no letters to look for")
    cond = sa.or_(ENTITY.c.key.in_(keys), ENTITY.c.short_key.in_(keys))
    if labels:
        cond = sa.and_(cond, ENTITY.c.label.in_(list(labels)))
    return (
        sa.select(MENTION.c.article_id).join(ENTITY, ENTITY.c.id == MENTION.c.entity_id).where(cond)
    )


def time_column(sort: Sort) -> sa.Column[Any]:
    return ARTICLE.c.fetched_at if sort is Sort.FETCHED else ARTICLE.c.published_at


def conditions(filters: Filters, sort: Sort) -> list[ColumnElement[bool]]:
    """The WHERE of every read but the search itself (see :class:`Search`)."""
    out: list[ColumnElement[bool]] = [ARTICLE.c.status.in_(list(filters.statuses))]
    if filters.feed_id is not None:
        out.append(ARTICLE.c.feed_id == filters.feed_id)
    if filters.language:
        out.append(ARTICLE.c.language == filters.language.lower())
    moment = time_column(sort)
    if filters.since is not None:
        out.append(moment >= filters.since)
    if filters.until is not None:
        out.append(moment < filters.until)
    if filters.entity:
        out.append(ARTICLE.c.id.in_(entity_article_ids(filters.entity, filters.labels)))
    return out


def resolve_feed(conn: Connection, value: str) -> int:
    """``--feed``: a feed id or URL; :class:`NotFound` when there is no such feed."""
    text = value.strip()
    if text.isdigit():
        found = conn.execute(sa.select(FEED.c.id).where(FEED.c.id == int(text))).scalar()
    else:
        found = conn.execute(sa.select(FEED.c.id).where(FEED.c.url == text)).scalar()
    if found is None:
        raise NotFound(f"no feed {value!r} (see `newsingest feeds list`)")
    return int(found)


def _key_of(row: Any, sort: Sort) -> Any:
    value = as_utc(row.fetched_at if sort is Sort.FETCHED else row.published_at)
    return value.isoformat() if value is not None else None


def listing_key(conn: Connection, sort: Sort) -> ColumnElement[Any]:
    """The time a listing sorts by. On PostgreSQL, published time as one expression that is
    never NULL (an undated article takes the lowest time, so it stays last newest-first):
    the ORDER BY and the keyset condition are then one row comparison on ``(listing_key,
    id)``, which the index of migration 0006 serves directly, so a page far down the list
    costs what the first one does (an OR with ``IS NULL`` made PostgreSQL filter every row
    above the cursor). SQLite keeps the column itself (its DESC already puts NULL last)."""
    column = time_column(sort)
    if sort is Sort.FETCHED or conn.dialect.name != "postgresql":  # fetched_at is never NULL
        return column
    return sa.func.coalesce(column, sa.literal_column("'-infinity'::timestamptz", column.type))


def listing_order(conn: Connection, sort: Sort) -> tuple[ColumnElement[Any], ...]:
    """Newest first, undated last, ties by id: the order of every time listing."""
    key = listing_key(conn, sort)
    first = key.desc() if key is not time_column(sort) else key.desc().nulls_last()
    return first, ARTICLE.c.id.desc()


def _after(
    conn: Connection, cursor: Cursor, sort: Sort, score: ColumnElement[Any] | None
) -> ColumnElement[bool]:
    if sort is Sort.RELEVANCE:
        assert score is not None
        if not isinstance(cursor.key, float | int):
            raise InvalidQuery("the cursor is damaged")
        return sa.or_(score < cursor.key, sa.and_(score == cursor.key, ARTICLE.c.id < cursor.id))
    column = time_column(sort)
    if cursor.key is None:
        if sort is Sort.FETCHED:
            raise InvalidQuery("the cursor is damaged")
        return sa.and_(column.is_(None), ARTICLE.c.id < cursor.id)
    try:
        key = datetime.fromisoformat(str(cursor.key))
    except ValueError:
        raise InvalidQuery("the cursor is damaged") from None
    key_expr = listing_key(conn, sort)
    if key_expr is not column:
        return sa.tuple_(key_expr, ARTICLE.c.id) < sa.tuple_(
            sa.literal(key, column.type), sa.literal(cursor.id)
        )
    return sa.or_(
        column < key,
        sa.and_(column == key, ARTICLE.c.id < cursor.id),
        column.is_(None),
    )


def _bound_of(value: Any) -> Cursor | None:
    """The window bound stored in a relevance cursor (``[published, id]`` or None)."""
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[1], int)):
        raise InvalidQuery("the cursor is damaged")
    return Cursor(value[0], value[1])


def _published_key(row: Any) -> str | None:
    value = as_utc(row.published_at)
    return value.isoformat() if value is not None else None


def list_articles(
    conn: Connection,
    filters: Filters,
    *,
    sort: Sort | None = None,
    limit: int = 20,
    after: str | None = None,
) -> Page:
    """One page of articles, newest (or most relevant) first.

    Relevance ranks the newest :data:`RANK_WINDOW` matches (a window fixed by the first page
    and carried in the cursor), then the older matches follow newest first: ranking every
    match of a common word (tens of thousands) costs a read of every match's index entry,
    and news readers want the relevant among the recent."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidQuery(f"--limit must be between 1 and {MAX_LIMIT}")
    sort = sort or (Sort.RELEVANCE if filters.search is not None else Sort.PUBLISHED)
    if sort is Sort.RELEVANCE and filters.search is None:
        raise InvalidQuery("--sort relevance needs --search")
    cursor = decode_cursor(after, filters, sort) if after else None
    search = (
        Search(conn, parse(filters.search), filters.language)
        if filters.search is not None
        else None
    )
    columns: list[Any] = [
        ARTICLE.c.id,
        ARTICLE.c.published_at,
        ARTICLE.c.fetched_at,
        ARTICLE.c.site_name,
        ARTICLE.c.language,
        ARTICLE.c.title,
        ARTICLE.c.url,
        ARTICLE.c.status,
    ]
    # The score only where rows are ranked: in a select list it is computed for every
    # candidate before the sort and limit (a tsvector read per match on PostgreSQL).
    base = (
        sa.select(*columns, sa.null().label("score"))
        .select_from(ARTICLE)
        .where(*conditions(filters, sort))
    )
    if search is not None:
        base = search.apply(base, walk_index=True)
    by_time = listing_order(conn, sort)

    if sort is not Sort.RELEVANCE:
        stmt = base.where(_after(conn, cursor, sort, None)) if cursor is not None else base
        found = list(conn.execute(stmt.order_by(*by_time).limit(limit + 1)).all())
        keys = [_key_of(r, sort) for r in found]
    else:
        assert search is not None
        found, keys = _relevance_page(conn, base, columns, search, cursor, limit)
    more, found = len(found) > limit, found[:limit]
    snippets = search.snippets(conn, [r.id for r in found]) if search is not None else {}
    rows = [
        ArticleRow(
            id=r.id,
            published_at=as_utc(r.published_at),
            fetched_at=as_utc(r.fetched_at),
            site=r.site_name or host_of(r.url),
            language=r.language,
            title=r.title,
            url=r.url,
            status=r.status,
            score=float(r.score) if r.score is not None else None,
            snippet=snippets.get(r.id),
        )
        for r in found
    ]
    next_cursor = None
    if more and found:
        last = found[-1]
        next_cursor = encode_cursor(Cursor(keys[len(found) - 1], last.id), filters, sort)
    return Page(rows, next_cursor)


def _up_to(bound: Cursor) -> ColumnElement[bool]:
    """Rows at or before ``bound`` in published order (newest first): the complement of
    :func:`_after`, written as a range on published_at so that its index serves it."""
    column = ARTICLE.c.published_at
    if bound.key is None:
        return sa.or_(column.is_not(None), ARTICLE.c.id >= bound.id)
    try:
        key = datetime.fromisoformat(str(bound.key))
    except ValueError:
        raise InvalidQuery("the cursor is damaged") from None
    return sa.and_(column >= key, sa.not_(sa.and_(column == key, ARTICLE.c.id < bound.id)))


def _sqlite_ranked(
    conn: Connection, window: sa.Select[Any], search: Search, position: Cursor | None, n: int
) -> list[Any]:
    """SQLite: the window's ``n`` best rows after ``position``, ranked in Python. bm25 is
    cheap per row from one FTS5 cursor but recomputes its statistics in every new one: as a
    correlated subquery per row it took 2 s for a 1,000-row window, this way ~40 ms."""
    ids = [row.id for row in conn.execute(window.with_only_columns(ARTICLE.c.id))]
    scores = search.scores(conn, ids)
    ranked = sorted(((scores.get(i, 0.0), i) for i in ids), reverse=True)
    if position is not None:
        if not isinstance(position.key, float | int):
            raise InvalidQuery("the cursor is damaged")
        ranked = [(sc, i) for sc, i in ranked if (sc, i) < (position.key, position.id)]
    chosen = {i: sc for sc, i in ranked[:n]}
    rows = conn.execute(window.where(ARTICLE.c.id.in_(list(chosen)))).all()
    by_id = {row.id: {**row._mapping, "score": chosen[row.id]} for row in rows}
    return [SimpleNamespace(**by_id[i]) for _, i in ranked[:n] if i in by_id]


def _relevance_page(
    conn: Connection,
    base: sa.Select[Any],
    columns: list[Any],
    search: Search,
    cursor: Cursor | None,
    limit: int,
) -> tuple[list[Any], list[Any]]:
    """Rows (up to limit + 1) and their cursor keys: ``{"s": score, "w": bound}`` inside the
    ranked window, ``{"p": published, "w": bound}`` past it."""
    by_time = listing_order(conn, Sort.PUBLISHED)
    if cursor is None:
        edge = conn.execute(
            base.with_only_columns(ARTICLE.c.id, ARTICLE.c.published_at)
            .order_by(*by_time)
            .offset(RANK_WINDOW - 1)
            .limit(1)
        ).first()
        bound = Cursor(_published_key(edge), edge.id) if edge is not None else None
        in_window = True
    else:
        if not isinstance(cursor.key, dict):
            raise InvalidQuery("the cursor is damaged")
        bound = _bound_of(cursor.key.get("w"))
        in_window = "s" in cursor.key
    stored = None if bound is None else [bound.key, bound.id]
    found: list[Any] = []
    keys: list[Any] = []
    if in_window:
        window = base.where(_up_to(bound)) if bound is not None else base
        position = Cursor(cursor.key.get("s"), cursor.id) if cursor is not None else None
        if search.pg:
            score = search.score()
            stmt = window.with_only_columns(*columns, score.label("score"))
            if position is not None:
                stmt = stmt.where(_after(conn, position, Sort.RELEVANCE, score))
            found = list(
                conn.execute(stmt.order_by(score.desc(), ARTICLE.c.id.desc()).limit(limit + 1))
            )
        else:
            found = _sqlite_ranked(conn, window, search, position, limit + 1)
        keys = [{"s": float(r.score), "w": stored} for r in found]
        if len(found) > limit or bound is None:
            return found, keys
        after_time = bound
    else:
        if cursor is None or bound is None:
            raise InvalidQuery("the cursor is damaged")
        after_time = Cursor(cursor.key.get("p"), cursor.id)
    rest = conn.execute(
        base.where(_after(conn, after_time, Sort.PUBLISHED, None))
        .order_by(*by_time)
        .limit(limit + 1 - len(found))
    ).all()
    found += list(rest)
    keys += [{"p": _published_key(r), "w": stored} for r in rest]
    return found, keys
