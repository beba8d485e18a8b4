"""Test data: news pages, feeds, subscriptions, articles waiting for their entities, and a
wire story with its syndicated copy."""

from __future__ import annotations

import html
from typing import Any

from ingest.articles import Candidate, claim, record_extracted
from ingest.feedlist import add_feeds
from schemas.db import session_scope
from schemas.urls import url_hash

__all__ = [
    "COPY",
    "COPY_HEADLINE",
    "HEADLINE",
    "OTHER",
    "PARAGRAPHS",
    "WIRE",
    "article_page",
    "rss",
    "seed_extracted",
    "story",
    "subscribe",
]

PARAGRAPHS = [
    "US envoy Steve Witkoff is traveling to Moscow to meet with president Vladimir Putin, who "
    "claimed a key Ukrainian city had fallen on the eve of the talks about a peace plan.",
    "Mr Putin said Russian troops had taken the city of Pokrovsk in the eastern Donetsk region "
    "in a video announcement posted late Monday by the Kremlin.",
    "Ukraine has not commented so far on the claim, which would represent the most significant "
    "battlefield advance in nearly two years, according to officials in Kyiv and analysts.",
]


def article_page(
    title: str, paragraphs: list[str], *, charset: str = "utf-8", extra: str = ""
) -> str:
    """A news page trafilatura extracts: metadata in the head, boilerplate around the story."""
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return f"""<!doctype html><html lang="en"><head><meta charset="{charset}">
<title>{html.escape(title)} | Loopback Times</title>
<meta property="og:site_name" content="Loopback Times">
<meta name="author" content="Ann Writer">
<meta property="article:published_time" content="2025-12-02T08:00:00+00:00">
</head><body>
<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a></nav>
<article><h1>{html.escape(title)}</h1>{body}{extra}
<figure><figcaption>A caption under the photo. Photograph: Agency</figcaption></figure></article>
<footer>Subscribe to our newsletter. Copyright Loopback Times. All rights reserved.</footer>
</body></html>"""


def rss(items: list[tuple[str, str]], *, title: str = "Loopback feed") -> str:
    """An RSS 2.0 feed of ``(title, link)`` items."""
    entries = "".join(
        f"<item><title>{t}</title><link>{html.escape(link)}</link>"
        "<pubDate>Tue, 02 Dec 2025 09:30:00 GMT</pubDate></item>"
        for t, link in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>http://example.invalid/</link>{entries}</channel></rss>"
    )


def subscribe(engine: Any, *urls: str) -> None:
    """Add feeds, each of which must be new."""
    with session_scope(engine) as s:
        assert add_feeds(s, list(urls)).added


def seed_extracted(
    engine: Any, texts: list[str], language: str | None = None, prefix: str = "a"
) -> list[str]:
    """Articles claimed and extracted (one per text), waiting for their entities; their URL
    hashes in order."""
    hashes = []
    with engine.begin() as conn:
        cands = []
        for i, _ in enumerate(texts):
            url = f"https://news.example/{prefix}{i}"
            cands.append(Candidate(url=url, url_hash=url_hash(url), feed_id=None))
        claimed, _ = claim(conn, cands, lock_ttl=600)
        assert len(claimed) == len(texts)
        for cand, text in zip(cands, texts, strict=True):
            fields = {"text": text, "language": language, "word_count": len(text.split())}
            record_extracted(conn, cand.url_hash, fields)
            hashes.append(cand.url_hash)
    return hashes


# A fictional ~400-word wire story (written for the dedup tests) and an unrelated one.
HEADLINE = "Port board approves channel deepening"
WIRE = [
    "The regional port authority on Tuesday approved a plan to deepen the northern shipping "
    "channel and extend the container quay by four hundred metres, ending two years of "
    "public hearings over the cost and the effect on the estuary.",
    "The board voted seven to two in favour after a session that lasted more than five hours. "
    "Chair Miriam Okafor said the decision would let the port handle the larger vessels that "
    "now sail past it to deeper harbours further along the coast.",
    "Work on the channel is due to start in the spring and take about three years. The "
    "authority put the total cost at 412 million euros, of which the national infrastructure "
    "fund will cover roughly a third and private terminal operators most of the rest.",
    "Opponents, led by a coalition of fishing cooperatives and environmental groups, said the "
    "dredging would stir up decades of contaminated silt and damage the mussel beds that "
    "support several hundred jobs in the villages along the southern shore.",
    "We are not against the port, but we are against doing this in a hurry and on the cheap, "
    "said Tomas Lindqvist, who speaks for the cooperatives. He said the group would ask the "
    "administrative court to suspend the permit while its complaint is heard.",
    "The authority said the silt would be removed in sealed barges and treated on land, and "
    "that it had set aside eighteen million euros for monitoring water quality and for "
    "compensating fishers whose catches fall during the works.",
    "Shipping lines welcomed the vote. A spokesperson for one of the largest carriers calling "
    "at the port said the deeper channel would allow it to bring ships of up to sixteen "
    "metres draught directly to the quay instead of transferring cargo at sea.",
    "The city council, which owns a minority stake in the authority, is expected to confirm "
    "its share of the funding next month. Several councillors have said they want binding "
    "guarantees on local hiring before they agree to the money.",
    "Freight volumes at the port rose by nine percent last year to just over two million "
    "containers, according to figures published in March, while passenger traffic on the "
    "ferry routes to the islands remained roughly unchanged.",
    "The environment ministry must still sign off on the final dredging schedule. Officials "
    "there said they would publish their assessment before the end of the year and invite "
    "further comments from residents and businesses along the estuary.",
]
OTHER = [
    "Organisers of the city marathon said on Sunday that a record number of runners had "
    "registered for this year's race, which will for the first time finish inside the old "
    "football stadium after the usual route through the park was closed for repairs.",
    "More than eighteen thousand people have signed up, including several hundred wheelchair "
    "athletes, and the field is expected to grow further before registration closes at the "
    "end of the month, race director Paula Grant told reporters at the stadium.",
    "The new course starts by the river, crosses both bridges twice and climbs through the "
    "university district before a long descent towards the stadium, which many runners "
    "described as kinder on the legs than the steep finish of previous editions.",
    "Local businesses along the route have been asked to keep their doors open and to set up "
    "music stands, and volunteers will hand out water and fruit at twenty stations, twice as "
    "many as last year after complaints about queues in the heat.",
    "Police said several main roads would be closed from early morning until mid afternoon "
    "and advised residents to use the tram, which will run extra services with longer trains "
    "throughout the day. Parking near the stadium will not be possible.",
    "Last year's winner, a schoolteacher from the coast who trains before work, said she would "
    "defend her title but admitted that the hilly middle section suited stronger climbers. "
    "I will be happy with a personal best, she said, laughing.",
    "The race raises money for the children's hospital, which plans to spend the proceeds on "
    "a new play area and on equipment for its physiotherapy unit. Organisers hope to collect "
    "more than half a million from sponsors and private donations.",
]
# The partner's copy: its own headline, and "on Tuesday" moved in the first sentence.
COPY_HEADLINE = "Harbour channel plan gets green light"
COPY = [WIRE[0].replace("on Tuesday approved", "approved on Tuesday"), *WIRE[1:]]


def story(headline: str, paragraphs: list[str]) -> str:
    return "\n".join([headline, *paragraphs])
