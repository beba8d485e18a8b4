"""One-shot polling for cron: `poll` and `sweep`, with progress output."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Annotated, Any

import typer
from sqlalchemy.engine import Engine

from newsingest.cli.common import (
    EXIT_BAD_INPUT,
    Commands,
    check_model,
    engine,
    err,
    fail,
    infrastructure,
    out,
    settings,
)
from schemas.settings import Settings

commands = Commands()


class PlainReporter:
    """One line per feed, for cron mail and pipes."""

    def feeds_started(self, total: int) -> None:
        err.print(f"polling {total} feed(s)")

    def feed_done(self, url: str, outcome: str) -> None:
        err.print(f"feed {url}: {outcome}")

    def articles_found(self, count: int) -> None: ...

    def article_done(self, url: str, outcome: str) -> None: ...


class ProgressReporter:
    """Rich progress bars for feeds and articles, on a terminal."""

    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self.feeds = progress.add_task("feeds", total=0)
        self.articles = progress.add_task("articles", total=0)

    def feeds_started(self, total: int) -> None:
        self.progress.update(self.feeds, total=total)

    def feed_done(self, url: str, outcome: str) -> None:
        self.progress.advance(self.feeds)
        if outcome.startswith("failed"):
            self.progress.console.print(f"[red]feed {url}: {outcome}")

    def articles_found(self, count: int) -> None:
        task = self.progress.tasks[self.articles]
        self.progress.update(self.articles, total=(task.total or 0) + count)

    def article_done(self, url: str, outcome: str) -> None:
        self.progress.advance(self.articles)


def warn_unconsumed(app: Any, queue: str) -> None:
    """Say so when work was handed to a queue that no worker consumes: cron + a worker that
    serves other queues would otherwise leave it there without a word."""
    from schemas.queue import consumers

    if consumers(app, queue) == []:
        err.print(
            f"[yellow]warning:[/] no worker consumes the {queue} queue, so nothing will "
            f"process this work: start `newsingest worker` (it serves every queue) or "
            f"`newsingest worker --queues {queue}`"
        )


def poll_once(
    s: Settings, bound: Engine, *, all_feeds: bool = False, urls: list[str] | None = None
) -> Any:
    """One poll with progress output; in-process mode runs the entity stage too."""
    import asyncio

    from rich.progress import Progress

    from ingest.poll import run_poll
    from newsingest.wiring import make_enqueuer, make_extractor

    extractor = make_extractor(s)
    try:
        enqueuer = make_enqueuer(s, extractor)
        with ExitStack() as stack:
            reporter: Any = PlainReporter()
            if err.is_terminal:
                progress = stack.enter_context(Progress(console=err, transient=True))
                reporter = ProgressReporter(progress)
            return asyncio.run(
                run_poll(
                    s,
                    bound,
                    enqueuer,
                    reporter=reporter,
                    everything=all_feeds,
                    urls=urls,
                    extractor=extractor,
                )
            )
    finally:
        extractor.close()


def print_summary(s: Settings, summary: Any) -> None:
    handed = "enqueued" if s.broker_url else "with entities (in-process)"
    out.print(
        f"feeds: {summary.feeds_polled} polled, {summary.feeds_not_modified} not modified, "
        f"{summary.feeds_failed} failed, {summary.feeds_locked} locked by another run"
    )
    out.print(
        f"articles: {summary.articles_new} new, {summary.articles_duplicate} duplicate, "
        f"{summary.articles_not_article} not an article, {summary.articles_failed} failed, "
        f"{summary.articles_retry} to retry, {summary.articles_enqueued} {handed}"
    )
    canonical = getattr(summary, "articles_canonical_duplicate", 0)
    near = getattr(summary, "articles_near_duplicate", 0)
    if canonical or near:
        out.print(
            f"dedup: {canonical} with the canonical URL of a stored article, "
            f"{near} new linked to a near-duplicate"
        )
    if getattr(summary, "feeds_deactivated", 0):
        out.print(f"feeds deactivated: {summary.feeds_deactivated} (see `newsingest feeds health`)")
    for url, reason in summary.failures:
        err.print(f"[yellow]failed[/] {url}: {reason}")


@commands.command("poll")
def poll_cmd(
    all_feeds: Annotated[bool, typer.Option("--all", help="Poll every active feed now.")] = False,
    feed: Annotated[
        list[str] | None, typer.Option("--feed", help="Poll only this feed URL (repeatable).")
    ] = None,
    inline: Annotated[
        bool,
        typer.Option(
            "--inline",
            help="Poll in this process even though a broker is configured (no fetch workers).",
        ),
    ] = False,
) -> None:
    """Poll the due feeds once and exit (for cron). Exit 0 when the run completed.

    Without a broker the poll runs here (downloads, extraction, entities). With
    NEWSINGEST_BROKER_URL it only hands the due feeds to fetch workers
    (`newsingest worker -Q fetch`), unless --inline.
    """

    from schemas.urls import InvalidUrl, normalize_url

    s = settings()
    urls = None
    if feed:
        try:
            urls = [normalize_url(u) for u in feed]
        except InvalidUrl as exc:
            raise fail(f"--feed: {exc.message}", EXIT_BAD_INPUT) from None
    if s.in_process:
        check_model(s)
    bound = engine()
    if s.broker_url and not inline:
        from ingest.dispatch import PollTaskSender, enqueue_due
        from schemas.queue import FETCH_QUEUE

        with infrastructure("broker"):
            sender = PollTaskSender.from_settings(s)
            try:
                sent = enqueue_due(s, bound, sender, everything=all_feeds, urls=urls)
                if sent:
                    warn_unconsumed(sender.app, FETCH_QUEUE)
            finally:
                sender.close()
        if feed and sent == 0:
            raise fail("no active subscribed feed matches --feed", EXIT_BAD_INPUT)
        out.print(f"feeds: {sent} handed to fetch workers (queue fetch)")
        return
    with infrastructure("broker"):
        summary = poll_once(s, bound, all_feeds=all_feeds, urls=urls)
    if feed and summary.feeds_polled + summary.feeds_locked == 0:
        raise fail("no active subscribed feed matches --feed", EXIT_BAD_INPUT)
    print_summary(s, summary)


@commands.command("sweep")
def sweep_cmd(
    older_than: Annotated[
        int, typer.Option(help="Re-send articles queued longer ago than this (seconds).")
    ] = 900,
) -> None:
    """Re-send articles stored but not yet processed (after a Redis loss, for instance)."""
    from datetime import timedelta

    from ingest.articles import queued_older_than

    s = settings()
    if s.in_process:
        check_model(s)
    bound = engine()
    with infrastructure("database"), bound.begin() as conn:
        hashes = queued_older_than(conn, timedelta(seconds=older_than))
    with infrastructure("broker"):
        from newsingest.wiring import make_enqueuer

        sent = make_enqueuer(s).send(hashes) if hashes else 0
    where = "re-sent to the extract queue" if s.broker_url else "processed in-process"
    out.print(f"{sent} article(s) {where}")


def register(app: typer.Typer) -> None:
    commands.register(app)
