"""Articles: the filtered, searched, keyset-paginated list, and one article in full.

Keyset pagination: each page continues strictly after the (sort key, id) of the previous
page's last row, so rows inserted meanwhile never shift a page (no repeat, no skip), unlike
OFFSET. Sorts: ``published`` (published_at DESC NULLS LAST, id DESC), ``fetched``
(fetched_at DESC, id DESC), ``relevance`` (score DESC, id DESC; searches only). Relevance is
``ts_rank_cd`` on PostgreSQL (a function of the row and the query: stable across pages) and
``-bm25`` on SQLite. bm25 also depends on corpus statistics (how many articles hold a word),
so on SQLite every article that arrives between two pages shifts every score and a relevance
cursor loses its place: relevance paging on SQLite is exact only while nothing is written
(the time sorts, and PostgreSQL's relevance, are exact always).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import DOUBLE_PRECISION
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from query.errors import InvalidQuery, NotFound
from query.filters import Cursor, Filters, Sort, decode_cursor, encode_cursor
from query.labels import fold_name
from query.search import SearchQuery, parse
from schemas.fulltext import pg_all_configs, pg_config_name
from schemas.models import Article, Entity, Feed, Mention, as_utc
from schemas.urls import host_of, url_hash

ARTICLE: sa.Table = Article.__table__  # type: ignore[attr-defined]
ENTITY: sa.Table = Entity.__table__  # type: ignore[attr-defined]
MENTION: sa.Table = Mention.__table__  # type: ignore[attr-defined]
FEED: sa.Table = Feed.__table__  # type: ignore[attr-defined]

HL_START, HL_END = "\x02", "\x03"
"""Marks around a highlighted word in a snippet (the CLI renders them)."""
MAX_LIMIT = 1000
NEAR_DISTANCE = 3


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


class Search:
    """A parsed query bound to a backend: its conditions, score and snippets."""

    def __init__(self, conn: Connection, query: SearchQuery, language: str | None) -> None:
        self.query = query
        self.pg = conn.dialect.name == "postgresql"
        configs = [pg_config_name(language)] if language else pg_all_configs()
        self.empty = False
        if self.pg:
            positive, negative = pg_tsqueries(conn, query, configs)
            self.empty = positive is None
            self.tsquery = sa.text("CAST(:tsq AS tsquery)").bindparams(tsq=positive or "")
            self.negative = None
            if negative is not None:
                self.negative = sa.text("CAST(:tsq_not AS tsquery)").bindparams(tsq_not=negative)
            self.fts: Any = None
        else:
            self.fts = (
                sa.text(
                    "SELECT rowid AS id, -bm25(article_fts, 10.0, 1.0) AS score "
                    "FROM article_fts WHERE article_fts MATCH :fts_q"
                )
                .bindparams(fts_q=query.fts5())
                .columns(id=sa.Integer, score=sa.Float)
                .subquery("fts")
            )

    @property
    def vector(self) -> ColumnElement[Any]:
        return sa.literal_column("article.search_vector")

    def score(self) -> ColumnElement[Any]:
        if self.pg:
            # float8: a float4 would come back rounded to its shortest text form, and the
            # cursor's key would then no longer compare equal to the row's own score.
            return sa.cast(sa.func.ts_rank_cd(self.vector, self.tsquery), DOUBLE_PRECISION)
        return self.fts.c.score  # type: ignore[no-any-return]

    def apply(self, stmt: sa.Select[Any]) -> sa.Select[Any]:
        if self.pg:
            if self.empty:  # only words the stemmers drop (stop words): nothing to find
                return stmt.where(sa.false())
            stmt = stmt.where(self.vector.op("@@")(self.tsquery))
            if self.negative is not None:
                stmt = stmt.where(sa.not_(self.vector.op("@@")(self.negative)))
            return stmt
        return stmt.join(self.fts, self.fts.c.id == ARTICLE.c.id)

    def snippets(self, conn: Connection, ids: Sequence[int]) -> dict[int, str]:
        if not ids:
            return {}
        stmt: Any
        if self.pg:
            options = (
                f"StartSel={HL_START}, StopSel={HL_END}, MaxWords=30, MinWords=12, "
                'MaxFragments=2, FragmentDelimiter=" … "'
            )
            stmt = sa.select(
                ARTICLE.c.id,
                sa.func.ts_headline(
                    sa.func.newsingest_ts_config(ARTICLE.c.language),
                    ARTICLE.c.text,
                    self.tsquery,
                    sa.literal(options),
                ),
            ).where(ARTICLE.c.id.in_(list(ids)))
        else:
            stmt = sa.text(
                "SELECT rowid, snippet(article_fts, -1, :hs, :he, '…', 24) FROM article_fts "
                "WHERE article_fts MATCH :fts_q AND rowid IN :ids"
            ).bindparams(
                sa.bindparam("ids", expanding=True),
                hs=HL_START,
                he=HL_END,
                fts_q=self.query.fts5(),
                ids=list(ids),
            )
        return {int(row[0]): str(row[1] or "") for row in conn.execute(stmt)}


def pg_tsqueries(
    conn: Connection, query: SearchQuery, configs: Sequence[str]
) -> tuple[str | None, str | None]:
    """The tsquery texts (positive, excluded) of a parsed query on PostgreSQL.

    Each term goes through ``websearch_to_tsquery`` under every configuration the index may
    have used (the article's language chose its stemmer), in one round trip; the distinct
    results are OR-ed per term, the terms combined as the syntax says (OR within a clause,
    AND between clauses). Deduplicating matters: 30 configurations mostly give the same
    lexeme, and a tsquery with 30 copies made every search several times slower. The
    pieces are PostgreSQL's own output, so joining them with ``&``/``|`` stays valid syntax;
    the result is bound as a parameter. A term that every configuration drops (a stop word)
    is left out, as websearch_to_tsquery does; None when nothing is left."""
    terms = [t for clause in query.clauses for t in clause] + list(query.excluded)
    texts = [t.websearch() for t in terms]
    rows = conn.execute(
        sa.text(
            "SELECT DISTINCT t.i, websearch_to_tsquery(c::regconfig, t.q)::text "
            "FROM unnest(CAST(:qs AS text[])) WITH ORDINALITY AS t(q, i), "
            "unnest(CAST(:cfgs AS text[])) AS c"
        ),
        {"qs": texts, "cfgs": list(configs)},
    ).all()
    lexemes: dict[int, list[str]] = {}
    for index, text in sorted(rows):
        if text:
            lexemes.setdefault(int(index) - 1, []).append(f"({text})")
    position = 0
    clauses = []
    for clause in query.clauses:
        parts = [q for i in range(position, position + len(clause)) for q in lexemes.get(i, [])]
        position += len(clause)
        if parts:
            clauses.append("(" + " | ".join(parts) + ")")
    excluded = [q for i in range(position, len(terms)) for q in lexemes.get(i, [])]
    return (" & ".join(clauses) or None), (" | ".join(excluded) or None)


def entity_article_ids(entity: str, labels: Sequence[str] | None) -> sa.Select[Any]:
    """Ids of the articles mentioning an entity: its key, or a person's short form."""
    key = fold_name(entity)
    if not key:
        raise InvalidQuery(f"--entity {entity!r} has no letters to look for")
    cond = sa.or_(ENTITY.c.key == key, ENTITY.c.short_key == key)
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
    if sort is Sort.RELEVANCE:
        return float(row.score)
    value = as_utc(row.fetched_at if sort is Sort.FETCHED else row.published_at)
    return value.isoformat() if value is not None else None


def listing_key(conn: Connection, sort: Sort) -> ColumnElement[Any]:
    """The time a listing sorts by, as one expression that is never NULL: an undated article
    (published sort) takes the lowest time, which puts it last in a newest-first listing.
    The ORDER BY and the keyset condition are then one row comparison on
    ``(listing_key, id)``, which the index of migration 0006 serves directly, so a page far
    down the list costs what the first one does (an OR with ``IS NULL`` made PostgreSQL
    filter every row above the cursor)."""
    column = time_column(sort)
    if sort is Sort.FETCHED:  # never NULL
        return column
    low = "'-infinity'::timestamptz" if conn.dialect.name == "postgresql" else "''"
    return sa.func.coalesce(column, sa.literal_column(low, column.type))


def _after(
    conn: Connection, cursor: Cursor, sort: Sort, score: ColumnElement[Any] | None
) -> ColumnElement[bool]:
    if sort is Sort.RELEVANCE:
        assert score is not None
        if not isinstance(cursor.key, float | int):
            raise InvalidQuery("the cursor is damaged")
        return sa.or_(score < cursor.key, sa.and_(score == cursor.key, ARTICLE.c.id < cursor.id))
    key_expr = listing_key(conn, sort)
    if cursor.key is None:
        if sort is Sort.FETCHED:
            raise InvalidQuery("the cursor is damaged")
        return sa.and_(time_column(sort).is_(None), ARTICLE.c.id < cursor.id)
    try:
        key = datetime.fromisoformat(str(cursor.key))
    except ValueError:
        raise InvalidQuery("the cursor is damaged") from None
    return sa.tuple_(key_expr, ARTICLE.c.id) < sa.tuple_(
        sa.literal(key, time_column(sort).type), sa.literal(cursor.id)
    )


def list_articles(
    conn: Connection,
    filters: Filters,
    *,
    sort: Sort | None = None,
    limit: int = 20,
    after: str | None = None,
) -> Page:
    """One page of articles, newest (or most relevant) first."""
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
    score = search.score() if search is not None else None
    columns: list[Any] = [
        ARTICLE.c.id,
        ARTICLE.c.published_at,
        ARTICLE.c.fetched_at,
        ARTICLE.c.site_name,
        ARTICLE.c.language,
        ARTICLE.c.title,
        ARTICLE.c.url,
        ARTICLE.c.status,
        (score if score is not None else sa.null()).label("score"),
    ]
    stmt = sa.select(*columns).select_from(ARTICLE).where(*conditions(filters, sort))
    if search is not None:
        stmt = search.apply(stmt)
    if cursor is not None:
        stmt = stmt.where(_after(conn, cursor, sort, score))
    if sort is Sort.RELEVANCE:
        assert score is not None
        stmt = stmt.order_by(score.desc(), ARTICLE.c.id.desc())
    else:
        stmt = stmt.order_by(listing_key(conn, sort).desc(), ARTICLE.c.id.desc())
    found = conn.execute(stmt.limit(limit + 1)).all()
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
        next_cursor = encode_cursor(Cursor(_key_of(last, sort), last.id), filters, sort)
    return Page(rows, next_cursor)


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
    if not article_ids:
        return out
    stmt = (
        sa.select(
            MENTION.c.article_id, ENTITY.c.label, ENTITY.c.name, ENTITY.c.key, MENTION.c.count
        )
        .join(ENTITY, ENTITY.c.id == MENTION.c.entity_id)
        .where(MENTION.c.article_id.in_(list(article_ids)))
        .order_by(MENTION.c.article_id, MENTION.c.count.desc(), ENTITY.c.key, ENTITY.c.label)
    )
    for row in conn.execute(stmt):
        article_id, label, name, key, count = row
        out[article_id].append(EntityCount(label, name, key, int(count)))
    return out


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
