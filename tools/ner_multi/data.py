"""Train / dev / test DocBins per language, tokenized by the language's own spaCy tokenizer.

Splits (fixed, so that a rebuild gives the same sets):

- WikiANN: its train split trains, the first :data:`WIKIANN_DEV` sentences of its dev split
  choose the best checkpoint, its test split is only ever used for the card.
- GermEval 2014 dev (news and Wikipedia, the news-like German set): split by source document
  with a SHA-1 of its URL: 50 % held-out test, 15 % dev, 35 % train.
- Europeana newspapers: per file, by position (no shuffling, neighbouring lines share
  a page): first 80 % train, next 10 % dev, last 10 % test.
- UNER English-EWT: its own train / dev / test splits.
- UNER Bosque (Portuguese newspaper text): its dev split is the held-out test; of its train
  split, documents with a SHA-1 in the lowest 10 % are dev, the rest train.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from tools.ner_multi import corpus
from tools.ner_multi.corpus import Sentence

CACHE = Path(".cache/ner-multi")
RAW = CACHE / "ner-multi"
EWT = Path("../shared/corpus/ner")
WIKIANN_DEV = 1500
LANGS = ("de", "fr", "es", "pt", "nl", "en")


def _frac(key: str) -> float:
    return int(hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:8], 16) / 0x100000000


def _wikiann(lang: str, split: str) -> list[Sentence]:
    folder = RAW / "wikiann" / lang
    if lang == "es":
        name = {"train": "train.conllu", "dev": "val.conllu", "test": "test.conllu"}[split]
    else:
        name = split
    return list(corpus.read_wikiann(folder / name, lang))


def _positional(sents: list[Sentence]) -> dict[str, list[Sentence]]:
    by_file: dict[str, list[Sentence]] = {}
    for s in sents:
        by_file.setdefault(s.meta.get("file", ""), []).append(s)
    out: dict[str, list[Sentence]] = {"train": [], "dev": [], "test": []}
    for group in by_file.values():
        n = len(group)
        a, b = int(n * 0.8), int(n * 0.9)
        out["train"] += group[:a]
        out["dev"] += group[a:b]
        out["test"] += group[b:]
    return out


def splits(lang: str) -> dict[str, dict[str, list[Sentence]]]:
    """split -> source -> sentences, for one language."""
    out: dict[str, dict[str, list[Sentence]]] = {"train": {}, "dev": {}, "test": {}}
    out["train"]["wikiann"] = _wikiann(lang, "train")
    out["dev"]["wikiann"] = _wikiann(lang, "dev")[:WIKIANN_DEV]
    out["test"]["wikiann"] = _wikiann(lang, "test")
    if lang == "de":
        ge: dict[str, list[Sentence]] = {"train": [], "dev": [], "test": []}
        for s in corpus.read_germeval(RAW / "germeval2014" / "NER-de-dev.tsv"):
            f = _frac(s.doc.rsplit("-", 2)[0])
            ge["test" if f < 0.5 else "dev" if f < 0.65 else "train"].append(s)
        for k, v in ge.items():
            out[k]["germeval"] = v
    euro_files = {"de": ["enp_DE.lft", "enp_DE.onb", "enp_DE.sbb"], "fr": ["enp_FR.bnf"]}
    euro_files["nl"] = ["enp_NL.kb"]
    if lang in euro_files:
        sents: list[Sentence] = []
        for name in euro_files[lang]:
            sents += corpus.read_europeana(RAW / "europeana" / f"{name}.bio")
        for k, v in _positional(sents).items():
            out[k]["europeana"] = v
    if lang == "pt":
        folder = RAW / "uner-pt-bosque"
        train = list(corpus.read_bosque(folder / "pt_bosque-ud-train.iob2"))
        out["train"]["bosque"] = [s for s in train if _frac(s.doc) >= 0.1]
        out["dev"]["bosque"] = [s for s in train if _frac(s.doc) < 0.1]
        out["test"]["bosque"] = list(corpus.read_bosque(folder / "pt_bosque-ud-dev.iob2"))
    if lang == "en":
        folder = EWT
        train = list(corpus.read_uner(folder / "ewt-train.iob2", "ewt"))
        out["train"]["ewt"] = train
        out["dev"]["ewt"] = list(corpus.read_uner(folder / "ewt-dev.iob2", "ewt"))
        out["test"]["ewt"] = list(corpus.read_uner(folder / "ewt-test.iob2", "ewt"))
    return out


def to_docbin(lang: str, sents: Iterable[Sentence], path: Path) -> dict[str, int]:
    """Write sentences as a DocBin (one Doc per sentence); counts for the card."""
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.blank(lang)
    db = DocBin(store_user_data=False)
    stats = {"docs": 0, "words": 0, "ents": 0, "ents_dropped": 0}
    for sent in sents:
        text, ents = corpus.to_text(sent)
        doc = nlp.make_doc(text)
        spans = []
        last_end = -1
        for start, end, label in ents:
            # OCR tokens carry punctuation ("Lawfitt,"): the entity ends at its last letter.
            while start < end and not text[start].isalnum():
                start += 1
            while end > start and not text[end - 1].isalnum():
                end -= 1
            span = doc.char_span(start, end, label, alignment_mode="expand")
            if span is None or span.start < last_end:
                stats["ents_dropped"] += 1
                continue
            spans.append(span)
            last_end = span.end
        doc.set_ents(spans, default="outside")
        db.add(doc)
        stats["docs"] += 1
        stats["words"] += len(sent.words)
        stats["ents"] += len(spans)
    path.parent.mkdir(parents=True, exist_ok=True)
    db.to_disk(path)
    return stats


def prepare(lang: str, out: Path | None = None) -> dict[str, dict[str, dict[str, int]]]:
    """Write ``<out>/{train,dev}.spacy`` and ``test-<source>.spacy``; returns the counts."""
    folder = out or CACHE / "docbin" / lang
    stats: dict[str, dict[str, dict[str, int]]] = {}
    for split, by_source in splits(lang).items():
        stats[split] = {}
        if split == "test":
            for source, sents in by_source.items():
                stats[split][source] = to_docbin(lang, sents, folder / f"test-{source}.spacy")
        else:
            all_sents = [s for sents in by_source.values() for s in sents]
            to_docbin(lang, all_sents, folder / f"{split}.spacy")
            for source, sents in by_source.items():
                n_ents = sum(len(corpus.spans_from_tags(s.tags)) for s in sents)
                words = sum(len(s.words) for s in sents)
                stats[split][source] = {"docs": len(sents), "words": words, "ents": n_ents}
    (folder / "stats.json").write_text(json.dumps(stats, indent=1))
    return stats
