"""Rows 2 and 3: end to end, on Redis + PostgreSQL and in-process on SQLite."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine

from bench.common import Bench, Row, fmt, median
from bench.cpu import GROUP_LABELS, CpuSampler
from bench.services import (
    Progress,
    add_feeds,
    celery_worker,
    engine_for,
    flush_redis,
    newsingest_exe,
    pg_database,
    reset_postgres,
    wait_done,
)
from bench.site import Proc, make_feeds
from schemas.db import upgrade

# --------------------------------------------------------------------------- row 2 and 3


def _poll(b: Bench, env: dict[str, str], timeout: float, cpu: CpuSampler) -> tuple[float, float]:
    """``newsingest poll --all`` (its process tree counted by ``cpu`` as ``poll``): the wall
    times of its first request and of its exit."""
    started = time.time()
    with Proc(
        [newsingest_exe(), "poll", "--all", "--inline"], env, b.workdir, marker="polling "
    ) as proc:
        cpu.roots["poll"] = proc.proc.pid
        code = proc.wait(timeout)
        ended = time.time()
        proc.stop()
        if code != 0:
            raise RuntimeError(f"newsingest poll exited {code}:\n{proc.output[-3000:]}")
        return proc.marked_at or started, ended


@dataclass
class E2eRun:
    rate: float  # articles/s, first request to last row processed
    cpu_ratio: float
    note: str


def _e2e_run(
    b: Bench,
    engine: Engine,
    env: dict[str, str],
    roots: dict[str, int],
    *,
    service: bool,
    label: str,
) -> E2eRun:
    """One end-to-end run over the subscribed feeds (all due).

    ``service``: ``newsingest run`` (the long-running fetcher) is started and warms its
    extraction pool before its first poll; timing and CPU start at that poll's first line
    (as the bound's timing starts after its warm-up, and the workers are running already).
    Otherwise ``newsingest poll --all`` is timed from its first request, start-up included.
    """
    n = b.plan.articles
    timeout = _e2e_timeout(b)
    if service:
        with Proc(
            [newsingest_exe(), "run", "--max-wait", "1"], env, b.workdir, marker="polling "
        ) as proc:
            deadline = time.monotonic() + 180
            while proc.marked_at is None:
                if proc.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"newsingest run did not poll:\n{proc.output[-3000:]}")
                time.sleep(0.02)
            first = proc.marked_at
            cpu = CpuSampler({**roots, "poll": proc.proc.pid})
            state = wait_done(engine, n, timeout, poll_every=0.5)
            cpu.stop()
            code = proc.stop()
            if code != 0:
                raise RuntimeError(f"newsingest run exited {code}:\n{proc.output[-3000:]}")
            ready = next((line.strip() for line in proc.lines if "pool ready" in line), "")
        done_note = f"`newsingest run` start-up before its first poll: {ready or 'no pool'}"
    else:
        cpu = CpuSampler(dict(roots))
        first, poll_end = _poll(b, env, timeout, cpu)
        state = wait_done(engine, n, timeout, poll_every=0.5)
        cpu.stop()
        done_note = f"poll process done at {poll_end - first:.1f} s"
    if state.done < n or state.last_processed is None:
        raise _unfinished(state, n, "")
    elapsed = state.last_processed.timestamp() - first
    rate = state.processed / elapsed
    b.log(f"{label}: {rate:.2f} articles/s ({state.statuses}; last row at {elapsed:.1f}s)")
    b.log(cpu.note(GROUP_LABELS))
    b.log(f"idle cores per second: {cpu.idle_timeline()}")
    note = f"{done_note}; last article processed at {elapsed:.1f} s. {cpu.note(GROUP_LABELS)}"
    if state.processed != n:
        note += f" Statuses {state.statuses}."
    return E2eRun(rate, b.cpu_ratio(state.processed / cpu.pipeline()), note)


def _e2e_timeout(b: Bench) -> float:
    expected = 5 * b.plan.articles / max(b.bound or 1.0, 1.0)
    return expected + (60 if b.plan.smoke else 120)


def _unfinished(state: Progress, expected: int, output: str) -> RuntimeError:
    return RuntimeError(
        f"only {state.done} of {expected} articles finished ({state.statuses}); is another "
        f"consumer reading the same Redis database? Worker output:\n{output[-3000:]}"
    )


def _e2e_row(
    b: Bench, key: str, title: str, measured: str, runs: list[E2eRun], cold: E2eRun | None
) -> None:
    rate = median([r.rate for r in runs])
    ratio = b.ratio(rate)
    notes = [f"run {i + 1}: {r.note}" for i, r in enumerate(runs)]
    if cold is not None:
        notes.append(
            f"cold, `newsingest poll --all` as from cron (start-up and pool warm-up inside the "
            f"timing, one run): {fmt(cold.rate, 2)} articles/s = {fmt(b.ratio(cold.rate), 2)} x "
            f"bound; CPU-normalised {fmt(cold.cpu_ratio, 2)} x. {cold.note}"
        )
    b.rows.append(
        Row(
            key=key,
            title=title,
            measured=measured,
            size=f"{b.plan.articles} articles ({b.plan.feeds} feeds x {b.plan.items})",
            runs=[r.rate for r in runs],
            unit="articles/s",
            value=ratio,
            shown=f"{fmt(rate, 2)} articles/s = **{fmt(ratio, 2)} x bound**; CPU-normalised "
            f"{fmt(median([r.cpu_ratio for r in runs]), 2)} x",
            target="ratio >= 0.85",
            passed=ratio >= 0.85,
            notes=notes,
        )
    )


def row_e2e_redis(b: Bench) -> None:
    plan = b.plan
    assert b.site is not None
    runs: list[E2eRun] = []
    cold: E2eRun | None = None
    with pg_database(b.postgres, "e2e") as db_url, engine_for(db_url) as engine:
        feeds = make_feeds(b.site, b.bases, plan.feeds, plan.items, "e2e")
        add_feeds(engine, feeds.urls)
        env = b.env(
            database_url=db_url,
            broker_url=b.redis,
            concurrency=str(plan.workers),
            allowed_networks="127.0.0.0/8",
        )
        flush_redis(b.redis)
        with celery_worker(env, plan.workers, b.workdir) as worker:
            roots = {"workers": worker.proc.pid, "HTTP server": b.server_pid}
            for r in range(plan.e2e_repeats + (0 if plan.smoke else 1)):
                reset_postgres(engine)
                service = r < plan.e2e_repeats
                label = f"e2e redis run {r + 1}" if service else "e2e redis cold run"
                try:
                    run = _e2e_run(b, engine, env, roots, service=service, label=label)
                except RuntimeError as exc:
                    raise RuntimeError(f"{exc}\nWorker output:\n{worker.output[-3000:]}") from None
                if service:
                    runs.append(run)
                else:
                    cold = run
    flush_redis(b.redis)
    _e2e_row(
        b,
        "e2e_redis",
        "End to end, Redis + PostgreSQL",
        f"`newsingest run` (the long-running fetcher, {plan.workers} extraction processes, "
        f"warmed before its first poll) -> HTTP from a loopback server -> trafilatura -> Redis "
        f"-> `newsingest worker --concurrency {plan.workers}` -> PostgreSQL; its first poll's "
        "start to the last article row processed",
        runs,
        cold,
    )


def row_e2e_inprocess(b: Bench) -> None:
    plan = b.plan
    assert b.site is not None
    runs: list[E2eRun] = []
    cold: E2eRun | None = None
    feeds = make_feeds(b.site, b.bases, plan.feeds, plan.items, "e2e")
    for r in range(plan.e2e_repeats + (0 if plan.smoke else 1)):
        db = b.workdir / f"inprocess-{r}.db"
        url = f"sqlite:///{db}"
        upgrade(url)
        service = r < plan.e2e_repeats
        with engine_for(url) as engine:
            add_feeds(engine, feeds.urls)
            env = b.env(
                database_url=url, concurrency=str(plan.workers), allowed_networks="127.0.0.0/8"
            )
            label = f"e2e in-process run {r + 1}" if service else "e2e in-process cold run"
            run = _e2e_run(
                b, engine, env, {"HTTP server": b.server_pid}, service=service, label=label
            )
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        if service:
            runs.append(run)
        else:
            cold = run
    _e2e_row(
        b,
        "e2e_inprocess",
        "End to end, in-process (no Redis, SQLite)",
        f"`newsingest run` with NEWSINGEST_CONCURRENCY={plan.workers} (pool and model warmed "
        "before its first poll): fetch, trafilatura and NER in one process tree -> SQLite; its "
        "first poll's start to the last article row processed",
        runs,
        cold,
    )
