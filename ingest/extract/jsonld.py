"""Structured data: the page's JSON-LD (schema.org), read once per page.

News sites describe the article they serve with a ``NewsArticle`` (or ``Article``,
``BlogPosting``...) object: its headline, publication date and authors are what the
publisher's own CMS says, and more reliable than anything guessed from the markup. The
``@type`` values of every object also tell what the page is (``CollectionPage``,
``SearchResultsPage``, ``ProfilePage``...), which the not-an-article checks use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lxml.html import HtmlElement

__all__ = ["ARTICLE_TYPES", "StructuredData", "read_jsonld"]

ARTICLE_TYPES = frozenset(
    {
        "article",
        "newsarticle",
        "reportagenewsarticle",
        "analysisnewsarticle",
        "opinionnewsarticle",
        "backgroundnewsarticle",
        "reviewnewsarticle",
        "asknewsarticle",
        "askpublicnewsarticle",
        "blogposting",
        "liveblogposting",
        "socialmediaposting",
        "report",
        "scholarlyarticle",
        "techarticle",
        "satiricalarticle",
        "review",
        "recipe",
        "pressrelease",
    }
)
# people write articles; these are the outlet or a desk, not a byline
_PERSON_TYPES = frozenset({"person"})
_ORG_TYPES = frozenset({"organization", "newsmediaorganization", "corporation", "website"})
_MAX_SCRIPTS = 20
_MAX_CHARS = 500_000
_MAX_DEPTH = 12


@dataclass(frozen=True, slots=True)
class StructuredData:
    types: frozenset[str]
    """Every ``@type`` on the page, casefolded."""
    headline: str | None = None
    date_published: str | None = None
    authors: tuple[str, ...] = ()
    """Names of the article's ``Person`` authors (and plain-string authors)."""
    organisations: tuple[str, ...] = ()
    """Names of organisations named as author or publisher: never a person's byline."""

    @property
    def is_article(self) -> bool:
        return bool(self.types & ARTICLE_TYPES)


_EMPTY = StructuredData(frozenset())
_COMMENT = re.compile(r"^\s*(?:<!--|//\s*<!\[CDATA\[|<!\[CDATA\[)|(?:-->|//\s*\]\]>|\]\]>)\s*$")


def read_jsonld(tree: HtmlElement) -> StructuredData:
    """What the page's JSON-LD says about its article; empty when it has none (or none that
    parses)."""
    objects: list[dict[str, Any]] = []
    for number, script in enumerate(tree.iterfind(".//script[@type]")):
        if number >= 4 * _MAX_SCRIPTS:
            break
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        raw = script.text or ""
        if not raw.strip() or len(raw) > _MAX_CHARS:
            continue
        data = _loads(raw)
        if data is not None:
            objects.extend(_objects(data, 0))
        if len(objects) > 200:
            break
    if not objects:
        return _EMPTY
    types: set[str] = set()
    for obj in objects:
        types.update(_types(obj))
    articles = [obj for obj in objects if _types(obj) & ARTICLE_TYPES]
    if not articles:
        return StructuredData(frozenset(types))
    # several articles (a teaser list, a related one): the one with the most to say
    article = max(articles, key=lambda obj: ("headline" in obj, "datePublished" in obj))
    people, orgs = _people(article.get("author"))
    _, publishers = _people(article.get("publisher"))
    return StructuredData(
        types=frozenset(types),
        headline=_string(article.get("headline")) or _string(article.get("name")),
        date_published=_string(article.get("datePublished")) or _string(article.get("dateCreated")),
        authors=people,
        organisations=orgs + publishers,
    )


def _loads(raw: str) -> Any:
    text = "\n".join(line for line in raw.strip().splitlines() if not _COMMENT.fullmatch(line))
    try:
        return json.loads(text, strict=False)
    except ValueError:
        pass
    # common CMS slips: a trailing comma, several objects one after another
    try:
        return json.loads(re.sub(r",\s*([\]}])", r"\1", text), strict=False)
    except ValueError:
        return None


def _objects(data: Any, depth: int) -> Iterator[dict[str, Any]]:
    """Every JSON object that has a ``@type``: top level, ``@graph``, and nested (an article
    as ``mainEntity`` of a ``WebPage``)."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(data, list):
        for item in data[:200]:
            yield from _objects(item, depth + 1)
    elif isinstance(data, dict):
        if "@type" in data:
            yield data
        for key in ("@graph", "mainEntity", "mainEntityOfPage", "itemListElement", "hasPart"):
            if key in data:
                yield from _objects(data[key], depth + 1)


def _types(obj: dict[str, Any]) -> set[str]:
    value = obj.get("@type")
    values = value if isinstance(value, list) else [value]
    return {v.strip().casefold().rsplit("/", 1)[-1] for v in values if isinstance(v, str)}


def _string(value: Any) -> str | None:
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, dict):
        value = value.get("@value") or value.get("name")
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    return value or None


def _people(value: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(person names, organisation names) of an ``author`` or ``publisher`` value."""
    people: list[str] = []
    orgs: list[str] = []
    for item in (value if isinstance(value, list) else [value])[:50]:
        if isinstance(item, str):
            name = _string(item)
            if name:
                people.append(name)
        elif isinstance(item, dict):
            name = _string(item.get("name"))
            if not name:
                continue
            kinds = _types(item)
            if kinds & _ORG_TYPES and not kinds & _PERSON_TYPES:
                orgs.append(name)
            else:
                people.append(name)
    return tuple(people), tuple(orgs)
