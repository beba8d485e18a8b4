"""The search syntax parser: what each query means, and that nothing but InvalidQuery
ever comes out of it, whatever the input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from query.errors import InvalidQuery
from query.search import SearchQuery, Term, parse


def terms(*words: str) -> Term:
    return Term(tuple(words))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("berlin", SearchQuery(((terms("berlin"),),))),
        ("a b", SearchQuery(((terms("a"),), (terms("b"),)))),
        ('"climate summit"', SearchQuery(((terms("climate", "summit"),),))),
        ("a OR b c", SearchQuery(((terms("a"), terms("b")), (terms("c"),)))),
        ("a or b", SearchQuery(((terms("a"), terms("b")),))),
        ("x -y", SearchQuery(((terms("x"),),), (terms("y"),))),
        ('x -"y z"', SearchQuery(((terms("x"),),), (terms("y", "z"),))),
        ("e-mail", SearchQuery(((terms("e", "mail"),),))),
        ("NEAR(x", SearchQuery(((terms("NEAR", "x"),),))),
        ('"unterminated phrase', SearchQuery(((terms("unterminated", "phrase"),),))),
        ("OR a", SearchQuery(((terms("a"),),))),
        ("a OR", SearchQuery(((terms("a"),),))),
        ("Zürich", SearchQuery(((terms("Zürich"),),))),
        ("ｆｕｌｌ", SearchQuery(((terms("full"),),))),
    ],
)
def test_parse(text: str, expected: SearchQuery) -> None:
    assert parse(text) == expected


def test_fts5_rendering_quotes_every_term() -> None:
    assert parse('a OR b "c d" -e').fts5() == '(("a" OR "b") AND "c d") NOT "e"'
    assert parse("NEAR(x * AND").fts5() == '"NEAR x" AND "AND"'


@pytest.mark.parametrize("text", ["", "   ", "-a", '-"a b"', "* ( ) :", '""', "OR", "\x00a"])
def test_nothing_to_search_is_invalid(text: str) -> None:
    with pytest.raises(InvalidQuery):
        parse(text)


def test_limits() -> None:
    with pytest.raises(InvalidQuery):
        parse("a" * 1001)
    with pytest.raises(InvalidQuery):
        parse(" ".join(f"w{i}" for i in range(40)))


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=80))
def test_any_text_parses_or_is_invalid_query(text: str) -> None:
    try:
        query = parse(text)
    except InvalidQuery:
        return
    rendered = query.fts5()
    # Only quoted strings of letters and digits, and the operators between them.
    inside = rendered.split('"')[1::2]
    assert all(piece.replace(" ", "").isalnum() for piece in inside)
    outside = " ".join(rendered.split('"')[0::2])
    assert set(outside.replace("AND", "").replace("OR", "").replace("NOT", "")) <= set(" ()")
