"""One label vocabulary, one model per language: the mapping and the router, with small
rule-based pipelines standing in for the bundled models."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.errors import ConfigError
from tests.support.nlpmodel import build_ruler_model
from workers import languages
from workers.labels import common_label, query_label
from workers.nlp import BUNDLED_SET, load_pipeline, resolve_model


@pytest.fixture
def models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    build_ruler_model(
        tmp_path, "en", [("Emmanuel Macron", "PERSON"), ("Berlin", "GPE"), ("Airbus", "ORG")]
    )
    build_ruler_model(
        tmp_path, "de", [("Emmanuel Macron", "PER"), ("Berlin", "LOC"), ("Airbus", "ORG")]
    )
    monkeypatch.setattr(languages, "MODELS_DIR", tmp_path)
    return tmp_path


def test_model_labels_map_to_one_vocabulary() -> None:
    assert common_label("PER") == common_label("PERSON") == "PERSON"
    assert common_label("GPE") == common_label("LOC") == common_label("FAC") == "LOC"
    assert common_label("ORG") == "ORG"
    assert common_label("MISC") == "MISC"
    assert common_label("DATE") == "DATE"  # English-only labels are stored as they are
    assert query_label("per") == "PERSON"
    assert query_label("GPE") == "LOC"


def test_languages_setting_is_parsed_and_resolved() -> None:
    assert languages.parse_languages(" de, EN ,,fr") == ("de", "en", "fr")
    assert languages.parse_languages(None) == ()

    class S:
        spacy_model = None
        nlp_languages = "en,de"

    assert resolve_model(S()) == f"{BUNDLED_SET}=de,en"
    S.nlp_languages = None  # type: ignore[assignment]
    assert resolve_model(S()) == BUNDLED_SET
    S.spacy_model = "/models/x"  # type: ignore[assignment]
    assert resolve_model(S()) == "/models/x"  # one configured model: as before


def test_the_set_loads_the_languages_asked_for(models_dir: Path) -> None:
    assert sorted(languages.installed()) == ["de", "en"]
    both = load_pipeline(BUNDLED_SET)
    assert both.languages == {"de", "en"}
    assert both.covers("de")
    assert both.covers("en-GB")
    assert not both.covers("it")
    assert not both.covers(None)
    assert both.version == "de9.9.9+en9.9.9"
    only_de = load_pipeline(f"{BUNDLED_SET}=de")
    assert only_de.languages == {"de"}
    with pytest.raises(ConfigError, match="no bundled NER model for it"):
        load_pipeline(f"{BUNDLED_SET}=de,it")


def test_each_text_goes_to_its_languages_model_and_labels_meet(models_dir: Path) -> None:
    pipeline = load_pipeline(BUNDLED_SET)
    texts = ["Emmanuel Macron flew to Berlin.", "Emmanuel Macron besuchte Berlin und Airbus."]
    en, de = pipeline.entities(texts, languages=["en", "de"])
    assert {(e.label, e.key, e.model_label) for e in en} == {
        ("PERSON", "emmanuel macron", "PERSON"),
        ("LOC", "berlin", "GPE"),
    }
    assert {(e.label, e.key, e.model_label) for e in de} == {
        ("PERSON", "emmanuel macron", "PER"),
        ("LOC", "berlin", "LOC"),
        ("ORG", "airbus", "ORG"),
    }


def test_model_info_reads_each_folder_without_loading(models_dir: Path) -> None:
    info = languages.model_info("de", languages.installed()["de"])
    assert (info.lang, info.version) == ("de", "9.9.9")
    assert info.size_bytes > 0


def test_person_keys_meet_across_languages_without_titles() -> None:
    from workers.entity_keys import normalize_key

    forms = ["Emmanuel Macron", "Präsident Emmanuel Macron", "Président Emmanuel Macron's"]
    assert {normalize_key(f, "PERSON") for f in forms} == {"emmanuel macron"}
    assert normalize_key("Bundeskanzler Olaf Scholz", "PERSON") == "olaf scholz"
    assert normalize_key("Premier League", "ORG") == "premier league"  # titles: people only
    # Transliterations stay apart without a knowledge base.
    assert normalize_key("Wladimir Putin", "PERSON") != normalize_key("Vladimir Putin", "PERSON")
