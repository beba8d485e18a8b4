"""Routing by language through the entity stage, and entities that meet across languages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from schemas.db import make_engine, upgrade
from schemas.models import Article, Entity, Mention
from tests.support.factories import seed_extracted as seed
from tests.support.nlpmodel import build_ruler_model
from workers import languages
from workers.entities import process_batch
from workers.nlp import BUNDLED_SET, load_pipeline

pytestmark = pytest.mark.integration

PATTERNS = {
    "en": [("Emmanuel Macron", "PERSON"), ("Berlin", "GPE"), ("Airbus", "ORG")],
    "de": [("Emmanuel Macron", "PER"), ("Berlin", "LOC"), ("Airbus", "ORG")],
}
ENGLISH = "President Emmanuel Macron arrived in Berlin on Monday to talk to Airbus."
GERMAN = "Der französische Präsident Emmanuel Macron ist am Montag in Berlin eingetroffen."
ITALIAN = "Il presidente Emmanuel Macron è arrivato lunedì a Berlino per parlare con Airbus."


@pytest.fixture
def engine(database_url: str) -> Any:
    upgrade(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    for lang, patterns in PATTERNS.items():
        build_ruler_model(tmp_path, lang, patterns)
    monkeypatch.setattr(languages, "MODELS_DIR", tmp_path)
    return load_pipeline(BUNDLED_SET)


def test_articles_go_to_their_languages_model(engine: Any, models: Any) -> None:
    declared = seed(engine, [GERMAN], language="de", prefix="d")  # the page says German
    detected = seed(engine, [GERMAN.replace("Montag", "Dienstag"), ENGLISH], prefix="x")
    uncovered = seed(engine, [ITALIAN], prefix="i")
    outcome = process_batch(engine, models, declared + detected + uncovered)
    assert (outcome.stats.processed, outcome.stats.skipped) == (3, 1)
    with Session(engine) as conn:
        rows = {a.url_hash: a for a in conn.exec(select(Article)).all()}
        assert [rows[h].language for h in declared + detected] == ["de", "de", "en"]
        italian = rows[uncovered[0]]
        assert (italian.status, italian.language) == ("skipped", "it")
        assert (italian.status_reason or "").startswith("language_not_covered: it")
        assert "de, en" in (italian.status_reason or "")


def test_a_german_and_an_english_article_share_one_person(engine: Any, models: Any) -> None:
    hashes = seed(engine, [ENGLISH], language="en", prefix="e")
    hashes += seed(engine, [GERMAN], language="de", prefix="g")
    process_batch(engine, models, hashes)
    with Session(engine) as conn:
        macron = conn.exec(select(Entity).where(Entity.key == "emmanuel macron")).all()
        assert [(e.label, e.name) for e in macron] == [("PERSON", "Emmanuel Macron")]
        model_labels = conn.exec(
            select(Mention.model_label).where(Mention.entity_id == macron[0].id)
        ).all()
        assert sorted(model_labels) == ["PER", "PERSON"]  # type: ignore[type-var]
        berlin = conn.exec(select(Entity.label).where(Entity.key == "berlin")).all()
        assert berlin == ["LOC"]  # GPE (en) and LOC (de) are one place
