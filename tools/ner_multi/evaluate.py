"""Entity-level P/R/F1 (exact character span and label) and words/s, one thread.

Gold comes from the test DocBins; the system reads each document's plain text, so its own
tokenizer is part of what is measured. A label map turns a system's labels into the
reference's PER/ORG/LOC (labels it maps to None are dropped), which lets foreign models
(fr_core_news_sm's PER/ORG/LOC/MISC, the English model's OntoNotes labels) be scored too.
"""

from __future__ import annotations

import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

Spans = set[tuple[int, int, str]]

#: System label -> reference label (others are dropped).
ONTONOTES_TO_PLO = {"PERSON": "PER", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC", "FAC": "LOC"}
PLO = {"PER": "PER", "ORG": "ORG", "LOC": "LOC"}


def gold_docs(path: Path, lang: str) -> list[tuple[str, Spans]]:
    import spacy
    from spacy.tokens import DocBin

    vocab = spacy.blank(lang).vocab
    return [
        (d.text, {(e.start_char, e.end_char, e.label_) for e in d.ents})
        for d in DocBin().from_disk(path).get_docs(vocab)
    ]


def predict(nlp: Any, texts: Sequence[str], label_map: Mapping[str, str]) -> list[Spans]:
    out: list[Spans] = []
    for doc in nlp.pipe(texts, batch_size=256):
        out.append(
            {
                (e.start_char, e.end_char, label_map[e.label_])
                for e in doc.ents
                if e.label_ in label_map
            }
        )
    return out


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def score(gold: Sequence[Spans], pred: Sequence[Spans]) -> dict[str, dict[str, float]]:
    """label -> {p, r, f, n}; the key "ALL" is the micro average."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for g, guess in zip(gold, pred, strict=True):
        for s in g & guess:
            tp[s[2]] += 1
        for s in guess - g:
            fp[s[2]] += 1
        for s in g - guess:
            fn[s[2]] += 1
    labels = sorted(set(tp) | set(fp) | set(fn))
    out: dict[str, dict[str, float]] = {}
    for lab in ["ALL", *labels]:
        if lab == "ALL":
            t, f_, n_ = sum(tp.values()), sum(fp.values()), sum(fn.values())
        else:
            t, f_, n_ = tp[lab], fp[lab], fn[lab]
        p, r, f = prf(t, f_, n_)
        out[lab] = {"p": p, "r": r, "f": f, "n": t + n_}
    return out


def evaluate(
    nlp: Any, test: Path | list[tuple[str, Spans]], lang: str, label_map: Mapping[str, str] = PLO
) -> dict[str, dict[str, float]]:
    docs = gold_docs(test, lang) if isinstance(test, Path) else test
    pred = predict(nlp, [t for t, _ in docs], label_map)
    return score([g for _, g in docs], pred)


def words_per_second(
    runners: Mapping[str, Callable[[Sequence[str]], object]],
    texts: Sequence[str],
    repeats: int = 3,
) -> dict[str, float]:
    """Median words/s of each runner over ``texts``, runs interleaved (A B C A B C ...)."""
    words = sum(len(t.split()) for t in texts)
    times: dict[str, list[float]] = {name: [] for name in runners}
    for run in runners.values():  # warm-up: first-call allocations, lazy init
        run(texts[:5])
    for _ in range(repeats):
        for name, run in runners.items():
            t0 = time.process_time()
            run(texts)
            times[name].append(time.process_time() - t0)
    return {name: words / statistics.median(ts) for name, ts in times.items()}


def pipe_runner(nlp: Any) -> Callable[[Sequence[str]], object]:
    def run(texts: Sequence[str]) -> object:
        for _ in nlp.pipe(texts, batch_size=64):
            pass
        return None

    return run


_MARK = re.compile(r"\[([^\]]+)\]\((PER|ORG|LOC)\)")


def read_marked(path: Path) -> list[tuple[str, Spans]]:
    """Sentences written as ``[Mario Draghi](PER) ha ...`` -> (text, gold spans)."""
    docs: list[tuple[str, Spans]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        text, gold, pos = "", set(), 0
        for m in _MARK.finditer(line):
            text += line[pos : m.start()]
            gold.add((len(text), len(text) + len(m.group(1)), m.group(2)))
            text += m.group(1)
            pos = m.end()
        docs.append((text + line[pos:], gold))
    return docs
