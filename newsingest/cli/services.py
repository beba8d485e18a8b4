"""Long-running processes: `worker` (Celery), `scheduler` and `run` (the service loop)."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from newsingest.cli.common import (
    EXIT_CONFIG,
    Commands,
    check_model,
    engine,
    err,
    fail,
    infrastructure,
    out,
    settings,
)

commands = Commands()


@commands.command("worker")
def worker_cmd(
    queues: Annotated[
        str | None,
        typer.Option(
            "--queues", "-Q", help="Comma-separated queues to consume (default: every queue)."
        ),
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", "-c", help="Processes (default: settings).")
    ] = None,
) -> None:
    """Run a Celery worker with the project's settings (needs NEWSINGEST_BROKER_URL)."""
    s = settings()
    if s.broker_url is None:
        raise fail("a worker needs NEWSINGEST_BROKER_URL (a Redis URL)", EXIT_CONFIG)
    from schemas.queue import ENTITIES_QUEUE, QUEUES

    wanted = list(QUEUES) if queues is None else [q.strip() for q in queues.split(",") if q.strip()]
    unknown = set(wanted) - set(QUEUES)
    if unknown or not wanted:
        raise fail(f"unknown queue(s) {sorted(unknown)}; use {', '.join(QUEUES)}", EXIT_CONFIG)
    if ENTITIES_QUEUE in wanted:
        check_model(s)
    engine()  # refuses an uninitialised database before any worker forks
    if ENTITIES_QUEUE in wanted:
        # Loaded before the prefork children exist: they share it (copy-on-write) instead of
        # each loading the pipeline and py3langid's model again (profiled: the language
        # model alone was most of a child's CPU on its first batches).
        from workers.nlp import get_pipeline, resolve_model, warm_language_detection

        get_pipeline(resolve_model(s))
        warm_language_detection()
    from schemas.metrics_server import serve_metrics

    serve_metrics(s)  # before the prefork children exist: they count into the shared dir
    from newsingest.fetch_task import celery_app  # both tasks registered
    from schemas.db import dispose_engines

    # Read by the prefork children: a fetch-only worker does not load spaCy.
    os.environ["NEWSINGEST_WORKER_QUEUES"] = ",".join(wanted)
    dispose_engines()
    celery_app.worker_main(
        [
            "worker",
            f"--queues={','.join(wanted)}",
            f"--concurrency={concurrency or s.workers}",
            f"--loglevel={s.log_level}",
            "--pool=prefork",
            "--without-gossip",
            "--without-mingle",
        ]
    )


@commands.command("scheduler")
def scheduler_cmd() -> None:
    """Hand due feeds to fetch workers until stopped (long-running, like celery beat).

    Needs NEWSINGEST_BROKER_URL. Any number of schedulers may run: each feed is handed out
    once per due time. Also re-sends articles whose entity message was lost.
    """
    import signal
    import threading
    import time

    from ingest.dispatch import PollTaskSender, run_scheduler
    from ingest.enqueue import CeleryEnqueuer
    from newsingest.cli.poll import warn_unconsumed
    from schemas.queue import FETCH_QUEUE

    s = settings()
    if s.broker_url is None:
        raise fail("the scheduler needs NEWSINGEST_BROKER_URL (a Redis URL)", EXIT_CONFIG)
    bound = engine()
    from schemas.metrics_server import serve_metrics

    serve_metrics(s)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    last_check = [-1e9]

    def report(result: Any) -> None:
        if result.enqueued and time.monotonic() - last_check[0] > 300:
            last_check[0] = time.monotonic()  # asking the workers takes a second: not every pass
            warn_unconsumed(sender.app, FETCH_QUEUE)
        if result.enqueued or result.swept:
            out.print(
                f"scheduler: {result.enqueued} feed(s) handed to fetch workers, "
                f"{result.swept} article(s) re-sent"
            )

    with infrastructure("broker"):
        sender = PollTaskSender.from_settings(s)
        enqueuer = CeleryEnqueuer(sender.app)
        err.print("scheduler started")
        try:
            passes = run_scheduler(s, bound, sender, enqueuer, stop, on_pass=report)
        finally:
            sender.close()
    err.print(f"scheduler stopped after {passes} pass(es)")


@commands.command("run")
def run_cmd(
    max_wait: Annotated[
        float, typer.Option(help="Longest sleep between two polls, in seconds.")
    ] = 60.0,
) -> None:
    """Poll due feeds forever (a long-running service); stops cleanly on SIGTERM or Ctrl-C."""
    import asyncio

    from newsingest.cli.poll import PlainReporter, print_summary
    from newsingest.service import serve
    from schemas.metrics_server import serve_metrics

    s = settings()
    if s.in_process:
        check_model(s)
    bound = engine()
    serve_metrics(s)  # before the extraction pool starts, so its processes count too

    def ready(seconds: float) -> None:
        if s.workers:
            err.print(f"extraction pool ready ({s.workers} processes, {seconds:.1f} s)")

    with infrastructure("broker"):
        cycles = asyncio.run(
            serve(
                s,
                bound,
                max_wait=max_wait,
                reporter=PlainReporter(),
                on_summary=lambda summary: print_summary(s, summary),
                on_ready=ready,
            )
        )
    err.print(f"stopped after {cycles} poll cycle(s)")


def register(app: typer.Typer) -> None:
    commands.register(app)
