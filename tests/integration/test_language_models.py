"""Each bundled language model loads offline and finds the people, organisations and places
of a few sentences written for this test, under the common labels."""

from __future__ import annotations

import pytest

from workers.languages import installed
from workers.nlp import load_pipeline

# Per language: a short news paragraph and the (label, key) entities it must yield.
# fmt: off
SENTENCES: dict[str, tuple[str, set[tuple[str, str]]]] = {
    "de": (
        "Bundeskanzler Olaf Scholz hat am Dienstag in Berlin mit Vertretern von Siemens "
        "gesprochen. Danach reiste Scholz nach München.",
        {("PERSON", "olaf scholz"), ("LOC", "berlin"), ("ORG", "siemens"), ("LOC", "münchen")},
    ),
    "fr": (
        "Le président Emmanuel Macron a reçu mardi à Paris les dirigeants de Renault. "
        "Il se rendra ensuite à Marseille.",
        {("PERSON", "emmanuel macron"), ("LOC", "paris"), ("ORG", "renault"), ("LOC", "marseille")},
    ),
    "es": (
        "El presidente Pedro Sánchez se reunió el martes en Madrid con directivos de Telefónica. "
        "Después viajó a Barcelona.",
        {
            ("PERSON", "pedro sánchez"),
            ("LOC", "madrid"),
            ("ORG", "telefónica"),
            ("LOC", "barcelona"),
        },
    ),
    "pt": (
        "O presidente Luiz Inácio Lula da Silva reuniu-se na terça-feira em Brasília com "
        "diretores da Petrobras. Depois viajou para São Paulo.",
        {
            ("PERSON", "luiz inácio lula da silva"),
            ("LOC", "brasília"),
            ("ORG", "petrobras"),
            ("LOC", "são paulo"),
        },
    ),
    "nl": (
        "Mark Rutte sprak dinsdag in Den Haag met bestuurders van Philips. "
        "Daarna reisde hij naar Amsterdam.",
        {("PERSON", "mark rutte"), ("LOC", "den haag"), ("ORG", "philips"), ("LOC", "amsterdam")},
    ),
}
# fmt: on
#: Of each paragraph's entities, how many a model must find with the right label and span
#: (the Dutch model 0.1.0 calls Philips a place, and took "Premier Mark Rutte" for an ORG).
MIN_FOUND = 3


@pytest.mark.parametrize("lang", sorted(SENTENCES))
def test_a_language_model_finds_people_organisations_and_places(lang: str) -> None:
    folder = installed().get(lang)
    if folder is None:
        pytest.fail(f"no bundled model for {lang}")
    pipeline = load_pipeline(str(folder))
    assert pipeline.covers(lang)
    text, wanted = SENTENCES[lang]
    [ents] = pipeline.entities([text])
    found = {(e.label, e.key) for e in ents}
    assert len(found & wanted) >= MIN_FOUND, (found, wanted)
    assert {e.label for e in ents} <= {"PERSON", "ORG", "LOC"}
    assert {e.model_label for e in ents} <= {"PER", "ORG", "LOC"}
