"""Each cleaning rule, on fragments of the kind real pages carry (the boilerplate lines the
evaluation corpus marks as ``without``), and on the running text each must leave alone."""

from __future__ import annotations

import pytest

from ingest.extract.clean import DEFAULT_RULES, RULES, clean_text

BODY = (
    "The council voted on Tuesday to close the old bridge for repairs that are expected to "
    "take eleven months, longer than the engineers first estimated."
)


def cleaned(line: str, rule: str) -> str:
    return clean_text(f"{BODY}\n{line}\n{BODY}", rules=(rule,))


@pytest.mark.parametrize(
    ("rule", "line"),
    [
        ("read_more", "Read more: Recognizing Germany colonial crimes"),
        ("read_more", "Lea también: Impiden ingreso a Nicaragua a reportero y camarógrafo"),
        ("read_more", "LE PUEDE INTERESAR: La ficha de Juan Orlando Hernández en el MDC"),
        ("read_more", "VEA TAMBIÉN: Entre heces y guaricha: Estrella de la educación no brilla"),
        ("read_more", "À lire aussi"),
        ("read_more", "Czytaj też"),
        ("read_more", "NOTAS RELACIONADAS"),
        ("read_more", "Weitere Artikel zum Thema"),
        ("captions", "Crédits photos : Bestimage"),
        ("captions", "AFP / MARCO BERTORELLO"),
        ("captions", "Getty Images"),
        ("captions", "The bridge at dawn on Friday. Photograph: John Smith/Reuters"),
        ("captions", "Bild anzeigen"),
        ("promo", "Sign up to get the best content of the week"),
        ("promo", "Zum Newsletter anmelden"),
        ("promo", "Subscribe now to our eNATION edition for the full story."),
        ("promo", "Siguenos en Telegram, Instagram, Facebook y Twitter"),
        ("promo", "Follow The Gleaner on Twitter and Instagram @JamaicaGleaner"),
        ("promo", "Pour lire la suite"),
        ("byline", "By Jane Doe"),
        ("byline", "Von Anna Keller"),
        ("byline", "3:59 PM"),
        ("byline", "23.10.2018"),
        ("byline", "Aktualisiert am 27.01.2022 um 14:05 Uhr"),
        ("chrome", "Teilen mit:"),
        ("chrome", "View Comments"),
        ("chrome", "Keine Kommentare"),
        ("chrome", "Category : Press Releases"),
        ("copyright", "This article is the copyrighted property of Breaking Belize News."),
        ("copyright", "© 2020 ®/TM General Mills All Rights Reserved"),
    ],
)
def test_the_rule_removes_its_boilerplate_line(rule: str, line: str) -> None:
    assert cleaned(line, rule) == f"{BODY}\n{BODY}"


@pytest.mark.parametrize(
    ("rule", "line"),
    [
        # running text that mentions what a rule looks for stays
        (
            "read_more",
            "Lea el informe completo, que el consejo publicó el martes por la tarde "
            "en su web oficial junto con las actas de la sesión y los presupuestos.",
        ),
        ("read_more", "Read more about the repairs in the report the council published."),
        (
            "captions",
            "The photograph shows the bridge before the repairs began last year, when "
            "the cables were already badly corroded.",
        ),
        (
            "promo",
            "Insbesondere die Corona-Pandemie hat dazu beigetragen, dass sich Menschen "
            "auf Telegram radikalisieren, andere bedrohen oder sogar Mordaufrufe veröffentlichen.",
        ),
        (
            "promo",
            "Kapitel 121 ist nun auch online. Wie immer können die Bilder nur von "
            "Eingeloggten Usern betrachtet werden. Am Freitag folgt Kapitel 122.",
        ),
        ("byline", "Ottostraße 14"),
        ("byline", "By the end of the year the bridge will carry twice as many cars."),
        ("chrome", "Comments from residents were overwhelmingly positive."),
        ("copyright", "The band sued over the copyright of the song in 2019, and lost."),
    ],
)
def test_the_rule_leaves_running_text_alone(rule: str, line: str) -> None:
    assert cleaned(line, rule) == f"{BODY}\n{line}\n{BODY}"


def test_headline_copy_is_dropped_only_as_the_first_line() -> None:
    title = "Harbour Bridge reopens after repairs"
    text = f"{title}\n{BODY}\n{title}"
    assert clean_text(text, title=title, rules=("headline",)) == f"{BODY}\n{title}"
    assert clean_text(text, title=title, rules=DEFAULT_RULES) == text  # off by default


def test_no_rules_no_change_and_rule_names() -> None:
    text = f"Read more: elsewhere\n{BODY}"
    assert clean_text(text, rules=()) == text
    assert set(DEFAULT_RULES) < set(RULES)
    assert clean_text(text) == BODY


def test_a_credit_after_article_text_on_one_line_takes_only_itself() -> None:
    # trafilatura joins <h1>, <p> and a <figure> caption of a short story into one line
    line = (
        "Story 2 Ukraine has not commented so far on the claim, which would represent the most "
        "significant battlefield advance in nearly two years, according to officials in Kyiv "
        "and analysts. A caption under the photo. Photograph: Agency"
    )
    out = clean_text(line, rules=("captions",))
    assert out.startswith("Story 2 Ukraine has not commented")
    assert "Photograph" not in out
    # a caption alone still goes whole
    assert (
        clean_text("The bridge at dawn. Photograph: John Smith/Reuters", rules=("captions",)) == ""
    )
