"""Entity keys, per-article folding, language gating, and the spaCy pipeline wrapper."""

from __future__ import annotations

import pytest

from schemas.errors import ConfigError
from workers.entity_keys import Mention, aggregate, display_name, normalize_key
from workers.nlp import char_batches, detect_language, load_pipeline, model_available


@pytest.mark.parametrize(
    ("text", "label", "key"),
    [
        ("Vladimir Putin", "PERSON", "vladimir putin"),
        ("  Vladimir\n Putin ", "PERSON", "vladimir putin"),
        ("Putin's", "PERSON", "putin"),
        ("Putin’s", "PERSON", "putin"),
        ("Mr Putin", "PERSON", "putin"),
        ("Mr. Putin", "PERSON", "putin"),
        ("Dr. Jane Goodall", "PERSON", "jane goodall"),
        ("the Kremlin", "ORG", "kremlin"),
        ("The United Nations", "ORG", "united nations"),
        ("KREMLIN", "ORG", "kremlin"),
        ("Paris,", "GPE", "paris"),
        ("The", "ORG", "the"),
        ("Sir", "PERSON", "sir"),
    ],
)
def test_normalize_key(text: str, label: str, key: str) -> None:
    assert normalize_key(text, label) == key


def test_display_name_drops_honorific_and_possessive() -> None:
    assert display_name("Mr  Witkoff's") == "Witkoff"


def test_short_person_names_fold_into_the_one_long_name() -> None:
    found = aggregate(
        [
            Mention("Putin", "PERSON", 50),
            Mention("Vladimir Putin", "PERSON", 10),
            Mention("Mr Putin", "PERSON", 90),
            Mention("Putin's", "PERSON", 120),
            Mention("Moscow", "GPE", 30),
        ]
    )
    people = [e for e in found if e.label == "PERSON"]
    assert len(people) == 1
    assert people[0].key == "vladimir putin"
    assert people[0].name == "Vladimir Putin"
    assert people[0].count == 4
    assert people[0].first_offset == 10
    assert [(e.key, e.count) for e in found if e.label == "GPE"] == [("moscow", 1)]


def test_ambiguous_short_names_stay_apart() -> None:
    found = aggregate(
        [
            Mention("John Smith", "PERSON", 0),
            Mention("Jane Smith", "PERSON", 20),
            Mention("Smith", "PERSON", 40),
        ]
    )
    assert sorted(e.key for e in found) == ["jane smith", "john smith", "smith"]


def test_labels_are_kept_apart() -> None:
    found = aggregate([Mention("Jordan", "PERSON", 0), Mention("Jordan", "GPE", 5)])
    assert sorted((e.label, e.key) for e in found) == [("GPE", "jordan"), ("PERSON", "jordan")]


def test_detect_language() -> None:
    assert detect_language("The president spoke in Washington today about the economy.") == "en"
    assert (
        detect_language("Der Bundeskanzler hat heute in Berlin über die Wirtschaft gesprochen.")
        == "de"
    )
    assert detect_language("Hi") is None


def test_pipeline_from_a_path(test_model: str) -> None:
    pipeline = load_pipeline(test_model)
    assert pipeline.name == "en_test_ner"
    assert pipeline.version == "1.0.0"
    assert set(pipeline.labels) == {"PERSON", "GPE", "ORG"}
    assert pipeline.covers("en")
    assert pipeline.covers("en-GB")
    assert not pipeline.covers("de")
    assert not pipeline.covers(None)
    [ents] = pipeline.entities(["Mr Putin met Steve Witkoff in Moscow. Putin smiled."])
    assert {(e.label, e.key, e.count) for e in ents} == {
        ("PERSON", "putin", 2),
        ("PERSON", "steve witkoff", 1),
        ("LOC", "moscow", 1),
    }


def test_batches_give_one_result_per_text(test_model: str) -> None:
    pipeline = load_pipeline(test_model)
    texts = ["Paris.", "Nothing here.", "Kyiv and Kursk."] * 10
    results = pipeline.entities(texts, batch_size=4)
    assert len(results) == 30
    assert [len(r) for r in results[:3]] == [1, 0, 2]


def test_char_batches_bound_characters_and_count_and_keep_order() -> None:
    texts = ["a" * 30, "b" * 30, "c" * 50, "d" * 120, "e" * 10, "f" * 10, "g" * 10]
    got = char_batches(texts, 2, 100)
    assert [t for batch in got for t in batch] == texts  # every text once, in order
    assert [[t[0] for t in batch] for batch in got] == [["a", "b"], ["c"], ["d"], ["e", "f"], ["g"]]
    for batch in got:
        assert len(batch) <= 2
        assert len(batch) == 1 or sum(map(len, batch)) <= 100  # a longer text goes alone
    assert char_batches([], 16, 100) == []


def test_long_texts_get_the_same_entities_as_one_at_a_time(
    test_model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Splitting a batch by characters changes no result (a small budget forces splits)."""
    import workers.nlp as nlp

    pipeline = load_pipeline(test_model)
    texts = [("Paris and Kyiv. " * n) + "Kursk." for n in (1, 40, 3, 80, 2)]
    alone = [pipeline.entities([t])[0] for t in texts]
    monkeypatch.setattr(nlp, "NLP_BATCH_CHARS", 700)
    assert len(char_batches(texts, 16, 700)) > 1
    assert pipeline.entities(texts, batch_size=16) == alone


def test_a_missing_model_says_how_to_install_it() -> None:
    with pytest.raises(ConfigError) as info:
        model_available("en_core_web_nonexistent")
    assert "newsingest model install" in str(info.value)
    with pytest.raises(ConfigError) as info:
        load_pipeline("en_core_web_nonexistent")
    assert "NEWSINGEST_SPACY_MODEL" in str(info.value)
