"""Not-an-article checks on hand-made pages: each kind is refused with its own reason, and
an article with plenty of links and boxes around it is not."""

from __future__ import annotations

import json

import pytest

from ingest.extract import ExtractOptions, extract_article
from ingest.extract.notarticle import THRESHOLDS, Signals, classify
from schemas.errors import NotAnArticle

URL = "https://news.example.com/politics/"

PARAGRAPHS = [
    "The regional parliament approved the new budget on Thursday after a debate that lasted "
    "well into the night and ended with a narrow vote along party lines.",
    "The opposition had demanded more money for schools and hospitals, arguing that the "
    "government's plan cut too deeply into services that families rely on every day.",
    "The finance minister defended the figures, saying that the region had to reduce its "
    "debt before interest rates rose any further and made borrowing more expensive.",
    "Several members of the governing coalition voted against their own leadership, a rare "
    "sign of dissent that commentators said could weaken the government next year.",
    "The budget now goes to the upper chamber, which is expected to approve it next month "
    "without changes, according to officials familiar with the schedule.",
]
HEADLINES = [
    f"{topic} {event} in the {place} after {reason}"
    for topic, event, place, reason in zip(
        ["Council", "Minister", "Court", "Union", "Police", "Mayor"] * 6,
        ["backs plan", "resigns", "rules", "strikes", "investigates", "promises change"] * 6,
        ["north", "capital", "harbour district", "old town", "suburbs", "valley"] * 6,
        [f"week {n} of talks" for n in range(36)],
        strict=True,
    )
]

CHROME_TOP = """<header class="site-header"><a href="/">The Example Gazette</a>
<nav class="main-nav"><ul>
<li><a href="/politics">Politics</a></li><li><a href="/business">Business</a></li>
<li><a href="/sport">Sport</a></li><li><a href="/culture">Culture</a></li>
<li><a href="/opinion">Opinion</a></li></ul></nav></header>"""
CHROME_BOTTOM = """<footer class="site-footer"><p>Copyright 2024 The Example Gazette.</p>
<p><a href="/privacy">Privacy policy</a> | <a href="/imprint">Imprint</a></p></footer>"""


def page(content: str, head: str = "", title: str = "The Example Gazette") -> str:
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
        f"{head}</head><body>{CHROME_TOP}<main>{content}</main>{CHROME_BOTTOM}</body></html>"
    )


def article(extra: str = "", head: str = "") -> str:
    body = "".join(f"<p>{p}</p>" for p in PARAGRAPHS * 2)
    return page(f"<article><h1>Parliament passes the budget</h1>{body}</article>{extra}", head)


def reason(html: str) -> str | None:
    try:
        extract_article(html, url=URL)
    except NotAnArticle as exc:
        return exc.reason
    return None


def test_an_article_with_related_links_and_boxes_is_an_article() -> None:
    related = "".join(f"<li><a href='/a/{n}'>{h}</a></li>" for n, h in enumerate(HEADLINES[:10]))
    extra = f"<aside class='related'><h2>Most read</h2><ul>{related}</ul></aside>"
    assert reason(article(extra)) is None


def test_a_section_front_of_teasers_is_a_link_list() -> None:
    teasers = "".join(
        f"<article class='teaser'><h2><a href='/a/{n}'>{h}</a></h2>"
        f"<p>{PARAGRAPHS[n % 5][:90]}</p></article>"
        for n, h in enumerate(HEADLINES[:30])
    )
    assert reason(page(f"<h1>Politics</h1><div class='river'>{teasers}</div>")) == "link_list"


def test_a_tag_page_of_headline_links_is_a_link_list() -> None:
    items = "".join(
        f"<li><a href='/a/{n}'>{h}</a> 12.01.2024</li>" for n, h in enumerate(HEADLINES)
    )
    html = page(f"<h1>Articles tagged “budget”</h1><ul class='list'>{items}</ul>")
    assert reason(html) == "link_list"


def test_a_consent_wall_is_refused() -> None:
    dialog = (
        "<div id='consent' role='dialog'><h2>We value your privacy</h2>"
        "<p>We and our 842 partners store and/or access information on a device, such as "
        "cookies, and process personal data, such as unique identifiers, for personalised "
        "advertising and content, advertising measurement and audience research.</p>"
        "<p>You may click to consent to our and our partners' processing, or access more "
        "detailed information and change your preferences before consenting.</p>"
        "<button>Accept all</button><button>Reject all</button></div>"
    )
    assert reason(page(dialog)) == "consent_wall"


@pytest.mark.parametrize(
    "box",
    [
        "<p>This article is for subscribers only.</p><p>Subscribe now for unlimited access "
        "to all our journalism. Already a subscriber? Log in.</p>",
        "<p>Dieser Artikel ist exklusiv für Abonnenten.</p><p>Jetzt weiterlesen mit F+: "
        "Zugang zu allen Artikeln, jederzeit kündbar.</p>",
        "<p>Cet article est réservé aux abonnés. Il vous reste 85 % de cet article à lire.</p>",
    ],
)
def test_a_paywall_stub_holding_only_a_lead_is_refused(box: str) -> None:
    content = (
        f"<article><h1>Parliament passes the budget</h1><p class='lead'>{PARAGRAPHS[0]}</p>"
        f"<div class='paywall'>{box}</div></article>"
    )
    assert reason(page(content)) == "paywall_stub"


def test_the_same_prompt_under_a_whole_article_is_not_a_stub() -> None:
    box = "<div class='paywall'><p>This article is for subscribers only.</p></div>"
    assert reason(article(box)) is None


@pytest.mark.parametrize(
    ("heading", "text"),
    [
        ("Page not found", "Sorry, we couldn't find the page you were looking for."),
        ("Seite nicht gefunden", "Die von Ihnen aufgerufene Seite existiert leider nicht."),
        ("Página no encontrada", "Lo sentimos, la página que buscas no existe."),
    ],
)
def test_an_error_page_served_with_200_is_refused(heading: str, text: str) -> None:
    content = f"<h1>{heading}</h1><p>{text} Try the search or go back to the homepage.</p>"
    assert reason(page(content, title=f"{heading} | The Example Gazette")) == "error_page"


def test_a_page_of_menus_is_navigation() -> None:
    menu = "".join(f"<div>Section {n}</div>" for n in range(40))
    html = (
        "<!DOCTYPE html><html><head><title>Sitemap</title></head><body>"
        f"<div class='content'>{menu}</div></body></html>"
    )
    assert reason(html) in {"navigation", "too_short", "link_list"}


def test_a_declared_article_is_not_refused_for_its_shape() -> None:
    ld = json.dumps({"@type": "NewsArticle", "headline": "Budget"})
    head = f"<script type='application/ld+json'>{ld}</script>"
    items = "".join(f"<li><a href='/a/{n}'>{h}</a></li>" for n, h in enumerate(HEADLINES))
    html = page(f"<h1>Budget</h1><p>{PARAGRAPHS[0]}</p><ul>{items}</ul>", head=head)
    assert reason(html) is None


def test_the_checks_can_be_turned_off() -> None:
    items = "".join(f"<li><a href='/a/{n}'>{h}</a></li>" for n, h in enumerate(HEADLINES))
    html = page(f"<ul>{items}</ul>")
    assert reason(html) == "link_list"
    options = ExtractOptions(detect_not_article=False)
    assert extract_article(html, url=URL, options=options).word_count > 100


def signals(**changes: object) -> Signals:
    base: dict[str, object] = {
        "words": 400,
        "lines": 10,
        "link_share": 0.0,
        "short_line_share": 0.0,
        "longest_prose": 300,
        "teaser_share": 0.0,
        "consent_terms": 0,
        "consent_density": 0.0,
        "paywall": False,
        "page_consent_terms": 0,
        "error": False,
        "collection": False,
        "article": False,
    }
    base.update(changes)
    return Signals(**base)  # type: ignore[arg-type]


def test_classify_thresholds() -> None:
    t = THRESHOLDS
    assert classify(signals()) is None
    listy = {"link_share": t.list_share, "longest_prose": t.list_prose_words - 1}
    assert classify(signals(**listy)) is not None
    assert classify(signals(**{**listy, "longest_prose": t.list_prose_words})) is None
    assert classify(signals(**{**listy, "article": True})) is None
    assert classify(signals(paywall=True, words=t.stub_words))[0] == "paywall_stub"  # type: ignore[index]
    assert classify(signals(paywall=True, words=t.stub_words + 1)) is None
    assert classify(signals(error=True, words=t.error_words, article=True)) is not None
