"""Rows 4 and 5: entity workers scaling out, and fetching alone."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from bench.common import Bench, Row, fmt, median, runs_text
from bench.cpu import GROUP_LABELS, CpuSampler
from bench.row_e2e import _unfinished
from bench.services import (
    celery_worker,
    engine_for,
    flush_redis,
    load_articles,
    pg_database,
    requeue,
    wait_done,
)
from bench.site import hosts, http_server

# --------------------------------------------------------------------------- row 4: scaling


def row_scaling(b: Bench) -> None:
    from ingest.enqueue import CeleryEnqueuer
    from schemas.queue import make_app
    from schemas.settings import load_settings

    plan = b.plan
    n = plan.scale_articles
    measured = "https://bench.invalid/scale/"
    warm = "https://bench.invalid/warm/"
    rates: dict[int, list[float]] = {}
    others: dict[int, list[float]] = {}  # share of the machine other users took, per run
    per_cpu: dict[int, list[float]] = {}  # articles per CPU second of the prefork children
    with pg_database(b.postgres, "scale") as db_url, engine_for(db_url) as engine:
        covered = b.workload.covered_texts()
        texts = [covered[i % len(covered)] for i in range(n)]
        hashes = load_articles(engine, measured, texts)
        settings = load_settings(_env_file=None, database_url=db_url, broker_url=b.redis)
        app = make_app(settings)
        enqueuer = CeleryEnqueuer(app, batch_size=settings.nlp_batch_size)
        try:
            for workers in (1, plan.workers):
                flush_redis(b.redis)
                env = b.env(database_url=db_url, broker_url=b.redis)
                with celery_worker(env, workers, b.workdir) as worker:
                    # Warm-up: one batch per process, not measured.
                    warm_hashes = load_articles(engine, f"{warm}{workers}/", texts[: 16 * workers])
                    enqueuer.send(warm_hashes)
                    wait_done(engine, len(warm_hashes), 120, like=f"{warm}{workers}/%")
                    for r in range(min(plan.repeats, plan.scale_repeats)):
                        requeue(engine, f"{measured}%")
                        cpu = CpuSampler({"workers": worker.proc.pid})
                        started = time.time()
                        enqueuer.send(hashes)
                        state = wait_done(engine, n, 60 + 2 * n, like=f"{measured}%")
                        cpu.stop()
                        if state.last_processed is None or state.done < n:
                            raise _unfinished(state, n, worker.output)
                        rate = n / (state.last_processed.timestamp() - started)
                        rates.setdefault(workers, []).append(rate)
                        others.setdefault(workers, []).append(cpu.share("other"))
                        per_cpu.setdefault(workers, []).append(
                            n / max(cpu.seconds().get("workers pool", 0.0), 1e-9)
                        )
                        b.log(
                            f"scaling {workers} process(es) run {r + 1}: {rate:.2f} articles/s; "
                            + cpu.note(GROUP_LABELS)
                        )
        finally:
            enqueuer.close()
    flush_redis(b.redis)
    one, two = median(rates[1]), median(rates[plan.workers])
    speedup = two / one
    b.rows.append(
        Row(
            key="worker_scaling",
            title=f"Worker scaling, {plan.workers} processes over 1",
            measured="articles pre-loaded as `queued` in PostgreSQL, messages sent to Redis, "
            "time to drain by `newsingest worker --concurrency 1` vs "
            f"`--concurrency {plan.workers}` (NER + store only)",
            size=f"{n} articles",
            runs=rates[1] + rates[plan.workers],
            unit="articles/s",
            value=speedup,
            shown=f"1: {fmt(one, 2)} /s; {plan.workers}: {fmt(two, 2)} /s = **{fmt(speedup, 2)}x**",
            target=">= 1.8x",
            passed=speedup >= 1.8,
            notes=[
                f"runs with 1 process: {runs_text(rates[1], 2)} articles/s; with "
                f"{plan.workers}: {runs_text(rates[plan.workers], 2)}. Articles per CPU second "
                f"of the prefork children: {runs_text(per_cpu[1], 1)} (1) and "
                f"{runs_text(per_cpu[plan.workers], 1)} ({plan.workers}). Other users' "
                "processes took "
                + ", ".join(f"{100 * v:.0f}" for v in others[1])
                + " % of the machine's CPU during the 1-process runs, "
                + ", ".join(f"{100 * v:.0f}" for v in others[plan.workers])
                + f" % during the {plan.workers}-process runs"
            ],
        )
    )


# --------------------------------------------------------------------------- row 5: fetching


async def _fetch_all(settings: Any, urls: Sequence[str]) -> tuple[int, int, float]:
    from ingest.fetch import fetch_page
    from ingest.http import make_client
    from ingest.politeness import HostLimiter
    from schemas.errors import NewsIngestError

    limiter = HostLimiter.from_settings(settings)
    async with make_client(settings) as client:

        async def one(url: str) -> bool:
            try:
                await fetch_page(client, limiter, settings, url)
            except NewsIngestError:
                return False
            return True

        started = time.perf_counter()
        results = await asyncio.gather(*(one(u) for u in urls))
        elapsed = time.perf_counter() - started
    ok = sum(results)
    return ok, len(results) - ok, elapsed


def row_fetch(b: Bench) -> None:
    from schemas.settings import load_settings

    plan = b.plan
    assert b.site is not None
    settings = load_settings(
        _env_file=None,
        allowed_networks="127.0.0.0/8",
        per_host_concurrency=plan.fetch_per_host,
        fetch_concurrency=plan.fetch_concurrency,
        per_host_delay=0,
    )
    addresses = hosts(plan.fetch_hosts)
    per_host = -(-plan.fetch_pages // plan.fetch_hosts)
    paths = [b.site.page_path(i) for i in range(per_host)]
    runs: list[float] = []
    notes: list[str] = []
    with http_server(b.site.root, addresses, delay=plan.fetch_delay) as server:
        bases = server.bases
        urls = [
            f"{bases[i % len(bases)]}/{paths[(i // len(bases)) % len(paths)]}"
            for i in range(plan.fetch_pages)
        ]
        for r in range(plan.repeats):
            cpu = CpuSampler({"HTTP server": server.pid}, sample=False)
            ok, failed, elapsed = asyncio.run(_fetch_all(settings, urls))
            cpu.stop()
            runs.append(ok / elapsed)
            b.log(f"fetch run {r + 1}: {runs[-1]:.1f} pages/s ({failed} failed)")
            notes.append(
                f"run {r + 1}: the fetching process (this one) used "
                f"{cpu.seconds().get('bench', 0.0):.1f} s of CPU "
                f"({1000 * cpu.seconds().get('bench', 0.0) / max(ok, 1):.1f} ms per page), the "
                f"server {cpu.seconds().get('HTTP server', 0.0):.1f} s; other users' processes "
                f"{100 * cpu.share('other'):.0f} % of the machine"
            )
            if failed:
                notes.append(f"run {r + 1}: {failed} pages failed")
    size = sum(b.site.root.joinpath(p).stat().st_size for p in paths) / len(paths)
    ceiling = min(plan.fetch_hosts * plan.fetch_per_host, plan.fetch_concurrency)
    ceiling_rate = ceiling / plan.fetch_delay
    rate = median(runs)
    b.rows.append(
        Row(
            key="fetch",
            title="Fetching alone",
            measured=f"ingest.fetch.fetch_page through make_client + HostLimiter in this "
            f"process; server subprocess delays every response {plan.fetch_delay * 1000:.0f} "
            f"ms; {plan.fetch_hosts} hosts, {plan.fetch_per_host} per host, fetch_concurrency "
            f"{plan.fetch_concurrency} (ceiling {ceiling_rate:.0f} pages/s)",
            size=f"{plan.fetch_pages} pages (mean {size / 1000:.0f} kB)",
            runs=runs,
            unit="pages/s",
            value=rate,
            shown=f"**{fmt(rate)} pages/s**",
            target=">= 250 pages/s",
            passed=rate >= 250,
            notes=notes,
        )
    )
