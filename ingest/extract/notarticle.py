"""Pages that are not an article, recognised by what they show.

A page can hand trafilatura plenty of text and still not be an article: a section front or
tag page is a list of headline links, a consent wall is a dialog about cookies, a paywall
stub is a headline, a lead and a subscription box, a soft 404 is an error message with the
site's chrome, and some pages are nothing but menus. None of that may be stored as an
article. :func:`check` raises :class:`~schemas.errors.NotAnArticle` with one of these
reasons, and returns quietly otherwise:

``error_page``    "page not found" (and the like) in the title, headline or first lines,
                  with little text or no run of prose
``consent_wall``  the text is about cookies, consent and partners, or a short text sits
                  in a page whose own text is a consent dialog
``paywall_stub``  the page says the rest is for subscribers, and shows a lead at most
``link_list``     the text is mostly link text or teasers (headline links with a line or
                  two), or the page calls itself a collection; no run of prose anywhere
``navigation``    the text is many short lines (menus), and no run of prose anywhere

The signals are the page's own (link text, teasers, lines, runs of paragraphs, wording,
JSON-LD ``@type``, ``og:type``), never a list of sites. A page that declares itself an
article is refused only for what it says (error, consent, paywall), never for its shape.
The thresholds in :data:`THRESHOLDS` were chosen on the ``tune`` half of a labelled set
(``bench/nonarticles.py``), under the constraint of refusing none of the evaluation
corpus' 990 articles beyond the ``too_short`` ones; bench/README.md reports the other half.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

from lxml.html import HtmlElement

from ingest.extract.jsonld import StructuredData
from ingest.extract.wording import CONSENT, ERROR, PAYWALL
from ingest.extract.words import count_words
from schemas.errors import NotAnArticle

__all__ = [
    "THRESHOLDS",
    "PageSignals",
    "SignalSource",
    "Signals",
    "Thresholds",
    "check",
    "classify",
    "signals",
]


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The tuned numbers (see the module docstring for how they were chosen)."""

    stub_words: int = 100
    """A paywall stub shows at most this many words (a headline and a lead)."""
    error_words: int = 250
    """An error page says so in its headline and has at most this many words, or no run
    of paragraphs of ``stub_prose`` words."""
    stub_prose: int = 150
    """A paywall stub or an error page that does not declare itself an article may show
    more words (sidebars, teasers), but no run of paragraphs this long."""
    consent_words: int = 600
    """A consent wall's text (the dialog, and what trafilatura took around it) is no
    longer than this..."""
    consent_terms: int = 4
    """...and has this many distinct consent terms..."""
    consent_density: float = 0.06
    """...making up this share of its words; or, on the page around a short text:"""
    page_consent_terms: int = 10
    list_share: float = 0.4
    """Share of the text that is link text or inside teasers (a list of links)..."""
    list_prose_words: int = 200
    """...on a page without a run of paragraphs this long (an article's body)."""
    short_line_share: float = 0.8
    """Navigation: share of lines of at most four words..."""
    menu_lines: int = 15
    """...over at least this many lines..."""
    prose_words: int = 60
    """...with no run of paragraphs this long on the page."""


THRESHOLDS = Thresholds()


class SignalSource(Protocol):
    """What :func:`classify` reads: a :class:`Signals` or a lazy :class:`PageSignals`."""

    @property
    def words(self) -> int: ...
    @property
    def lines(self) -> int: ...
    @property
    def link_share(self) -> float: ...
    @property
    def short_line_share(self) -> float: ...
    @property
    def longest_prose(self) -> int: ...
    @property
    def teaser_share(self) -> float: ...
    @property
    def consent_terms(self) -> int: ...
    @property
    def consent_density(self) -> float: ...
    @property
    def paywall(self) -> bool: ...
    @property
    def page_consent_terms(self) -> int: ...
    @property
    def error(self) -> bool: ...
    @property
    def collection(self) -> bool: ...
    @property
    def article(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Signals:
    """Every signal of one page, measured (for the bench and the tests)."""

    words: int
    lines: int
    """Non-empty lines of the text."""
    link_share: float
    """Share of the text's characters that are the text of a link (of 3+ words)."""
    short_line_share: float
    """Share of the text's lines of at most four words."""
    longest_prose: int
    """Words of the longest run of paragraphs under one parent element."""
    teaser_share: float
    """Share of the text's characters inside teasers: five or more sibling elements alike
    (tag and class), each a headline link with at most a few lines of text."""
    consent_terms: int
    """Distinct consent terms in the text."""
    consent_density: float
    """Consent vocabulary per word of the text."""
    paywall: bool
    """Wording that says the rest of the page is for subscribers, on the page."""
    page_consent_terms: int
    """Distinct consent terms in the page's own text (a consent dialog)."""
    error: bool
    """An error message in the title, the first heading or the first lines."""
    collection: bool
    """JSON-LD calls the page a collection, search results, a profile, and no article."""
    article: bool
    """JSON-LD has an article type, or ``og:type`` is ``article``."""


_COLLECTION_TYPES = frozenset(
    {"collectionpage", "searchresultspage", "profilepage", "itemlist", "blog", "mediagallery"}
)
_MAX_ANCHORS = 5000
_MAX_HEADINGS = 500


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


class PageSignals:
    """The signals of one page, each measured when first read: :func:`check` stops at the
    first verdict, so most articles never pay for the costlier ones."""

    def __init__(self, tree: HtmlElement, text: str, structured: StructuredData) -> None:
        self._tree = tree
        self._text = text
        self._structured = structured

    @cached_property
    def _lines(self) -> list[str]:
        return [line for line in (_norm(line) for line in self._text.split("\n")) if line]

    @cached_property
    def _total(self) -> int:
        return sum(len(line) + 1 for line in self._lines) or 1

    @cached_property
    def words(self) -> int:
        return count_words(self._text)

    @cached_property
    def lines(self) -> int:
        return len(self._lines)

    @cached_property
    def link_share(self) -> float:
        flat = " ".join(self._lines)
        anchors: set[str] = set()
        for number, link in enumerate(self._tree.iter("a")):
            if number >= _MAX_ANCHORS:
                break
            anchor = _norm(link.text_content())
            if len(anchor.split()) >= 3:
                anchors.add(anchor)
        linked = sum(len(anchor) for anchor in anchors if anchor in flat)
        return min(1.0, linked / self._total)

    @cached_property
    def short_line_share(self) -> float:
        short = sum(1 for line in self._lines if count_words(line) <= 4)
        return short / len(self._lines) if self._lines else 0.0

    @cached_property
    def longest_prose(self) -> int:
        return _longest_prose(self._tree)

    @cached_property
    def teaser_share(self) -> float:
        return _teaser_share(self._tree, self._lines, self._total)

    @cached_property
    def _consent(self) -> list[str]:
        return CONSENT.findall(self._text)

    @cached_property
    def consent_terms(self) -> int:
        return len({m.casefold()[:8] for m in self._consent})

    @cached_property
    def consent_density(self) -> float:
        return len(self._consent) / max(self.words, 1)

    @cached_property
    def _visible(self) -> str:
        return _visible_text(self._tree)

    @cached_property
    def paywall(self) -> bool:
        return bool(PAYWALL.search(self._visible))

    @cached_property
    def page_consent_terms(self) -> int:
        return len({m.casefold()[:8] for m in CONSENT.findall(self._visible)})

    @cached_property
    def error(self) -> bool:
        title = self._tree.find(".//title")
        heading = self._tree.find(".//h1")
        said = " | ".join(
            [
                " ".join(self._lines[:6]),
                _norm(title.text_content()) if title is not None else "",
                _norm(heading.text_content()) if heading is not None else "",
            ]
        )
        return bool(ERROR.search(said))

    @cached_property
    def collection(self) -> bool:
        types = self._structured.types
        return bool(types & _COLLECTION_TYPES) and not self._structured.is_article

    @cached_property
    def article(self) -> bool:
        if self._structured.is_article:
            return True
        for meta in self._tree.iterfind(".//meta[@content]"):
            if (meta.get("property") or meta.get("name") or "").lower() == "og:type":
                return _norm(meta.get("content") or "") == "article"
        return False


def signals(tree: HtmlElement, text: str, structured: StructuredData) -> Signals:
    """Every signal of the page, measured now."""
    page = PageSignals(tree, text, structured)
    return Signals(**{name: getattr(page, name) for name in Signals.__slots__})


def _visible_text(tree: HtmlElement) -> str:
    """The page's own text: no scripts or styles, no links, buttons, menus, header or footer
    (where a "Subscribe" or "Privacy" link says nothing about the page)."""
    body = tree.find(".//body")
    if body is None:
        return ""
    parts = [
        str(t) for t in body.xpath(".//text()[not(ancestor::script) and not(ancestor::style)]")
    ]
    return " ".join(" ".join(parts).split())


_MIN_TEASERS = 5
_PROSE_TAGS = frozenset({"p", "br", "span", "em", "strong", "b", "i", "a", "img"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_TEASER_WORDS = 80


def _teaser_share(tree: HtmlElement, lines: list[str], total: int) -> float:
    teasers: list[str] = []
    for parent in tree.iter():
        if not isinstance(parent.tag, str) or len(parent) < _MIN_TEASERS:
            continue
        groups: dict[tuple[str, str], list[HtmlElement]] = {}
        for child in parent:
            if isinstance(child.tag, str) and child.tag not in _PROSE_TAGS:
                groups.setdefault((child.tag, child.get("class", "")), []).append(child)
        for members in groups.values():
            if len(members) < _MIN_TEASERS:
                continue
            texts = [_norm(m.text_content()) for m in members]
            headed = sum(1 for m, t in zip(members, texts, strict=True) if _is_teaser(m, t))
            if headed >= 0.6 * len(members):
                teasers.extend(texts)
    if not teasers:
        return 0.0
    joined = " | ".join(teasers)
    inside = sum(len(line) for line in lines if len(line) >= 20 and line in joined)
    return min(1.0, inside / total)


def _is_teaser(item: HtmlElement, text: str) -> bool:
    """A headline link and at most a few lines: the link opens the item, sits in a heading,
    or is a good part of its text (not a link in a sentence)."""
    if not text or count_words(text) > _TEASER_WORDS:
        return False
    for link in item.iter("a"):
        anchor = _norm(link.text_content())
        if len(anchor.split()) < 3:
            continue
        in_heading = any(a.tag in _HEADINGS for a in link.iterancestors())
        if in_heading or text.startswith(anchor) or len(anchor) >= 0.3 * len(text):
            return True
    return False


def _longest_prose(tree: HtmlElement) -> int:
    runs: dict[HtmlElement, int] = {}
    for p in tree.iter("p"):
        parent = p.getparent()
        if parent is not None:
            runs[parent] = runs.get(parent, 0) + count_words(p.text_content())
    return max(runs.values(), default=0)


def classify(s: SignalSource, t: Thresholds = THRESHOLDS) -> tuple[str, str] | None:
    """(reason, detail) when the page is not an article, else None. A page that declares
    itself an article (JSON-LD article type, ``og:type`` article) is refused only for what
    it says in words (an error, a consent dialog, a paywall), never for its shape. The
    cheaper signal of each condition is read first."""
    if s.error and (s.words <= t.error_words or s.longest_prose < t.stub_prose):
        return "error_page", "the page says it is an error page"
    if (
        s.words <= t.consent_words
        and s.consent_terms >= t.consent_terms
        and s.consent_density >= t.consent_density
    ) or (s.words <= t.stub_words and s.page_consent_terms >= t.page_consent_terms):
        return "consent_wall", "a consent dialog in place of the article"
    if (
        s.words <= t.stub_words or (not s.article and s.longest_prose < t.stub_prose)
    ) and s.paywall:
        return "paywall_stub", f"a subscription prompt and {s.words} words"
    if s.article:
        return None
    if s.longest_prose < t.list_prose_words and s.link_share + s.teaser_share >= t.list_share:
        return "link_list", (
            f"{s.link_share:.0%} of the text is link text, {s.teaser_share:.0%} teasers"
        )
    if s.collection and s.longest_prose < t.prose_words:
        return "link_list", "the page's structured data calls it a collection"
    if (
        s.lines >= t.menu_lines
        and s.longest_prose < t.prose_words
        and s.short_line_share >= t.short_line_share
    ):
        return "navigation", f"{s.short_line_share:.0%} of {s.lines} lines are menu items"
    return None


def check(
    tree: HtmlElement, text: str, structured: StructuredData, t: Thresholds = THRESHOLDS
) -> None:
    """Raise :class:`NotAnArticle` when the page is not an article."""
    verdict = classify(PageSignals(tree, text, structured), t)
    if verdict is not None:
        reason, detail = verdict
        raise NotAnArticle(detail, reason=reason)
