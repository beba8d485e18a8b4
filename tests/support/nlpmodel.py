"""A small spaCy pipeline the tests build for themselves (no model download needed):
a blank English pipeline with an entity ruler, saved to disk and loaded by path."""

from __future__ import annotations

from pathlib import Path

PEOPLE = [
    "Vladimir Putin",
    "Putin",
    "Steve Witkoff",
    "Witkoff",
    "Volodymyr Zelenskiy",
    "Zelenskiy",
    "Emmanuel Macron",
    "Donald Trump",
    "Trump",
    "Kirill Dmitriev",
    "Dmitriev",
    "Yuri Ushakov",
    "Ushakov",
]
PLACES = ["Moscow", "Ukraine", "Russia", "Pokrovsk", "Donetsk", "Kursk", "Paris", "Florida", "Kyiv"]
ORGS = ["Kremlin", "Bloomberg"]


def build_test_model(path: Path, *, version: str = "1.0.0") -> Path:
    import spacy

    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    patterns = [{"label": "PERSON", "pattern": p} for p in PEOPLE]
    patterns += [{"label": "GPE", "pattern": p} for p in PLACES]
    patterns += [{"label": "ORG", "pattern": p} for p in ORGS]
    # Honorific + a known surname is one person mention ("Mr Putin").
    patterns += [
        {"label": "PERSON", "pattern": [{"LOWER": {"IN": ["mr", "mrs", "ms"]}}, {"TEXT": name}]}
        for name in ("Putin", "Witkoff", "Trump", "Zelenskiy", "Ushakov", "Dmitriev")
    ]
    ruler.add_patterns(patterns)  # type: ignore[attr-defined]
    nlp.meta["name"] = "test_ner"
    nlp.meta["version"] = version
    nlp.to_disk(path)
    return path


def build_ruler_model(folder: Path, lang: str, patterns: list[tuple[str, str]]) -> Path:
    """``<folder>/<lang>_newsingest_ner``: a blank pipeline of ``lang`` with an entity ruler,
    standing in for a bundled language model."""
    import spacy

    nlp = spacy.blank(lang)
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": label, "pattern": text} for text, label in patterns])  # type: ignore[attr-defined]
    nlp.meta["name"] = "newsingest_ner"
    nlp.meta["version"] = "9.9.9"
    path = folder / f"{lang}_newsingest_ner"
    nlp.to_disk(path)
    return path
