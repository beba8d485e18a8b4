"""Pages that are not an article, recognised by what they show.

A page can hand trafilatura plenty of text and still not be an article: a section front or
tag page is a list of headline links, a consent wall is a dialog about cookies, a paywall
stub is a headline, a lead and a subscription box, a soft 404 is an error message with the
site's chrome, and some pages are nothing but menus. None of that may be stored as an
article. :func:`check` raises :class:`~schemas.errors.NotAnArticle` with one of these
reasons, and returns quietly otherwise:

``error_page``    "page not found" (and the like) in the headline, with little text
``consent_wall``  most of the text is about cookies, consent and partners
``paywall_stub``  a subscription prompt and little else: the lead of an article at most
``link_list``     most of the text is the text of links (headlines), or many headings are
                  links (a river of teasers), or the page calls itself a collection
``navigation``    the text is short lines of a few words: menus, not prose

The signals are the page's own (link text, lines, headings, JSON-LD ``@type``,
``og:type``), never a list of sites. The thresholds in :data:`THRESHOLDS` were chosen on
one half of a labelled set (``bench/nonarticles.py``) and checked on the other half and on
the 990 articles of the evaluation corpus, where they must keep refusing no more than
before. A page whose JSON-LD says it is an article needs stronger evidence to be refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml.html import HtmlElement

from ingest.extract.jsonld import StructuredData
from ingest.extract.words import count_words
from schemas.errors import NotAnArticle

__all__ = ["THRESHOLDS", "Signals", "Thresholds", "check", "signals"]


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
    consent_terms: int = 4
    """Distinct consent terms in the text of a consent wall..."""
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


@dataclass(frozen=True, slots=True)
class Signals:
    words: int
    lines: int
    link_share: float
    """Share of the text's characters that are the text of a link (of 3+ words)."""
    chrome_share: float
    """Share of the text's characters in the page's navigation, header, footer, sidebars."""
    short_line_share: float
    """Share of the text's lines of at most four words."""
    linked_headings: int
    """Headings (h2-h4) that hold a link: the teasers of a list."""
    longest_prose: int
    """Words of the longest run of paragraphs under one parent element."""
    teaser_share: float
    """Share of the text's characters inside teasers: five or more sibling elements alike
    (tag and class), each a headline link with at most a few lines of text."""
    consent_terms: int
    consent_density: float
    """Consent vocabulary per word."""
    paywall: bool
    """A subscription prompt on the page."""
    page_consent_terms: int
    """Distinct consent terms in the page's visible text (a consent dialog)."""
    error: bool
    collection: bool
    article: bool


# the words of consent dialogs (cookie banners, TCF walls) in the languages we ingest
_CONSENT = re.compile(
    r"\b(?:cookies?|consent|consentement|consentimiento|consenso|einwilligung|zustimmung"
    r"|toestemming|zgod[aęy]|consentimento|partners?|partenaires|socios|partner[ns]?|parceiros"
    r"|personali[sz]ed|personnalisé|personalizad|personalizzat|personalisierte?|gepersonaliseerde"
    r"|spersonalizowan|privacy|datenschutz|confidentialité|privacidad|prywatno|privacidade"
    r"|preferences|préférences|preferencias|preferenze|einstellungen|voorkeuren|ustawienia"
    r"|advertising|publicités?|werbung|anuncios|pubblicità|advertenties|reklam|anúncios"
    r"|accept(?:er)?|akzeptieren|aceptar|accetta|akkoord|akceptuj|aceitar|reject|ablehnen"
    r"|rechazar|rifiuta|weigeren|odrzuć|recusar|refuser|tracking|vendors?|identifiers?"
    r"|geolocation|device|appareil|dispositivo|gerät|apparaat|urządzeni"
    # pay-or-consent walls: accept tracking or pay for the ad-free version
    r"|werbefrei|ad-free|sans publicité|sin publicidad|pur-abo|contentpass)\w*",
    re.IGNORECASE,
)
# wording that says the rest of the page is locked (not a menu's "Subscribe" link)
_PAYWALL = re.compile(
    r"(?:for subscribers only|subscriber-only|subscribe (?:now )?(?:to continue|for unlimited)"
    r"|to continue reading,? (?:please )?(?:subscribe|log in|sign in|create)|limit of free articles"
    r"|exklusiv für abonnenten|nur für abonnenten|weiterlesen mit|artikel ist exklusiv"
    r"|réservé aux abonnés|abonnez-vous pour lire|il vous reste \d+ ?% de cet article"
    r"|exclusivo para suscriptores|suscríbete para seguir|riservato agli abbonati"
    r"|abbonati per continuare|alleen voor abonnees|tylko dla subskrybentów"
    r"|exclusivo para assinantes|assine para continuar)",
    re.IGNORECASE,
)
_ERROR = re.compile(
    r"(?:\b404\b|page not found|page (?:cannot|could not) be found|couldn't find the page"
    r"|something went wrong|temporarily unavailable|error 500|seite nicht gefunden"
    r"|seite existiert (?:leider )?nicht|fehler 404|page introuvable|n'existe pas|erreur 404"
    r"|página no encontrada|no existe o ha sido|error 404|pagina non trovata|errore 404"
    r"|pagina niet gevonden|bestaat niet|nie znaleziono strony|błąd 404"
    r"|página não encontrada|não existe ou foi|erro 404)",
    re.IGNORECASE,
)
_COLLECTION_TYPES = frozenset(
    {"collectionpage", "searchresultspage", "profilepage", "itemlist", "blog", "mediagallery"}
)
_MAX_ANCHORS = 5000
_MAX_HEADINGS = 500


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


_CHROME_TAGS = frozenset({"nav", "header", "footer", "aside"})
_CHROME_ROLES = frozenset({"navigation", "banner", "contentinfo", "menu", "menubar"})
_CHROME_TOKENS = frozenset(
    {"nav", "navbar", "navigation", "menu", "footer", "sidebar", "breadcrumb", "breadcrumbs"}
)
_TOKEN = re.compile(r"[\s_-]+")


def signals(tree: HtmlElement, text: str, structured: StructuredData) -> Signals:
    """What the page shows, measured once."""
    flat = _norm(text)
    total = len(flat) or 1
    anchors: set[str] = set()
    for number, link in enumerate(tree.iter("a")):
        if number >= _MAX_ANCHORS:
            break
        anchor = _norm(link.text_content())
        if len(anchor.split()) >= 3:
            anchors.add(anchor)
    linked = sum(len(anchor) for anchor in anchors if anchor in flat)
    lines = [line for line in (_norm(line) for line in text.split("\n")) if line]
    chrome = _chrome_text(tree)
    in_chrome = sum(len(line) for line in lines if len(line) > 3 and line in chrome)
    short = sum(1 for line in lines if count_words(line) <= 4)
    headings = 0
    for number, heading in enumerate(tree.iter("h2", "h3", "h4")):
        if number >= _MAX_HEADINGS:
            break
        if heading.find(".//a") is not None:
            headings += 1
    words = count_words(text)
    head = " ".join(lines[:6])
    title = tree.find(".//title")
    title_text = _norm(title.text_content()) if title is not None else ""
    h1 = tree.find(".//h1")
    if h1 is not None:
        title_text += " | " + _norm(h1.text_content())
    og_type = ""
    for meta in tree.iterfind(".//meta[@content]"):
        if (meta.get("property") or meta.get("name") or "").lower() == "og:type":
            og_type = _norm(meta.get("content") or "")
            break
    consent = _CONSENT.findall(text)
    visible = _visible_text(tree)
    return Signals(
        words=words,
        lines=len(lines),
        link_share=min(1.0, linked / total),
        chrome_share=min(1.0, in_chrome / total),
        short_line_share=short / len(lines) if lines else 0.0,
        linked_headings=headings,
        longest_prose=_longest_prose(tree),
        teaser_share=_teaser_share(tree, lines, total),
        consent_terms=len({m.casefold()[:8] for m in consent}),
        consent_density=len(consent) / max(words, 1),
        paywall=bool(_PAYWALL.search(visible)),
        page_consent_terms=len({m.casefold()[:8] for m in _CONSENT.findall(visible)}),
        error=bool(_ERROR.search(head) or _ERROR.search(title_text)),
        collection=bool(structured.types & _COLLECTION_TYPES) and not structured.is_article,
        article=structured.is_article or og_type == "article",
    )


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


def _chrome_text(tree: HtmlElement) -> str:
    """The text of the page's navigation, header, footer and sidebars (the outermost such
    elements; never one that holds an ``<article>``/``<main>`` or most of the page)."""
    body = tree.find(".//body")
    if body is None:
        return ""
    limit = len(body.text_content()) // 2
    parts = []
    stack = [body]
    while stack:
        element = stack.pop()
        for child in element:
            if not isinstance(child.tag, str):
                continue
            if _is_chrome(child):
                text = child.text_content()
                if len(text) <= limit and child.find(".//article") is None:
                    parts.append(_norm(text))
                    continue
            stack.append(child)
    return " | ".join(parts)


def _is_chrome(element: HtmlElement) -> bool:
    if element.tag in _CHROME_TAGS or (element.get("role") or "").lower() in _CHROME_ROLES:
        return True
    names = f"{element.get('class', '')} {element.get('id', '')}".lower()
    return bool(_CHROME_TOKENS.intersection(_TOKEN.split(names)))


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


def classify(s: Signals, t: Thresholds = THRESHOLDS) -> tuple[str, str] | None:
    """(reason, detail) when the page is not an article, else None. A page that declares
    itself an article (JSON-LD article type, ``og:type`` article) is refused only for what
    it says in words (an error, a consent dialog, a paywall), never for its shape."""
    if s.error and (s.words <= t.error_words or s.longest_prose < t.stub_prose):
        return "error_page", "the page says it is an error page"
    if (s.consent_terms >= t.consent_terms and s.consent_density >= t.consent_density) or (
        s.page_consent_terms >= t.page_consent_terms and s.words <= t.stub_words
    ):
        return "consent_wall", f"a consent dialog ({s.page_consent_terms} consent terms)"
    if s.paywall and (
        s.words <= t.stub_words or (not s.article and s.longest_prose < t.stub_prose)
    ):
        return "paywall_stub", f"a subscription prompt and {s.words} words"
    if s.article:
        return None
    if s.link_share + s.teaser_share >= t.list_share and s.longest_prose < t.list_prose_words:
        return "link_list", (
            f"{s.link_share:.0%} of the text is link text, {s.teaser_share:.0%} teasers"
        )
    if s.collection and s.longest_prose < t.prose_words:
        return "link_list", "the page's structured data calls it a collection"
    if (
        s.short_line_share >= t.short_line_share
        and s.lines >= t.menu_lines
        and s.longest_prose < t.prose_words
    ):
        return "navigation", f"{s.short_line_share:.0%} of {s.lines} lines are menu items"
    return None


def check(
    tree: HtmlElement, text: str, structured: StructuredData, t: Thresholds = THRESHOLDS
) -> None:
    """Raise :class:`NotAnArticle` when the page is not an article."""
    verdict = classify(signals(tree, text, structured), t)
    if verdict is not None:
        reason, detail = verdict
        raise NotAnArticle(detail, reason=reason)
