"""The read bench's databases: generated once per backend and size, then cached (see
bench/read.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.read_data import (
    CACHE,
    VERSION,
    Base,
    Generated,
    Log,
    articles,
    corpus,
    mentions,
    vocabulary,
)

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
