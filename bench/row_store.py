"""Rows 6 and 7: the store on both backends, and an entity worker's memory."""

from __future__ import annotations

import contextlib
import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.common import ARTICLE, Bench, Row, fmt, median
from bench.row_bound import run_child
from bench.services import engine_for, load_articles, pg_database, progress
from schemas.db import upgrade
from schemas.models import ArticleStatus

# --------------------------------------------------------------------------- row 6: store

LABELS = ("PERSON", "ORG", "GPE", "LOC", "NORP", "EVENT", "PRODUCT", "FAC")


def synthetic_entities(count: int, per_article: int, seed: int = 0) -> list[tuple[Any, ...]]:
    """Per article ``per_article`` distinct entities drawn from a Zipf-like vocabulary (news
    repeats its names: most upserts meet an existing entity, some add a new one)."""
    from workers.entity_keys import EntityCount

    rng = random.Random(seed)
    vocabulary = max(200, count * 4)
    cumulative: list[float] = []
    total = 0.0
    for rank in range(vocabulary):
        total += 1 / (rank + 1) ** 1.05
        cumulative.append(total)
    out: list[tuple[Any, ...]] = []
    population = range(vocabulary)
    for _ in range(count):
        picked: dict[int, None] = {}
        while len(picked) < per_article:
            for i in rng.choices(population, cum_weights=cumulative, k=per_article * 2):
                picked.setdefault(i)
        ents = []
        for offset, i in enumerate(list(picked)[:per_article]):
            label = LABELS[i % len(LABELS)]
            name = f"Name{i:05d} Surname{(i * 7919) % 99991:05d}"
            ents.append(EntityCount(label, name.casefold(), name, rng.randint(1, 6), offset * 180))
        out.append(tuple(ents))
    return out


def _store_run(url: str, b: Bench, entities: list[tuple[Any, ...]]) -> float:
    from workers.store import ArticleResult, store_results

    plan = b.plan
    with engine_for(url) as engine:
        texts = [b.workload.text(i) for i in range(plan.store_articles)]
        hashes = load_articles(engine, "https://bench.invalid/store/", texts)
        results = [
            ArticleResult(h, ArticleStatus.PROCESSED, entities=e, language="en")
            for h, e in zip(hashes, entities, strict=True)
        ]
        started = time.perf_counter()
        for start in range(0, len(results), plan.store_batch):
            with engine.begin() as conn:
                store_results(
                    conn, results[start : start + plan.store_batch], model="bench", version="1"
                )
        elapsed = time.perf_counter() - started
        state = progress(engine)
        if state.statuses.get(ArticleStatus.PROCESSED) != len(results):
            raise RuntimeError(f"store run incomplete: {state.statuses}")
    return len(results) / elapsed


def row_store(b: Bench) -> None:
    plan = b.plan
    entities = synthetic_entities(plan.store_articles, plan.store_entities)
    mentions = sum(len(e) for e in entities) / len(entities)
    measured = (
        f"workers.store.store_results in this process, batches of {plan.store_batch}, one "
        f"transaction each; {mentions:.0f} entities per article from a Zipf-like vocabulary; "
        "articles pre-loaded as `queued` with real texts"
    )
    pg_runs: list[float] = []
    for r in range(plan.repeats):
        with pg_database(b.postgres, "store") as url:
            pg_runs.append(_store_run(url, b, entities))
        b.log(f"store postgresql run {r + 1}: {pg_runs[-1]:.0f} articles/s")
    sqlite_runs: list[float] = []
    for r in range(plan.repeats):
        db = b.workdir / f"store-{r}.db"
        url = f"sqlite:///{db}"
        upgrade(url)
        sqlite_runs.append(_store_run(url, b, entities))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        b.log(f"store sqlite run {r + 1}: {sqlite_runs[-1]:.0f} articles/s")
    for key, title, runs, target in (
        ("store_postgresql", "Store alone, PostgreSQL", pg_runs, 500),
        ("store_sqlite", "Store alone, SQLite", sqlite_runs, 300),
    ):
        rate = median(runs)
        b.rows.append(
            Row(
                key=key,
                title=title,
                measured=measured,
                size=f"{plan.store_articles} articles, fresh database per run",
                runs=runs,
                unit="articles/s",
                value=rate,
                shown=f"**{fmt(rate, 0)} articles/s**",
                target=f">= {target} articles/s",
                passed=rate >= target,
            )
        )


# --------------------------------------------------------------------------- row 7: memory


def rss_bytes() -> tuple[int, int]:
    """(VmRSS, VmHWM) of this process, in bytes."""
    values = {"VmRSS": 0, "VmHWM": 0}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            name, _, rest = line.partition(":")
            if name in values:
                values[name] = int(rest.split()[0]) * 1024
    return values["VmRSS"], values["VmHWM"]


def memory_child(url: str, model: str, checkpoint: int, batch: int) -> dict[str, Any]:
    """The Celery task's code path (process_batch with the process-wide engine and pipeline)
    over every article of the database, in id order; RSS at the checkpoint and at the end."""
    from schemas.db import dispose_engines, get_engine
    from workers.entities import process_batch
    from workers.nlp import get_pipeline, tune_allocator

    tune_allocator()  # as a worker child does before it loads the model
    engine = get_engine(url)
    pipeline = get_pipeline(model)
    with engine.connect() as conn:
        hashes = list(conn.execute(sa.select(ARTICLE.c.url_hash).order_by(ARTICLE.c.id)).scalars())
    samples: list[tuple[int, int]] = [(0, rss_bytes()[0])]
    done = 0
    started = time.perf_counter()
    for start in range(0, len(hashes), batch):
        process_batch(engine, pipeline, hashes[start : start + batch], batch_size=batch)
        before = done
        done += len(hashes[start : start + batch])
        if before < checkpoint <= done or done == len(hashes) or done % 500 < batch:
            samples.append((done, rss_bytes()[0]))
    elapsed = time.perf_counter() - started
    dispose_engines()
    return {
        "samples": samples,
        "hwm": rss_bytes()[1],
        "articles": done,
        "seconds": elapsed,
        "checkpoint": checkpoint,
    }


def row_memory(b: Bench) -> None:
    plan = b.plan
    n = plan.memory_articles
    texts = [b.workload.text(i)[0][: plan.memory_chars] for i in range(len(b.workload.pages))]
    language = sorted(b.model.pipeline.languages)[0]
    articles = [(texts[i % len(texts)], language) for i in range(n)]
    args = ["memory", "--model", b.model.name, "--checkpoint", str(plan.memory_checkpoint)]
    args += ["--batch", "16"]
    with contextlib.ExitStack() as stack:
        urls = []
        for r in range(plan.memory_runs):  # alembic's upgrade is not thread-safe: one by one
            url = stack.enter_context(pg_database(b.postgres, f"memory{r}"))
            with engine_for(url) as engine:
                load_articles(engine, "https://bench.invalid/memory/", articles)
            urls.append(url)
        # The runs go in parallel, one process per core, each on its own database: repeated
        # runs within the time budget.
        with ThreadPoolExecutor(plan.memory_runs) as runner:
            results = list(
                runner.map(lambda url: run_child(b, [*args, "--database", url], 120 + n), urls)
            )
    mb = 1024 * 1024
    ends: list[float] = []
    growths: list[float] = []
    curves: list[str] = []
    for r, result in enumerate(results):
        samples = [(int(a), int(v)) for a, v in result["samples"]]
        at_check = next(v for a, v in samples if a >= plan.memory_checkpoint)
        at_end = samples[-1][1]
        ends.append(at_end / mb)
        growths.append((at_end - at_check) / at_check * 100)
        curve = ", ".join(f"{a}: {v / mb:.0f}" for a, v in samples)
        curves.append(
            f"run {r + 1}: RSS in MB after N articles: {curve}; peak {result['hwm'] / mb:.0f} MB; "
            f"{result['seconds']:.0f} s"
        )
        b.log(
            f"memory run {r + 1}: {at_check / mb:.0f} MB at {plan.memory_checkpoint}, "
            f"{at_end / mb:.0f} MB at the end"
        )
    what = (
        "RSS of a fresh process running workers.entities.process_batch (the Celery task's "
        "code: load, language, NER, store on PostgreSQL) in a loop, batches of 16; texts: "
        f"the {len(texts)} distinct extracted corpus texts (all languages, marked "
        f"`{language}` so every one goes through NER), each cut to its first "
        f"{plan.memory_chars:,} characters (to fit the 10-minute budget), cycled; "
        f"{plan.memory_runs} runs in parallel, one process per core, each on its own database"
    )
    size = f"{n} articles ({plan.memory_runs} runs)"
    rss, growth = median(ends), median(growths)
    peak = max(int(result["hwm"]) for result in results) / mb
    b.rows.append(
        Row(
            key="memory_rss",
            title=f"Memory: RSS per extract worker after {n:,} articles",
            measured=what,
            size=size,
            runs=ends,
            unit="MB",
            value=rss,
            shown=f"**{rss:.0f} MB** (peak {peak:.0f} MB)",
            target="<= 500 MB",
            passed=rss <= 500,
            notes=curves,
        )
    )
    b.rows.append(
        Row(
            key="memory_growth",
            title=f"Memory: growth from article {plan.memory_checkpoint:,} to {n:,}",
            measured="same processes as above: (RSS at the end - RSS after the checkpoint "
            "batch) / RSS after the checkpoint batch",
            size=size,
            runs=growths,
            unit="%",
            value=growth,
            shown=f"**{growth:+.1f} %** (runs: {', '.join(f'{g:+.1f}' for g in growths)} %)",
            target="<= 10 %",
            passed=growth <= 10,
        )
    )
