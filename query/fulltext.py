"""A parsed search bound to a backend: its conditions, ranking and snippets.

PostgreSQL: one tsquery (see :func:`pg_tsqueries`) against ``article.search_vector``,
``ts_rank_cd``, ``ts_headline``. SQLite: membership from the FTS5 table ``article_fts``,
``bm25`` from one FTS5 cursor, ``snippet()``. Schema: :mod:`schemas.fulltext`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import DOUBLE_PRECISION
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from query.search import SearchQuery
from query.tables import ARTICLE
from schemas.fulltext import pg_all_configs, pg_config_name

HL_START, HL_END = "\x02", "\x03"
"""Marks around a highlighted word in a snippet (the CLI renders them)."""
LARGE_MATCH = 2000
"""SQLite: above this many matches a search walks the time index (see Search.apply)."""


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
            # SQLite: membership from the FTS5 doclist (and for a common word the time
            # index drives the scan, see apply); scores from one FTS5 cursor (see scores).
            fts = sa.table("article_fts", sa.column("rowid", sa.Integer))
            self.fts = fts
            self.match = sa.literal_column("article_fts").op("MATCH")(
                sa.bindparam("fts_q", query.fts5(), unique=True)
            )
            self.large = (
                conn.execute(
                    sa.select(sa.func.count()).select_from(fts).where(self.match)
                ).scalar_one()
                > LARGE_MATCH
            )

    @property
    def vector(self) -> ColumnElement[Any]:
        return sa.literal_column("article.search_vector")

    def score(self) -> ColumnElement[Any]:
        """PostgreSQL's rank of a row (SQLite ranks in :func:`_sqlite_ranked`)."""
        # float8: a float4 would come back rounded to its shortest text form, and the
        # cursor's key would then no longer compare equal to the row's own score.
        return sa.cast(sa.func.ts_rank_cd(self.vector, self.tsquery), DOUBLE_PRECISION)

    def apply(self, stmt: sa.Select[Any], walk_index: bool = False) -> sa.Select[Any]:
        """The search's conditions on ``stmt``. ``walk_index``: the statement is ordered or
        bounded by time (SQLite: for a common word, walking the time index and checking each
        row's membership stops after a page, where fetching every match's row took ~0.2 s).
        """
        if self.pg:
            if self.empty:  # only words the stemmers drop (stop words): nothing to find
                return stmt.where(sa.false())
            stmt = stmt.where(self.vector.op("@@")(self.tsquery))
            if self.negative is not None:
                stmt = stmt.where(sa.not_(self.vector.op("@@")(self.negative)))
            return stmt
        ids = sa.select(self.fts.c.rowid).where(self.match)
        if self.large and walk_index:
            # "id + 0" keeps the planner from fetching each match by rowid: it walks the
            # index of the ORDER BY (or of the time range) and checks membership instead.
            return stmt.where((ARTICLE.c.id + 0).in_(ids))
        return stmt.where(ARTICLE.c.id.in_(ids))

    def scores(self, conn: Connection, ids: Sequence[int]) -> dict[int, float]:
        """SQLite: -bm25 of these rows, from one FTS5 cursor ("rowid + 0": FTS5 would
        otherwise look each rowid up with a fresh cursor, recomputing its statistics)."""
        if not ids:
            return {}
        stmt = sa.text(
            "SELECT rowid, -bm25(article_fts, 10.0, 1.0) FROM article_fts "
            "WHERE article_fts MATCH :fts_q AND rowid + 0 IN :ids"
        ).bindparams(sa.bindparam("ids", expanding=True), fts_q=self.query.fts5(), ids=list(ids))
        return {int(i): float(sc) for i, sc in conn.execute(stmt)}

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
