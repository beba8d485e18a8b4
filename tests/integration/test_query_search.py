"""Full-text search on SQLite (FTS5) and PostgreSQL (tsvector): the same query, the same
articles, for phrases, OR, exclusion, accents, stemming, ranking and snippets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from query.articles import list_articles
from query.errors import InvalidQuery
from query.filters import Filters, Sort
from query.fulltext import HL_END, HL_START
from tests.support.readside import add_article, database

pytestmark = pytest.mark.integration

DOCS = {
    "election": ("Elections in Berlin", "Voters went to the polls in Berlin on Sunday."),
    "zurich": ("Zürich bank news", "A bank in Zürich reported record profits this year."),
    "climate": ("Climate summit opens", "Leaders met for the climate summit in Paris."),
    "summit": ("Trade summit", "The trade summit ended without a climate deal."),
    "rail": ("Rail strike", "A rail strike stopped trains across the country on Monday."),
    "german": (
        "Bundestagswahl",
        "Die Bundestagswahl findet im Herbst statt; die Wähler entscheiden.",
    ),
    "hostile": (
        "<script>alert(1)</script> NEAR(x) title",
        'Some "quoted" text * with ( and ) AND OR.',
    ),
}
LANG = {"german": "de"}


@pytest.fixture
def docs(database_url: str) -> Iterator[tuple[Engine, dict[str, int]]]:
    with database(database_url) as engine:
        ids = {}
        with engine.begin() as conn:
            for name, (title, text) in DOCS.items():
                ids[name] = add_article(conn, title, text, language=LANG.get(name, "en"))
        yield engine, ids


def found(engine: Engine, query: str, **kw: object) -> set[int]:
    with engine.connect() as conn:
        page = list_articles(conn, Filters(search=query, **kw), limit=100)  # type: ignore[arg-type]
    return {r.id for r in page.rows}


def names(ids: dict[str, int], *keys: str) -> set[int]:
    return {ids[k] for k in keys}


CASES = [
    ("berlin", ["election"]),
    ("summit", ["climate", "summit"]),
    ('"climate summit"', ["climate"]),  # a phrase: adjacent words in order
    ('"summit climate"', []),
    ("summit -trade", ["climate"]),  # exclusion
    ('summit -"trade summit"', ["climate"]),
    ("rail OR berlin", ["rail", "election"]),
    ("strike OR profits summit", []),  # AND binds looser: (strike OR profits) AND summit
    ("climate rail OR trade", ["summit"]),
    ("zurich", ["zurich"]),  # accents folded in the text
    ("Zürich", ["zurich"]),  # and in the query
    ("ZURICH", ["zurich"]),
    ("election", ["election"]),  # stemming (English): elections ~ election
    ("voter", ["election"]),
    ("Bundestagswahl", ["german"]),
    ("wähler", ["german"]),
    ("waehler", []),
    ("nomatchwhatsoever", []),
]


@pytest.mark.parametrize(("query", "expected"), CASES)
def test_search_syntax_gives_the_same_articles_on_both_backends(
    docs: tuple[Engine, dict[str, int]], query: str, expected: list[str]
) -> None:
    engine, ids = docs
    assert found(engine, query) == names(ids, *expected)


@pytest.mark.parametrize(
    "query",
    ['NEAR(x', "*", '"', 'a"b', "\\", "title:x", "x AND", "(", ")", "^x", "col:*",
     "'; drop table article; --",
     "\"unterminated phrase", "AND OR NOT", "{a b}", "x NOT y", "script"],
)  # fmt: skip
def test_hostile_queries_never_raise_a_database_error(
    docs: tuple[Engine, dict[str, int]], query: str
) -> None:
    engine, ids = docs
    try:
        result = found(engine, query)
    except InvalidQuery:
        return
    assert result <= set(ids.values())
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from article")).scalar() == len(DOCS)


def test_operators_inside_words_are_plain_words(docs: tuple[Engine, dict[str, int]]) -> None:
    engine, ids = docs
    assert found(engine, "NEAR(x") == names(ids, "hostile")
    # (PostgreSQL's parser drops HTML-like tags, <script>...</script> included, from the
    # index; the words around them are found on both backends.)
    assert found(engine, "near title") == names(ids, "hostile")


def test_only_exclusions_or_punctuation_is_an_invalid_query(
    docs: tuple[Engine, dict[str, int]],
) -> None:
    engine, _ = docs
    for query in ("-summit", "", "   ", "* ( )", '""'):
        with pytest.raises(InvalidQuery):
            found(engine, query)


def test_ranking_puts_title_and_frequent_matches_first(database_url: str) -> None:
    with database(database_url) as engine:
        with engine.begin() as conn:
            once = add_article(
                conn, "Markets", "The harbour opened. Other news followed at length."
            )
            title = add_article(conn, "Harbour festival", "Boats and music all weekend long.")
            many = add_article(conn, "Weekend", "Harbour, harbour, harbour: the harbour again.")
            add_article(conn, "Unrelated", "Nothing about the sea.")
        with engine.connect() as conn:
            page = list_articles(conn, Filters(search="harbour"), sort=Sort.RELEVANCE)
        order = [r.id for r in page.rows]
        assert set(order) == {once, title, many}
        assert order[-1] == once  # one mention in the text ranks last
        assert all(r.score is not None for r in page.rows)
        scores = [r.score for r in page.rows]
        assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]


def test_snippets_mark_the_matched_words(docs: tuple[Engine, dict[str, int]]) -> None:
    engine, _ = docs
    with engine.connect() as conn:
        page = list_articles(conn, Filters(search="profits"))
    (row,) = page.rows
    assert row.snippet is not None
    assert f"{HL_START}profits{HL_END}" in row.snippet


def test_snippets_highlight_folded_and_stemmed_forms(docs: tuple[Engine, dict[str, int]]) -> None:
    engine, _ = docs
    with engine.connect() as conn:
        page = list_articles(conn, Filters(search="zurich"))
    (row,) = page.rows
    assert f"{HL_START}Zürich{HL_END}" in (row.snippet or "")


def test_the_index_follows_updates_and_deletes(docs: tuple[Engine, dict[str, int]]) -> None:
    engine, ids = docs
    with engine.begin() as conn:
        conn.execute(
            sa.text("update article set text = 'Now about a ferry.' where id = :i"),
            {"i": ids["rail"]},
        )
        conn.execute(
            sa.text("update article set status = 'processed' where id = :i"), {"i": ids["rail"]}
        )
        conn.execute(sa.text("delete from article where id = :i"), {"i": ids["election"]})
    assert found(engine, "ferry") == names(ids, "rail")
    assert found(engine, "strike") == names(ids, "rail")  # still in its title
    assert found(engine, "trains") == set()
    assert found(engine, "berlin") == set()


def test_language_filter_narrows_the_search(docs: tuple[Engine, dict[str, int]]) -> None:
    engine, ids = docs
    assert found(engine, "summit OR bundestagswahl", language="de") == names(ids, "german")
    assert found(engine, "elections", language="en") == names(ids, "election")


def test_the_plan_for_many_matches_finds_the_same(
    docs: tuple[Engine, dict[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, _ = docs
    expected = {query: found(engine, query) for query, _ in CASES}
    monkeypatch.setattr("query.fulltext.LARGE_MATCH", 0)
    assert {query: found(engine, query) for query, _ in CASES} == expected
