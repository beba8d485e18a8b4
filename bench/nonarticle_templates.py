"""Hand-written non-article content in the styles of several publishers and languages.

Used by :mod:`bench.nonarticles`, which puts it into a corpus page's own chrome. The texts
are written for this project (paraphrasing the kind of wording such pages use), not copied
from any site.
"""

from __future__ import annotations

import html
import random
from collections.abc import Sequence

LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pl", "pt")


def escape(text: str) -> str:
    return html.escape(text, quote=True)


def _slug(text: str) -> str:
    return "-".join("".join(c for c in w.lower() if c.isalnum()) for w in text.split()[:8])


# --------------------------------------------------------------------------- link lists

_SECTION = {
    "en": ("Politics", "Latest news", "Read more", "Load more stories"),
    "de": ("Politik", "Neueste Meldungen", "Weiterlesen", "Mehr laden"),
    "fr": ("Politique", "Dernières actualités", "Lire la suite", "Voir plus d'articles"),
    "es": ("Política", "Últimas noticias", "Leer más", "Cargar más noticias"),
    "it": ("Politica", "Ultime notizie", "Leggi tutto", "Carica altri articoli"),
    "nl": ("Politiek", "Laatste nieuws", "Lees meer", "Meer laden"),
    "pl": ("Polityka", "Najnowsze wiadomości", "Czytaj więcej", "Pokaż więcej"),
    "pt": ("Política", "Últimas notícias", "Leia mais", "Carregar mais"),
}
_TAG = {
    "en": "Articles tagged “{}”",
    "de": "Artikel zum Thema „{}“",
    "fr": "Articles sur le thème « {} »",
    "es": "Noticias sobre «{}»",
    "it": "Articoli con tag «{}»",
    "nl": "Artikelen over ‘{}’",
    "pl": "Artykuły z tagiem „{}”",
    "pt": "Notícias sobre “{}”",
}
_AUTHOR = {
    "en": ("All articles by {}", "{} is a reporter covering politics and the economy."),
    "de": ("Alle Artikel von {}", "{} ist Redakteurin im Ressort Politik und Wirtschaft."),
    "fr": ("Tous les articles de {}", "{} est journaliste au service politique."),
    "es": ("Artículos de {}", "{} es periodista de la sección de Política."),
    "it": ("Tutti gli articoli di {}", "{} è giornalista della redazione politica."),
    "nl": ("Alle artikelen van {}", "{} is verslaggever politiek en economie."),
    "pl": ("Wszystkie artykuły autora {}", "{} jest dziennikarzem działu politycznego."),
    "pt": ("Todos os artigos de {}", "{} é repórter de política e economia."),
}
_LIVE = {
    "en": "Live: all our live coverage",
    "de": "Liveblog: alle Ticker im Überblick",
    "fr": "En direct : tous nos suivis",
    "es": "En directo: todas las coberturas",
    "it": "Diretta: tutte le dirette",
    "nl": "Live: al onze liveblogs",
    "pl": "Na żywo: wszystkie relacje",
    "pt": "Ao vivo: todas as coberturas",
}
_SEARCH = {
    "en": ("Search results for “{}”", "{} results", "Sort by relevance"),
    "de": ("Suchergebnisse für „{}“", "{} Treffer", "Sortieren nach Relevanz"),
    "fr": ("Résultats de recherche pour « {} »", "{} résultats", "Trier par pertinence"),
    "es": ("Resultados de búsqueda para «{}»", "{} resultados", "Ordenar por relevancia"),
    "it": ("Risultati della ricerca per «{}»", "{} risultati", "Ordina per rilevanza"),
    "nl": ("Zoekresultaten voor ‘{}’", "{} resultaten", "Sorteer op relevantie"),
    "pl": ("Wyniki wyszukiwania dla „{}”", "{} wyników", "Sortuj według trafności"),
    "pt": ("Resultados da pesquisa para “{}”", "{} resultados", "Ordenar por relevância"),
}
_NAMES = ("Anna Keller", "Jonas Weber", "Claire Martin", "Lucía Romero", "Marco Bianchi")


def link_list(
    style: str,
    lang: str,
    items: Sequence[str],
    sentences: Sequence[str],
    site: str,
    rng: random.Random,
) -> tuple[str, str]:
    """(content HTML, page title) of a list of headline links."""
    section, latest, more, load = _SECTION[lang]
    topic = items[0].split()[0] if items else section
    if style == "tag":
        heading = _TAG[lang].format(topic)
    elif style == "author":
        heading = _AUTHOR[lang][0].format(rng.choice(_NAMES))
    elif style == "liveblog":
        heading = _LIVE[lang]
    elif style == "search":
        heading = _SEARCH[lang][0].format(topic)
    else:
        heading = section
    parts = [f"<h1>{escape(heading)}</h1>"]
    if style == "author":
        name = heading.split()[-1]
        parts.append(f"<p class='author-bio'>{escape(_AUTHOR[lang][1].format(name))}</p>")
    if style == "search":
        count = _SEARCH[lang][1].format(rng.randint(40, 900))
        parts.append(f"<p class='search-meta'>{escape(count)} · {escape(_SEARCH[lang][2])}</p>")
    if style == "section":
        parts.append(f"<h2>{escape(latest)}</h2>")
    teaser_share = rng.choice((0.0, 0.3, 0.6, 0.9))
    markup = rng.choice(("teasers", "ul", "divs"))
    tag = "ul" if markup == "ul" else "div"
    parts.append(f"<{tag} class='{rng.choice(('teaser-list', 'river', 'articles', 'stream'))}'>")
    for number, item in enumerate(items):
        href = f"/{_slug(section)}/{2020 + number % 4}/{_slug(item)}-{1000 + number}"
        link = f"<a href='{escape(href)}'>{escape(item)}</a>"
        teaser = ""
        if sentences and rng.random() < teaser_share:
            teaser = " ".join(rng.sample(list(sentences), k=min(len(sentences), rng.randint(1, 2))))
            teaser = " ".join(teaser.split()[:40])
        stamp = f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.{rng.randint(2019, 2023)}"
        if style == "liveblog":
            stamp = f"{rng.randint(6, 23):02d}:{rng.randint(0, 59):02d}"
        if markup == "ul":
            extra = f" <span class='date'>{stamp}</span>" if rng.random() < 0.5 else ""
            parts.append(f"<li>{link}{extra}</li>")
        elif markup == "teasers":
            parts.append(
                f"<article class='teaser'><span class='kicker'>{escape(section)}</span>"
                f"<h3>{link}</h3>"
                + (f"<p class='teaser-text'>{escape(teaser)}</p>" if teaser else "")
                + f"<time>{stamp}</time></article>"
            )
        else:
            parts.append(
                f"<div class='item'><h2 class='title'>{link}</h2>"
                + (
                    f"<p>{escape(teaser)} <a href='{escape(href)}'>{escape(more)}</a></p>"
                    if teaser
                    else ""
                )
                + "</div>"
            )
    parts.append(f"</{tag}>")
    parts.append(f"<p class='pager'><a href='?page=2'>{escape(load)}</a></p>")
    return "".join(parts), f"{heading} | {site}"


# The walls live in their own module; the set builder finds every page kind here.
from bench.nonarticle_walls import consent, error, paywall  # noqa: E402, F401
