"""Row 8: latency from a new feed entry to its processed row."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import sqlalchemy as sa

from bench.common import ARTICLE, Bench, Row, fmt, median, percentile, runs_text
from bench.services import (
    _utc,
    add_feeds,
    celery_worker,
    engine_for,
    flush_redis,
    newsingest_exe,
    pg_database,
    wait_done,
)
from bench.site import Proc
from schemas.urls import normalize_url, url_hash

# --------------------------------------------------------------------------- row 8: latency


def row_latency(b: Bench) -> None:
    plan = b.plan
    assert b.site is not None
    site = b.site
    feeds = min(plan.feeds, len(b.bases))
    next_page = plan.articles + 10  # pages no other row uses

    def page_link(k: int) -> str:
        nonlocal next_page
        next_page += 1
        return f"{b.bases[k]}/{site.page_path(next_page)}"

    def round_feeds(r: int) -> tuple[list[str], list[list[tuple[str, str, datetime]]]]:
        """Fresh feeds for round ``r``, each with one warm-up entry: the adaptive schedule
        (half the median gap between a feed's entries) then sees the same short history in
        every round, and the row measures the pipeline's delay, not the schedule's."""
        now = datetime.now(UTC).replace(microsecond=0)
        urls, items = [], []
        for k in range(feeds):
            items.append([(f"Warm {r}-{k}", page_link(k), now)])
            name = site.write_feed(f"live-{r}-{k:02d}", f"Live {r}-{k}", items[k])
            urls.append(f"{b.bases[k]}/{name}")
        return urls, items

    appeared: dict[str, float] = {}
    round_of: dict[str, int] = {}
    latencies: list[float] = []
    by_round: list[list[float]] = [[] for _ in range(plan.latency_rounds)]
    with pg_database(b.postgres, "latency") as db_url, engine_for(db_url) as engine:
        env = b.env(
            database_url=db_url,
            broker_url=b.redis,
            concurrency=str(plan.workers),
            allowed_networks="127.0.0.0/8",
            # Adaptive polling would stretch the 1 s interval (minimum 5 min by default):
            # this row measures the pipeline's delay, not the schedule's.
            min_poll_interval="1",
        )
        flush_redis(b.redis)
        urls, items = round_feeds(0)
        add_feeds(engine, urls, poll_interval=1)
        expected = 0
        with (
            celery_worker(env, plan.workers, b.workdir),
            Proc([newsingest_exe(), "run", "--max-wait", "1"], env, b.workdir) as service,
        ):
            for r in range(plan.latency_rounds):
                if r:
                    urls, items = round_feeds(r)
                    add_feeds(engine, urls, poll_interval=1)
                expected += feeds
                state = wait_done(engine, expected, 120)  # the warm-up entries
                if state.done < expected:
                    raise RuntimeError(f"warm-up not processed: {state.statuses}\n{service.output}")
                for i in range(plan.latency_entries):
                    k = i % feeds
                    link = page_link(k)
                    items[k].insert(0, (f"Live {r}-{i}", link, datetime.now(UTC)))
                    site.write_feed(f"live-{r}-{k:02d}", f"Live {r}-{k}", items[k])
                    h = url_hash(normalize_url(link))
                    appeared[h] = time.time()
                    round_of[h] = r
                    time.sleep(plan.latency_gap)
                expected += plan.latency_entries
                state = wait_done(engine, expected, 120)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(ARTICLE.c.url_hash, ARTICLE.c.processed_at).where(
                    ARTICLE.c.url_hash.in_(list(appeared))
                )
            ).all()
    flush_redis(b.redis)
    for h, processed_at in rows:
        when = _utc(processed_at)
        if when is not None:
            latencies.append(when.timestamp() - appeared[h])
            by_round[round_of[h]].append(latencies[-1])
    missing = plan.latency_entries * plan.latency_rounds - len(latencies)
    measured = (
        f"`newsingest run --max-wait 1` (feeds' poll interval 1 s) + `newsingest worker "
        f"--concurrency {plan.workers}`, Redis + PostgreSQL; one new entry every "
        f"{plan.latency_gap:g} s added to one of {feeds} feeds (the file rewritten; fresh "
        "feeds each round, so the adaptive schedule sees the same history): from the rewrite "
        "to the article's processed_at"
    )
    notes = [f"{missing} entries not processed within 120 s"] if missing else []
    rounds = [r for r in by_round if r]
    for key, q in (("latency_p50", 50), ("latency_p95", 95)):
        values = [percentile(r, q) for r in rounds]
        value = median(values)
        b.rows.append(
            Row(
                key=key,
                title=f"Latency p{q}, feed entry -> processed row",
                measured=measured,
                size=f"{plan.latency_entries} entries x {plan.latency_rounds} runs",
                runs=values,
                unit="s",
                value=value,
                shown=f"**{fmt(value, 2)} s** (runs: {runs_text(values, 2)} s)",
                notes=notes
                if q == 95
                else [
                    f"run {i + 1}, all (s): {runs_text(sorted(r), 2)}" for i, r in enumerate(rounds)
                ]
                + notes,
            )
        )
