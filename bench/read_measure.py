"""The read bench's measurements: searches, entities top, the export CLI, the store with
and without the search index (see bench/read.py)."""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from bench.read_data import CACHE, Base, Generated, Log


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
    exports: list[tuple[int, float, float, float]] = field(default_factory=list)
    store: dict[str, float] = field(default_factory=dict)
    store_runs: dict[str, list[float]] = field(default_factory=dict)


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


def measure_export(
    url: str, gen: Generated, since_days: float | None
) -> tuple[int, float, float, float]:
    """``newsingest export --format jsonl`` in a child, read through a pipe as ``| jq`` would:
    (articles, articles/s including start-up, peak RSS of the child in MB from wait4,
    articles per CPU second of the child: what the export costs whatever else runs)."""
    exe = Path(sys.executable).with_name("newsingest")
    args = [str(exe), "export", "--format", "jsonl"]
    if since_days is not None:
        args += ["--since", (gen.anchor - timedelta(days=since_days)).isoformat()]
    env = {**os.environ, "NEWSINGEST_DATABASE_URL": url, "NEWSINGEST_QUERY_TIMEOUT": "60"}
    started = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.PIPE, env=env)
    assert child.stdout is not None
    lines = 0
    peak = 0
    for chunk in iter(lambda: child.stdout.read(1 << 20), b""):  # type: ignore[union-attr]
        lines += chunk.count(b"\n")
        peak = max(peak, _peak_rss_kb(child.pid))
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    child.stdout.close()
    if child.returncode != 0:
        raise RuntimeError(f"export failed with exit code {child.returncode}")
    cpu = usage.ru_utime + usage.ru_stime
    # wait4's ru_maxrss keeps the high-water mark of the forked copy of this (larger)
    # process from before the exec: the child's own is VmHWM, sampled while it runs.
    return lines, lines / elapsed, (peak or usage.ru_maxrss) / 1024, lines / cpu if cpu else 0.0


def _peak_rss_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


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
    from bench.row_store import synthetic_entities
    from bench.services import load_articles
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
    result.store_runs = runs
