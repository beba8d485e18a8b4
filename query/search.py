"""The search syntax (websearch style) and its translation for each backend. Pure.

Syntax, as in PostgreSQL's ``websearch_to_tsquery``:

- ``word word``: both words (AND);
- ``"a phrase"``: the words next to each other, in order;
- ``a OR b``: either (binds tighter than AND: ``x a OR b`` is x AND (a OR b));
- ``-word`` / ``-"a phrase"``: without it.

Words are cut into their letters-and-digits pieces (``e-mail`` is the phrase ``e mail``),
which is how both indexes tokenise text; anything else (``*``, ``(``, ``NEAR(``, quotes,
backslashes) is punctuation and never reaches the database as syntax. The parse is
normalised once and rendered for each backend from the same tree, so both get the same
query: for PostgreSQL one ``websearch_to_tsquery`` per term (its pieces as a bound parameter)
combined with ``&&``, ``||`` and ``!!``, for SQLite an FTS5 expression of quoted strings.
(PostgreSQL's own websearch string would read ``a OR b c`` as a OR (b AND c); here OR binds
tighter, as in web search engines, on both backends.)
:func:`parse` raises :class:`InvalidQuery` for a query with nothing to look for (empty, only
punctuation, only exclusions) and nothing else.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from query.errors import InvalidQuery

MAX_QUERY_CHARS = 1000
MAX_TERMS = 32
_WORD = re.compile(r"[^\W_]+")
_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')


@dataclass(frozen=True, slots=True)
class Term:
    """A word or a phrase: its pieces, each letters and digits only."""

    words: tuple[str, ...]

    def websearch(self) -> str:
        text = " ".join(self.words)
        return f'"{text}"' if len(self.words) > 1 else text

    def fts5(self) -> str:
        # A double-quoted FTS5 string is a phrase; the pieces hold no quote to escape.
        return '"' + " ".join(self.words) + '"'


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """All of ``clauses`` (each a choice of terms), none of ``excluded``."""

    clauses: tuple[tuple[Term, ...], ...]
    excluded: tuple[Term, ...] = ()

    def fts5(self) -> str:
        """The FTS5 MATCH expression."""
        parts = []
        for clause in self.clauses:
            alternatives = " OR ".join(t.fts5() for t in clause)
            parts.append(f"({alternatives})" if len(clause) > 1 else alternatives)
        expression = " AND ".join(parts)
        for term in self.excluded:
            expression = f"({expression}) NOT {term.fts5()}"
        return expression


def _pieces(text: str) -> tuple[str, ...]:
    # NFKC so that full-width and compatibility forms become the letters the indexes see.
    return tuple(_WORD.findall(unicodedata.normalize("NFKC", text)))


def parse(text: str) -> SearchQuery:
    """Parse a websearch-style query; :class:`InvalidQuery` when there is nothing to search."""
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidQuery(f"the search query is longer than {MAX_QUERY_CHARS} characters")
    if "\x00" in text:
        raise InvalidQuery("the search query contains a NUL character")
    clauses: list[list[Term]] = []
    excluded: list[Term] = []
    pending_or = False
    for match in _TOKEN.finditer(text):
        negated = bool(match.group(1))
        quoted = match.group(2)
        bare = match.group(3)
        if bare is not None:
            if bare == "OR" or bare.lower() == "or":
                pending_or = bool(clauses)
                continue
            if bare.startswith("-") and len(bare) > 1:
                negated, bare = True, bare[1:]
            words = _pieces(bare)
        else:
            words = _pieces(quoted or "")
        if not words:
            continue  # punctuation only: nothing the index could hold
        term = Term(words)
        if negated:
            excluded.append(term)
            pending_or = False
        elif pending_or and clauses:
            clauses[-1].append(term)
            pending_or = False
        else:
            clauses.append([term])
    if len(clauses) + len(excluded) > MAX_TERMS:
        raise InvalidQuery(f"the search query has more than {MAX_TERMS} terms")
    if not clauses:
        if excluded:
            raise InvalidQuery("the search query only excludes words: add one to look for")
        raise InvalidQuery("the search query has no word to look for")
    return SearchQuery(tuple(tuple(c) for c in clauses), tuple(excluded))
