"""Readers for the corpus in ``ner-multi.tar.xz``: each source -> sentences of (words, tags).

Every reader yields :class:`Sentence` objects with the words as written in the file and BIO
tags restricted to PER / ORG / LOC (the one label set all these sources share). The choices,
so that the model card can state them:

- WikiANN (de/en/fr/nl/pt): ``xx:`` language prefixes on every token are stripped; WikiANN
  es comes as ``index TAB token TAB tag``.
- GermEval 2014: the outer column only. ``OTH`` (titles, products, events...) has no
  counterpart in the other sources, so it becomes O, as do ``*deriv`` ("deutschen" is not a
  place) and ``*part`` ("EU-Kommission" names no organisation by itself).
- Europeana newspapers: one running token stream per file with no sentence breaks (the
  French file is IOB1). It is cut into pieces at sentence ends (., !, ? before a capital)
  of at most 60 tokens; ``# file`` comments start a new document.
- Universal NER English-EWT (``../shared/corpus/ner``): web text; its test split is the
  English reference set of the project's English model card.
- UNER Portuguese-Bosque: UD syntactic words ("de o" for "do") are contracted back
  (:data:`PT_CONTRACTIONS`) so that the text reads like the newspaper it came from.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

LABELS = ("PER", "ORG", "LOC")


@dataclass
class Sentence:
    words: list[str]
    tags: list[str]
    doc: str  # document id, for splitting by document
    source: str
    meta: dict[str, str] = field(default_factory=dict)


def _norm_tag(tag: str) -> str:
    """BIO tag restricted to PER/ORG/LOC; anything else is O."""
    if tag in ("", "O") or "-" not in tag:
        return "O"
    prefix, _, label = tag.partition("-")
    if label not in LABELS or prefix not in ("B", "I"):
        return "O"
    return f"{prefix}-{label}"


def read_wikiann(path: Path, lang: str) -> Iterator[Sentence]:
    words: list[str] = []
    tags: list[str] = []
    n = 0
    prefix = f"{lang}:"
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if words:
                yield Sentence(words, tags, f"wikiann-{lang}-{path.stem}-{n}", f"wikiann-{lang}")
                n += 1
            words, tags = [], []
            continue
        cols = line.split("\t")
        if path.suffix == ".conllu":
            word, tag = cols[1], cols[2]
        else:
            word, tag = cols[0], cols[-1]
        if word.startswith(prefix):
            word = word[len(prefix) :]
        if not word:
            continue
        words.append(word)
        tags.append(_norm_tag(tag.strip()))


def read_germeval(path: Path) -> Iterator[Sentence]:
    words: list[str] = []
    tags: list[str] = []
    doc = ""
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if line.startswith("#"):
            doc = line.split("\t")[1] if "\t" in line else line
            continue
        if not line.strip():
            if words:
                yield Sentence(words, tags, f"germeval-{doc}-{len(words)}-{words[0]}", "germeval")
            words, tags = [], []
            continue
        cols = line.split("\t")
        words.append(cols[1])
        tags.append(_norm_tag(cols[2]))


_SENT_END = {".", "!", "?"}


def read_europeana(path: Path, max_tokens: int = 60) -> Iterator[Sentence]:
    source = "europeana-" + path.name.split(".")[0].removeprefix("enp_").lower()
    doc = path.name
    words: list[str] = []
    tags: list[str] = []
    n = 0

    def flush() -> Iterator[Sentence]:
        nonlocal words, tags, n
        if words:
            yield Sentence(words, tags, f"{doc}-{n}", source, {"file": path.name})
            n += 1
        words, tags = [], []

    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if line.startswith("# file"):
            yield from flush()
            doc = line.split(":", 1)[1].strip()
            continue
        if line.startswith("#"):
            continue
        if not line.strip():
            yield from flush()
            continue
        word, _, tag = line.rpartition(" ")
        if not word:
            continue
        tags.append(_norm_tag(tag))
        words.append(word)
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        at_end = word in _SENT_END and nxt[:1].isupper() and tags[-1] == "O"
        if at_end or (len(words) >= max_tokens and tags[-1] == "O"):
            yield from flush()
    yield from flush()


#: UD syntactic words of Bosque -> the written contraction (second word lowercase).
PT_CONTRACTIONS = {
    ("de", "o"): "do", ("de", "a"): "da", ("de", "os"): "dos", ("de", "as"): "das",
    ("em", "o"): "no", ("em", "a"): "na", ("em", "os"): "nos", ("em", "as"): "nas",
    ("a", "o"): "ao", ("a", "a"): "à", ("a", "os"): "aos", ("a", "as"): "às",
    ("por", "o"): "pelo", ("por", "a"): "pela", ("por", "os"): "pelos", ("por", "as"): "pelas",
    ("de", "ele"): "dele", ("de", "ela"): "dela", ("de", "eles"): "deles",
    ("de", "elas"): "delas", ("em", "ele"): "nele", ("em", "ela"): "nela",
    ("de", "este"): "deste", ("de", "esta"): "desta", ("de", "estes"): "destes",
    ("de", "estas"): "destas", ("de", "esse"): "desse", ("de", "essa"): "dessa",
    ("de", "esses"): "desses", ("de", "essas"): "dessas", ("em", "este"): "neste",
    ("em", "esta"): "nesta", ("em", "esse"): "nesse", ("em", "essa"): "nessa",
    ("de", "aquele"): "daquele", ("de", "aquela"): "daquela", ("em", "aquele"): "naquele",
    ("em", "aquela"): "naquela", ("a", "aquele"): "àquele", ("a", "aquela"): "àquela",
    ("em", "um"): "num", ("em", "uma"): "numa", ("de", "isso"): "disso",
    ("de", "isto"): "disto", ("em", "isso"): "nisso", ("em", "isto"): "nisto",
    ("de", "aqui"): "daqui", ("de", "onde"): "donde",
}  # fmt: skip


def _contract(words: list[str], tags: list[str]) -> tuple[list[str], list[str]]:
    out_w: list[str] = []
    out_t: list[str] = []
    i = 0
    while i < len(words):
        if i + 1 < len(words):
            key = (words[i].lower(), words[i + 1].lower())
            joined = PT_CONTRACTIONS.get(key)
            if joined is not None:
                if words[i][:1].isupper():
                    joined = joined[:1].upper() + joined[1:]
                # The contraction belongs to an entity only if its first part does.
                out_w.append(joined)
                out_t.append(tags[i])
                if tags[i] == "O" and tags[i + 1] != "O" and i + 2 < len(words):
                    nxt = tags[i + 2]
                    if nxt.startswith("I-"):
                        tags[i + 2] = "B-" + nxt[2:]
                i += 2
                continue
        out_w.append(words[i])
        out_t.append(tags[i])
        i += 1
    return out_w, out_t


def read_bosque(path: Path) -> Iterator[Sentence]:
    return read_uner(path, "bosque", contract=True)


def read_uner(path: Path, source: str, *, contract: bool = False) -> Iterator[Sentence]:
    """Universal NER files (``id TAB token TAB tag ...``); stray ``B-O``/``OTH`` tags are O."""
    words: list[str] = []
    tags: list[str] = []
    doc = ""
    sent = ""
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if line.startswith("# newdoc id"):
            doc = line.split("=", 1)[1].strip()
            continue
        if line.startswith("# sent_id"):
            sent = line.split("=", 1)[1].strip()
            continue
        if line.startswith("#"):
            continue
        if not line.strip():
            if words:
                w, t = _contract(words, tags) if contract else (words, tags)
                yield Sentence(w, t, f"{source}-{doc or sent}", source, {"sent": sent})
            words, tags = [], []
            continue
        cols = line.split("\t")
        if not cols[0].isdigit():
            continue  # multi-word token ranges, if any
        words.append(cols[1])
        tags.append(_norm_tag(cols[2]))


_NO_SPACE_BEFORE = re.compile(r"^[.,;:!?%)\]}»]+$|^'s$|^n't$")
_NO_SPACE_AFTER = re.compile(r"^[(\[{«¿¡]+$")
_ELISION = re.compile(r"^\w{1,3}['’]$")


def detokenize(words: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """Running text from tokens and each token's character offsets in it."""
    parts: list[str] = []
    offsets: list[tuple[int, int]] = []
    pos = 0
    prev = ""
    for i, word in enumerate(words):
        space = i > 0 and not (
            _NO_SPACE_BEFORE.match(word) or _NO_SPACE_AFTER.match(prev) or _ELISION.match(prev)
        )
        if space:
            parts.append(" ")
            pos += 1
        offsets.append((pos, pos + len(word)))
        parts.append(word)
        pos += len(word)
        prev = word
    return "".join(parts), offsets


def spans_from_tags(tags: list[str]) -> list[tuple[int, int, str]]:
    """Token spans (start, end, label); an I- tag after O or another label opens a span."""
    spans: list[tuple[int, int, str]] = []
    start = -1
    label = ""
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, lab = tag.partition("-")
        if start >= 0 and (tag == "O" or prefix == "B" or lab != label):
            spans.append((start, i, label))
            start = -1
        if tag != "O" and start < 0:
            start, label = i, lab
    return spans


def to_text(sent: Sentence) -> tuple[str, list[tuple[int, int, str]]]:
    """The sentence as text and its entities as character spans."""
    text, offsets = detokenize(sent.words)
    ents = [(offsets[s][0], offsets[e - 1][1], lab) for s, e, lab in spans_from_tags(sent.tags)]
    return text, ents
