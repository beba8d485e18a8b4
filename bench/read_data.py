"""The read bench's data: corpus paragraphs, generated articles and entities, and the
queries picked from the corpus (see bench/read.py)."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench._corpus import unpack

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "bench"
VERSION = 1
DEFAULT_POSTGRES = os.environ.get(
    "NEWSINGEST_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
LABEL_SHARES = (
    ("PERSON", 30), ("GPE", 22), ("ORG", 22), ("NORP", 5), ("EVENT", 3), ("PRODUCT", 3),
    ("LOC", 3), ("FAC", 2), ("DATE", 6), ("CARDINAL", 4),
)  # fmt: skip
NAME = re.compile(r"\b[A-ZÄÖÜ][a-zäöüß]{2,}(?: [A-ZÄÖÜ][a-zäöüß]{2,})?\b")
WORD = re.compile(r"[^\W\d_]{4,}")
SENTENCE = re.compile(r"(?<=[.!?])\s+")
Log = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Base:
    paragraphs: tuple[str, ...]
    language: str


def corpus(log: Log) -> list[Base]:
    """The corpus pages' paragraphs (lxml: the text of each <p>), language detected."""
    cache = CACHE / f"read-corpus-v{VERSION}.json"
    if cache.is_file():
        return [Base(tuple(p), lang) for p, lang in json.loads(cache.read_text("utf-8"))]
    import lxml.html
    import py3langid

    here = unpack("news-pages-trafilatura-eval.tar.xz") / "trafilatura_eval" / "tests"
    out: list[Base] = []
    files = sorted([*(here / "cache").glob("*"), *(here / "eval").glob("*")])
    for path in files:
        try:
            doc = lxml.html.fromstring(path.read_bytes())
        except (ValueError, lxml.etree.ParserError):
            continue
        paragraphs = [" ".join(p.text_content().split()) for p in doc.iter("p") if p.text_content()]
        paragraphs = [p for p in paragraphs if len(p) >= 60]
        if len(paragraphs) < 3:
            continue
        language = py3langid.classify(" ".join(paragraphs)[:3000])[0]
        out.append(Base(tuple(paragraphs), language))
    CACHE.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps([[b.paragraphs, b.language] for b in out]), "utf-8")
    log(f"corpus: {len(out)} pages with paragraphs, from {len(files)} files")
    return out


def zipf_weights(n: int, s: float = 1.05) -> list[float]:
    total, out = 0.0, []
    for rank in range(n):
        total += 1 / (rank + 1) ** s
        out.append(total)
    return out


@dataclass
class Generated:
    anchor: datetime
    articles: int
    entities: int
    mentions: int
    seconds: float
    queries: dict[str, list[tuple[str, dict[str, Any]]]] = field(default_factory=dict)


def vocabulary(bases: Sequence[Base]) -> list[tuple[str, str, str]]:
    """(label, name, key) of the corpus's capitalised names, most frequent first."""
    counts: Counter[str] = Counter()
    for b in bases:
        for p in b.paragraphs:
            counts.update(NAME.findall(p))
    rng = random.Random(1)
    labels = [label for label, share in LABEL_SHARES for _ in range(share)]
    out, seen = [], set()
    for name, _ in counts.most_common(25_000):
        key = name.casefold()
        if key not in seen and len(out) < 20_000:
            seen.add(key)
            out.append((rng.choice(labels), name, key))
    return out


def articles(n: int, bases: Sequence[Base], anchor: datetime) -> Iterator[dict[str, Any]]:
    rng = random.Random(0)
    by_lang: dict[str, list[Base]] = {}
    for b in bases:
        by_lang.setdefault(b.language, []).append(b)
    feeds = zipf_weights(60, 0.8)
    for i in range(n):
        base = rng.choice(bases)
        k = rng.randint(3, 8)
        start = rng.randrange(max(1, len(base.paragraphs) - k + 1))
        parts = list(base.paragraphs[start : start + k])
        other = rng.choice(by_lang[base.language])
        parts.insert(rng.randrange(len(parts) + 1), rng.choice(other.paragraphs))
        text = "\n\n".join(parts)[:2400]
        sentences = SENTENCE.split(rng.choice(parts))
        title = " ".join(rng.choice(sentences).split()[:12])[:200]
        published = anchor - timedelta(seconds=rng.uniform(0, 60 * 86400))
        feed = rng.choices(range(60), cum_weights=feeds)[0] + 1
        url = f"https://bench{feed}.invalid/{i:07d}.html"
        yield {
            "id": i + 1,
            "url": url,
            "url_hash": hashlib.sha256(url.encode()).hexdigest(),
            "feed_id": feed,
            "title": title,
            "authors": "[]",
            "published_at": published,
            "published_source": "meta",
            "language": base.language,
            "site_name": f"bench{feed}.invalid",
            "text": text,
            "word_count": len(text.split()),
            "status": "processed",
            "attempts": 1,
            "nlp_attempts": 0,
            "fetched_at": published + timedelta(minutes=rng.uniform(1, 90)),
            "processed_at": published + timedelta(minutes=100),
        }


def mentions(n: int, vocab_size: int) -> Iterator[tuple[int, int, int, int]]:
    rng = random.Random(2)
    weights = zipf_weights(vocab_size)
    population = range(vocab_size)
    for article in range(1, n + 1):
        picked = set(rng.choices(population, cum_weights=weights, k=rng.randint(3, 12)))
        for offset, entity in enumerate(sorted(picked)):
            yield article, entity + 1, rng.randint(1, 6), offset * 120


def pick_queries(bases: Sequence[Base], vocab: Any) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """4 queries per class, chosen from the corpus by document frequency (seeded)."""
    rng = random.Random(3)
    df: Counter[str] = Counter()
    bigrams: Counter[str] = Counter()
    for b in bases:
        words = WORD.findall(" ".join(b.paragraphs).casefold())
        df.update(set(words))
        bigrams.update({f"{x} {y}" for x, y in itertools.pairwise(words)})
    n = len(bases)
    common = sorted(w for w, c in df.items() if 0.08 * n <= c <= 0.25 * n and len(w) >= 6)
    rare = sorted(w for w, c in df.items() if c == 1 and len(w) >= 8)
    phrases = sorted(p for p, c in bigrams.items() if 3 <= c <= 8 and min(map(len, p.split())) >= 5)
    people = [v for v in vocab[:200] if v[0] in ("PERSON", "GPE", "ORG")]
    out: dict[str, list[tuple[str, dict[str, Any]]]] = {
        "common word": [(w, {}) for w in rng.sample(common, 4)],
        "rare word": [(w, {}) for w in rng.sample(rare, 4)],
        "phrase": [(f'"{p}"', {}) for p in rng.sample(phrases, 4)],
        "text + entity + date": [
            (w, {"entity": e[1], "since_days": 7})
            for w, e in zip(rng.sample(common, 4), rng.sample(people, 4), strict=True)
        ],
        "no match": [
            (w, {}) for w in ("xqzvbnmw", "qqqzzzyyy", '"zebra quantum"', "vvvxxx OR wwwyyy")
        ],
    }
    return out
