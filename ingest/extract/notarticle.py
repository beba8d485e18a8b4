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

    link_share: float = 0.5
    """Share of the text that is link text."""
    linked_headings: int = 12
    """Headings that hold a link (teasers)..."""
    prose_words: int = 100
    """...with no run of paragraphs this long anywhere on the page."""
    chrome_share: float = 0.6
    """Share of the text inside navigation, header, footer or sidebars."""
    stub_words: int = 120
    """A paywall or error page has at most this many words."""
    consent_terms: int = 8
    """Distinct consent terms in the text of a consent wall..."""
    consent_density: float = 0.08
    """...making up this share of its words."""


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
_PAYWALL = re.compile(
    r"(?:for subscribers only|subscribe (?:now|to continue|for unlimited)|continue reading"
    r"|limit of free articles|already a subscriber|subscriber-only|exklusiv für abonnenten"
    r"|weiterlesen mit|digital-abo|bereits abonnent|abo abschließen|jetzt abonnieren"
    r"|réservé aux abonnés|abonnez-vous pour lire|déjà abonné|il vous reste \d+ ?%"
    r"|exclusivo para suscriptores|suscríbete para seguir|ya eres suscriptor"
    r"|riservato agli abbonati|abbonati per continuare|sei già abbonato"
    r"|alleen voor abonnees|al abonnee|tylko dla subskrybentów|wykup subskrypcję"
    r"|exclusivo para assinantes|assine para continuar|já é assinante)",
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
        consent_terms=len({m.casefold()[:8] for m in consent}),
        consent_density=len(consent) / max(words, 1),
        paywall=bool(_PAYWALL.search(visible)),
        page_consent_terms=len({m.casefold()[:8] for m in _CONSENT.findall(visible)}),
        error=bool(_ERROR.search(head) or _ERROR.search(title_text)),
        collection=bool(structured.types & _COLLECTION_TYPES) and not structured.is_article,
        article=structured.is_article or og_type == "article",
    )


def _visible_text(tree: HtmlElement) -> str:
    """The page's text without scripts and styles (whose strings are not shown)."""
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


def _longest_prose(tree: HtmlElement) -> int:
    runs: dict[HtmlElement, int] = {}
    for p in tree.iter("p"):
        parent = p.getparent()
        if parent is not None:
            runs[parent] = runs.get(parent, 0) + count_words(p.text_content())
    return max(runs.values(), default=0)


def classify(s: Signals, t: Thresholds = THRESHOLDS) -> tuple[str, str] | None:
    """(reason, detail) when the page is not an article, else None."""
    if s.error and s.words <= t.stub_words:
        return "error_page", "the page says it is an error page"
    if s.consent_terms >= t.consent_terms and s.consent_density >= t.consent_density:
        return "consent_wall", f"{s.consent_terms} consent terms in {s.words} words"
    if s.paywall and s.words <= t.stub_words:
        return "paywall_stub", f"a subscription prompt and {s.words} words"
    if s.link_share >= t.link_share:
        return "link_list", f"{s.link_share:.0%} of the text is link text"
    if s.linked_headings >= t.linked_headings and s.longest_prose < t.prose_words:
        return "link_list", (
            f"{s.linked_headings} headings are links, no more than {s.longest_prose} words "
            "of prose in one place"
        )
    if s.collection and s.longest_prose < t.prose_words:
        return "link_list", "the page's structured data calls it a collection"
    if s.chrome_share >= t.chrome_share:
        return "navigation", f"{s.chrome_share:.0%} of the text is the site's navigation"
    return None


def check(
    tree: HtmlElement, text: str, structured: StructuredData, t: Thresholds = THRESHOLDS
) -> None:
    """Raise :class:`NotAnArticle` when the page is not an article."""
    verdict = classify(signals(tree, text, structured), t)
    if verdict is not None:
        reason, detail = verdict
        raise NotAnArticle(detail, reason=reason)
