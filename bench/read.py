"""The read side's benchmark (issue 16): search, entities top, export, and the store with the
search index maintained, on PostgreSQL and SQLite.

    python -m bench.read [--articles 200000] [--repeats 5] [--postgres URL] [--output FILE]
    python -m bench --only read          (the same, from the pipeline bench's command)

The database: ``--articles`` articles generated from the corpus pages (trafilatura's
evaluation set: the text of their paragraphs, language detected), each a window of 3-8
consecutive paragraphs of one page plus a paragraph of another page of its language, at most
~2,400 characters; a title from one of its sentences; published uniformly over the 60 days
before the generation time; 60 feeds (Zipf-like shares); 3-12 entities each, drawn Zipf-like
from the capitalised names found in the corpus (labels spread as in news: people, places,
organisations, some dates and numbers). PostgreSQL is loaded with COPY (the search trigger
fires per row; the GIN index is built after the load), SQLite with executemany in one
transaction (the FTS5 triggers fire per row). Both are cached (``.cache/bench/read-*`` and a
kept PostgreSQL database ``newsingest_bench_read_<n>_v<version>``), so re-runs start at once.

Measured, per backend, in this process through query/ (the code the CLI runs):
- 20 searches, 4 per class (common word, rare word, phrase, text + entity + date, no match),
  each the first page (20 rows, relevance order, with snippets), 1 warm-up + ``--repeats`` runs;
- ``entities top --since 24h`` (top_entities, 20 rows, with the previous period);
- ``newsingest export --format jsonl`` as a child process (the real CLI, stdout to /dev/null)
  over ~50,000 and all articles: articles/s including start-up, peak RSS from ``wait4``;
- the store row (bench row 6's method: workers.store.store_results, batches of 16, 20
  entities per article, 1,008 articles) on a fresh database with the search index (triggers)
  and without (triggers dropped), and the time to load those articles' texts, the write the
  index really costs (the store never rewrites title or text).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

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


ARTICLE_COLUMNS = (
    "id", "url", "url_hash", "feed_id", "title", "authors", "published_at", "published_source",
    "language", "site_name", "text", "word_count", "status", "attempts", "nlp_attempts",
    "fetched_at", "processed_at",
)  # fmt: skip


def pg_url(admin: str, n: int) -> str:
    base = sa.engine.make_url(admin)
    return base.set(database=f"newsingest_bench_read_{n}_v{VERSION}").render_as_string(
        hide_password=False
    )


def generate(backend: str, n: int, admin: str, log: Log) -> tuple[str, Generated]:
    """The cached database of ``n`` articles for ``backend``: (URL, what it holds)."""
    from schemas.db import upgrade

    CACHE.mkdir(parents=True, exist_ok=True)
    meta_file = CACHE / f"read-{backend}-{n}-v{VERSION}.json"
    if backend == "postgresql":
        url = pg_url(admin, n)
    else:
        url = f"sqlite:///{CACHE / f'read-{n}-v{VERSION}.db'}"
    if meta_file.is_file():
        meta = json.loads(meta_file.read_text("utf-8"))
        meta["anchor"] = datetime.fromisoformat(meta["anchor"])
        return url, Generated(**meta)
    bases = corpus(log)
    vocab = vocabulary(bases)
    anchor = datetime.now(UTC).replace(microsecond=0)
    log(f"generating {n} articles on {backend} (cached afterwards) ...")
    started = time.perf_counter()
    if backend == "postgresql":
        admin_engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
        with admin_engine.connect() as conn:
            name = sa.engine.make_url(url).database
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin_engine.dispose()
        upgrade(url)
        count = _load_postgresql(url, n, bases, vocab, anchor)
    else:
        path = Path(sa.engine.make_url(url).database or "")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        upgrade(url)
        count = _load_sqlite(path, n, bases, vocab, anchor)
    seconds = time.perf_counter() - started
    gen = Generated(anchor, n, len(vocab), count, seconds)
    meta_file.write_text(
        json.dumps({**gen.__dict__, "anchor": anchor.isoformat(), "queries": {}}), "utf-8"
    )
    log(f"{backend}: {n} articles, {count} mentions in {seconds:.0f} s")
    return url, gen


def _load_postgresql(url: str, n: int, bases: Sequence[Base], vocab: Any, anchor: datetime) -> int:
    import psycopg

    dsn = sa.engine.make_url(url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(dsn) as conn:
        # The GIN index is built once after the load (much faster than row by row); the
        # trigger computes each row's tsvector during COPY as it would on insert.
        conn.execute("DROP INDEX ix_article_search_vector")
        with conn.cursor() as cur:
            for i in range(1, 61):
                cur.execute(
                    "INSERT INTO feed (id, url, kind, active, respect_robots, poll_interval, "
                    "next_poll_at, consecutive_failures, created_at) "
                    "VALUES (%s, %s, 'rss', true, true, 900, now(), 0, now())",
                    (i, f"https://bench{i}.invalid/rss"),
                )
            cols = ", ".join(ARTICLE_COLUMNS)
            with cur.copy(f"COPY article ({cols}) FROM STDIN") as copy:
                for row in articles(n, bases, anchor):
                    copy.write_row([row[c] for c in ARTICLE_COLUMNS])
            with cur.copy(
                "COPY entity (id, label, key, name, short_key, first_seen, last_seen) FROM STDIN"
            ) as copy:
                for i, (label, name, key) in enumerate(vocab, 1):
                    short = key.split()[-1] if label == "PERSON" and " " in key else None
                    copy.write_row([i, label, key, name, short, anchor, anchor])
            count = 0
            with cur.copy(
                "COPY mention (article_id, entity_id, count, first_offset) FROM STDIN"
            ) as copy:
                for m in mentions(n, len(vocab)):
                    copy.write_row(m)
                    count += 1
            for table in ("feed", "article", "entity", "mention"):
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"(SELECT max(id) FROM {table}))"
                )
        conn.execute("CREATE INDEX ix_article_search_vector ON article USING gin (search_vector)")
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    return count


def _load_sqlite(path: Path, n: int, bases: Sequence[Base], vocab: Any, anchor: datetime) -> int:
    import sqlite3

    def ts(value: datetime) -> str:
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    with conn:
        conn.executemany(
            "INSERT INTO feed (id, url, kind, active, respect_robots, poll_interval, next_poll_at, consecutive_failures, created_at) VALUES (?, ?, 'rss', 1, 1, 900, ?, 0, ?)",  # noqa: E501
            [(i, f"https://bench{i}.invalid/rss", ts(anchor), ts(anchor)) for i in range(1, 61)],
        )
        marks = ", ".join("?" for _ in ARTICLE_COLUMNS)
        rows = (
            [ts(r[c]) if isinstance(r[c], datetime) else r[c] for c in ARTICLE_COLUMNS]
            for r in articles(n, bases, anchor)
        )
        conn.executemany(
            f"INSERT INTO article ({', '.join(ARTICLE_COLUMNS)}) VALUES ({marks})",  # noqa: S608
            rows,
        )
        conn.executemany(
            "INSERT INTO entity (id, label, key, name, short_key, first_seen, last_seen) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (i, label, key, name,
                 key.split()[-1] if label == "PERSON" and " " in key else None,
                 ts(anchor), ts(anchor))
                for i, (label, name, key) in enumerate(vocab, 1)
            ],
        )  # fmt: skip
        counter = [0]

        def counted() -> Iterator[tuple[int, int, int, int]]:
            for m in mentions(n, len(vocab)):
                counter[0] += 1
                yield m

        conn.executemany(
            "INSERT INTO mention (article_id, entity_id, count, first_offset) VALUES (?, ?, ?, ?)",
            counted(),
        )
    conn.execute("INSERT INTO article_fts(article_fts) VALUES ('optimize')")
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()
    return counter[0]


# --------------------------------------------------------------------------- the queries


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


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass
class Result:
    backend: str
    searches: dict[str, list[float]] = field(default_factory=dict)  # class -> ms samples
    per_query: list[tuple[str, str, float, int]] = field(default_factory=list)
    top: list[float] = field(default_factory=list)
    exports: list[tuple[int, float, float]] = field(default_factory=list)  # n, art/s, MB
    store: dict[str, float] = field(default_factory=dict)


def measure_searches(url: str, gen: Generated, repeats: int, result: Result, log: Log) -> None:
    from query.articles import list_articles
    from query.filters import Filters
    from query.guard import deadline, read_engine

    engine = read_engine(url)
    try:
        for cls, queries in gen.queries.items():
            samples: list[float] = []
            for text, extra in queries:
                since = (
                    gen.anchor - timedelta(days=extra["since_days"])
                    if extra.get("since_days")
                    else None
                )
                filters = Filters(search=text, entity=extra.get("entity"), since=since)
                times = []
                rows = 0
                for r in range(repeats + 1):
                    with engine.connect() as conn, conn.begin(), deadline(conn, 30):
                        started = time.perf_counter()
                        page = list_articles(conn, filters, limit=20)
                        elapsed = (time.perf_counter() - started) * 1000
                    rows = len(page.rows)
                    if r:  # the first run warms the caches
                        times.append(elapsed)
                samples += times
                label = text + (f" + entity {extra['entity']} + 7d" if extra else "")
                result.per_query.append((cls, label, statistics.median(times), rows))
                log(
                    f"{result.backend} search {label!r}: "
                    f"{statistics.median(times):.1f} ms, {rows} rows"
                )
            result.searches[cls] = samples
    finally:
        engine.dispose()


def measure_top(url: str, gen: Generated, repeats: int, result: Result) -> None:
    from query.entities import top_entities
    from query.filters import Filters
    from query.guard import read_engine

    engine = read_engine(url)
    try:
        for r in range(repeats + 1):
            with engine.connect() as conn, conn.begin():
                started = time.perf_counter()
                top_entities(conn, Filters(since=gen.anchor - timedelta(hours=24)), now=gen.anchor)
                elapsed = (time.perf_counter() - started) * 1000
            if r:
                result.top.append(elapsed)
    finally:
        engine.dispose()


def measure_export(url: str, gen: Generated, since_days: float | None) -> tuple[int, float, float]:
    """``newsingest export --format jsonl`` in a child, read through a pipe as ``| jq`` would:
    (articles, articles/s including start-up, peak RSS of the child in MB from wait4)."""
    exe = Path(sys.executable).with_name("newsingest")
    args = [str(exe), "export", "--format", "jsonl"]
    if since_days is not None:
        args += ["--since", (gen.anchor - timedelta(days=since_days)).isoformat()]
    env = {**os.environ, "NEWSINGEST_DATABASE_URL": url, "NEWSINGEST_QUERY_TIMEOUT": "60"}
    started = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.PIPE, env=env)
    assert child.stdout is not None
    lines = 0
    for chunk in iter(lambda: child.stdout.read(1 << 20), b""):  # type: ignore[union-attr]
        lines += chunk.count(b"\n")
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    child.stdout.close()
    if child.returncode != 0:
        raise RuntimeError(f"export failed with exit code {child.returncode}")
    return lines, lines / elapsed, usage.ru_maxrss / 1024


@contextmanager
def fresh_database(backend: str, admin: str, tag: str) -> Iterator[str]:
    if backend == "postgresql":
        name = f"newsingest_bench_{tag}_{os.getpid()}"
        engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield sa.engine.make_url(admin).set(database=name).render_as_string(False)
        finally:
            with engine.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            engine.dispose()
    else:
        path = CACHE / f"store-{tag}-{os.getpid()}.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)


def drop_search_triggers(conn: sa.Connection) -> None:
    from schemas import fulltext

    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("DROP TRIGGER article_search_vector_insert ON article"))
        conn.execute(sa.text("DROP TRIGGER article_search_vector_update ON article"))
    else:
        for name in fulltext.SQLITE_TRIGGERS:
            conn.execute(sa.text(f"DROP TRIGGER {name}"))


def measure_store(
    backend: str, admin: str, bases: Sequence[Base], repeats: int, result: Result, log: Log
) -> None:
    """Bench row 6's method with and without the search index maintained."""
    from bench.pipeline import load_articles, synthetic_entities
    from schemas.db import make_engine, upgrade
    from schemas.models import ArticleStatus
    from workers.store import ArticleResult, store_results

    count = 1008
    rng = random.Random(4)
    texts = []
    for _ in range(count):
        base = rng.choice(bases)
        texts.append(("\n\n".join(base.paragraphs)[:6000], base.language))
    entities = synthetic_entities(count, 20)
    runs: dict[str, list[float]] = {
        "store indexed": [],
        "store plain": [],
        "load indexed": [],
        "load plain": [],
    }
    for r in range(repeats):
        for mode in ("indexed", "plain"):
            with fresh_database(backend, admin, f"{mode}{r}") as url:
                upgrade(url)
                engine = make_engine(url)
                try:
                    if mode == "plain":
                        with engine.begin() as conn:
                            drop_search_triggers(conn)
                    started = time.perf_counter()
                    hashes = load_articles(engine, "https://bench.invalid/store/", texts)
                    runs[f"load {mode}"].append(count / (time.perf_counter() - started))
                    results = [
                        ArticleResult(h, ArticleStatus.PROCESSED, entities=e, language="en")
                        for h, e in zip(hashes, entities, strict=True)
                    ]
                    started = time.perf_counter()
                    for start in range(0, count, 16):
                        with engine.begin() as conn:
                            store_results(
                                conn, results[start : start + 16], model="bench", version="1"
                            )
                    runs[f"store {mode}"].append(count / (time.perf_counter() - started))
                finally:
                    engine.dispose()
            log(f"{backend} store {mode} run {r + 1}: {runs[f'store {mode}'][-1]:.0f} articles/s")
    result.store = {k: statistics.median(v) for k, v in runs.items()}


# --------------------------------------------------------------------------- run and report

TARGETS = {"p50": 30.0, "p95": 150.0, "top": 200.0, "export": 5000.0, "rss": 250.0, "store": 0.8}


def run(args: argparse.Namespace, log: Log) -> list[Result]:
    results = []
    bases = corpus(log)
    for backend in args.backends:
        url, gen = generate(backend, args.articles, args.postgres, log)
        if not gen.queries:
            gen.queries = pick_queries(bases, vocabulary(bases))
        result = Result(backend)
        measure_searches(url, gen, args.repeats, result, log)
        measure_top(url, gen, args.repeats, result)
        log(f"{backend} entities top --since 24h: {statistics.median(result.top):.1f} ms")
        for days in (15.0, None):  # ~a quarter of the 60 days, then everything
            result.exports.append(measure_export(url, gen, days))
            log(f"{backend} export: {result.exports[-1]}")
        if not args.skip_store:
            measure_store(backend, args.postgres, bases, max(1, args.store_repeats), result, log)
        results.append(result)
    return results


def render(
    results: Sequence[Result], args: argparse.Namespace, started: datetime, load: str
) -> str:
    def ok(flag: bool) -> str:
        return "pass" if flag else "**MISS**"

    lines = [
        f"`python -m bench.read --articles {args.articles} --repeats {args.repeats}` on "
        f"{started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores (shared), load average at start "
        f"{load}; {args.articles:,} generated articles per backend.",
        "",
        "| backend | measured | p50 | p95 | target | result |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        every = [t for samples in r.searches.values() for t in samples]
        per_query = [q[2] for q in r.per_query]
        p50, p95 = percentile(per_query, 0.5), percentile(per_query, 0.95)
        lines.append(
            f"| {r.backend} | search, all 20 queries (median of runs per query) | {p50:.1f} ms | "
            f"{p95:.1f} ms | p50 < 30 ms, p95 < 150 ms | {ok(p50 < 30 and p95 < 150)} |"
        )
        for cls, samples in r.searches.items():
            lines.append(
                f"| {r.backend} | search: {cls} (4 queries x {args.repeats} runs) | "
                f"{percentile(samples, 0.5):.1f} ms | {percentile(samples, 0.95):.1f} ms | | |"
            )
        del every
        top50, top95 = percentile(r.top, 0.5), percentile(r.top, 0.95)
        lines.append(
            f"| {r.backend} | entities top --since 24h | {top50:.1f} ms | {top95:.1f} ms | "
            f"< 200 ms | {ok(top50 < 200)} |"
        )
        for n, rate, rss in r.exports:
            lines.append(
                f"| {r.backend} | export --format jsonl, {n:,} articles | {rate:,.0f} articles/s | "
                f"peak RSS {rss:.0f} MB | >= 5,000/s, < 250 MB | {ok(rate >= 5000 and rss < 250)} |"
            )
        if r.store:
            ratio = r.store["store indexed"] / r.store["store plain"]
            load_ratio = r.store["load indexed"] / r.store["load plain"]
            lines.append(
                f"| {r.backend} | store row (row 6 method), index maintained / not | "
                f"{r.store['store indexed']:.0f} / {r.store['store plain']:.0f} articles/s | "
                f"ratio {ratio:.2f} | >= 0.80 | {ok(ratio >= 0.8)} |"
            )
            lines.append(
                f"| {r.backend} | loading the texts (the write the index costs), indexed / not | "
                f"{r.store['load indexed']:.0f} / {r.store['load plain']:.0f} articles/s | "
                f"ratio {load_ratio:.2f} | report | |"
            )
    lines += ["", "Queries (median ms, rows on the first page):", ""]
    for r in results:
        for cls, label, ms, rows in r.per_query:
            lines.append(f"- {r.backend}, {cls}: `{label}` {ms:.1f} ms, {rows} rows")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.read", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--articles", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--store-repeats", type=int, default=3)
    parser.add_argument("--skip-store", action="store_true")
    parser.add_argument("--generate-only", action="store_true", help="build the cached databases")
    parser.add_argument("--backends", nargs="+", default=["postgresql", "sqlite"])
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "read-results.md")
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    clock = time.monotonic()
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())

    def log(message: str) -> None:
        print(f"[{time.monotonic() - clock:7.1f}s] {message}", file=sys.stderr, flush=True)

    if args.generate_only:
        for backend in args.backends:
            generate(backend, args.articles, args.postgres, log)
        return 0
    text = render(run(args, log), args, started, load)
    print(text, end="")
    args.output.write_text(text, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
