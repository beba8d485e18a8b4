"""The ``newsingest`` command line.

Exit codes: 0 done; 1 bad input (an invalid URL, an unreadable file); 2 bad
configuration or usage; 3 infrastructure unavailable (database, broker).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Annotated, Any, TypeVar

import sqlalchemy.exc
import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import Engine
from sqlmodel import Session

from schemas.errors import (
    BrokerUnavailable,
    ConfigError,
    DatabaseUnavailable,
    NewsIngestError,
    TransientError,
)
from schemas.settings import Settings, get_settings

EXIT_OK = 0
EXIT_BAD_INPUT = 1
EXIT_CONFIG = 2
EXIT_INFRA = 3
EXIT_UNHEALTHY = 4  # `status --check` found something that needs a person

app = typer.Typer(
    name="newsingest",
    help="Poll news feeds, extract articles and their entities into a database.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
feeds_app = typer.Typer(help="Manage the subscribed feeds.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(feeds_app, name="feeds")
app.add_typer(db_app, name="db")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])


@app.callback()
def _setup() -> None:
    """Logging to stderr at NEWSINGEST_LOG_LEVEL (HTTP client chatter only from WARNING)."""
    import logging

    try:
        level = get_settings().log_level
    except ConfigError:
        level = "INFO"  # the command itself reports the invalid setting
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore", "alembic", "trafilatura", "htmldate", "courlan"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def print_rows(title: str, columns: list[str], rows: list[list[str]]) -> None:
    """A rich table on a terminal; tab-separated lines (header first) for pipes and cron mail."""
    if out.is_terminal:
        table = Table(*columns, title=title)
        for row in rows:
            table.add_row(*row)
        out.print(table)
        return
    for row in [columns, *rows]:
        sys.stdout.write("\t".join(cell.replace("\t", " ") for cell in row) + "\n")
    sys.stdout.flush()


def fail(message: str, code: int) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def settings() -> Settings:
    try:
        return get_settings()
    except ConfigError as exc:
        raise fail(exc.message, EXIT_CONFIG) from None


def _infra_error(exc: BaseException) -> BaseException | None:
    """The first database or broker failure in ``exc`` (looking inside exception groups)."""
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _infra_error(inner)
            if found is not None:
                return found
        return None
    if isinstance(exc, sqlalchemy.exc.OperationalError | DatabaseUnavailable | BrokerUnavailable):
        return exc
    return None


@contextmanager
def infrastructure(what: str) -> Iterator[None]:
    """Turn connection failures into a one-line error and exit code 3."""
    try:
        yield
    except (sqlalchemy.exc.OperationalError, TransientError, BaseExceptionGroup) as exc:
        found = _infra_error(exc)
        if found is None:
            raise
        if isinstance(found, sqlalchemy.exc.OperationalError):
            reason = str(found.orig or found).strip().splitlines()[0]
            raise fail(f"database unavailable: {reason}", EXIT_INFRA) from None
        raise fail(f"{what} unavailable: {found}", EXIT_INFRA) from None


def engine() -> Engine:
    from schemas.db import current_revision, get_engine, head_revision

    url = settings().database_url
    with infrastructure("database"):
        revision = current_revision(url)
    if revision != head_revision():
        state = "has no schema" if revision is None else f"is at revision {revision}"
        raise fail(f"the database {state}: run `newsingest init` first", EXIT_CONFIG)
    return get_engine(url)


@contextmanager
def session() -> Iterator[Session]:
    from schemas.db import session_scope

    bound = engine()
    with infrastructure("database"), session_scope(bound) as s:
        yield s


@app.command("config")
def config_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the effective settings (secrets masked)."""
    values = settings().masked()
    if as_json:
        import json

        out.print_json(json.dumps(values, default=str))
        return
    rows = [
        [f"NEWSINGEST_{name.upper()}", "" if value is None else str(value)]
        for name, value in values.items()
    ]
    print_rows("effective settings", ["variable", "value"], rows)


@app.command("init")
def init_cmd() -> None:
    """Create or upgrade the database schema (safe to run again)."""
    from schemas.db import current_revision, upgrade

    url = settings().database_url
    with infrastructure("database"):
        before = current_revision(url)
        upgrade(url)
        after = current_revision(url)
    from schemas.settings import mask_url

    if before == after:
        out.print(f"database {mask_url(url)} already at revision {after}")
    else:
        out.print(f"database {mask_url(url)} upgraded {before or 'empty'} -> {after}")


@db_app.command("upgrade")
def db_upgrade_cmd() -> None:
    """Same as `newsingest init`."""
    init_cmd()


@db_app.command("current")
def db_current_cmd() -> None:
    """Print the schema revision of the database and the latest one."""
    from schemas.db import current_revision, head_revision

    with infrastructure("database"):
        revision = current_revision(settings().database_url)
    out.print(f"current: {revision or 'none'}  head: {head_revision()}")


def discover_all(urls: list[str]) -> list[str]:
    """Replace each URL by the feeds found for it (``feeds add --discover``)."""
    import asyncio

    from ingest.discover import discover
    from ingest.feedlist import validate_urls
    from ingest.http import make_client

    good, bad = validate_urls(urls)
    for raw, reason in bad:
        err.print(f"[red]invalid[/] {raw}: {reason}")
    if bad:
        raise fail(f"{len(bad)} invalid URL(s); nothing added", EXIT_BAD_INPUT)

    async def run() -> list[str]:
        found: list[str] = []
        async with make_client(settings()) as client:
            for url in good:
                try:
                    feeds = await discover(client, settings(), url)
                except NewsIngestError as exc:
                    raise fail(f"{url}: {exc}", EXIT_BAD_INPUT) from None
                if not feeds:
                    raise fail(f"{url}: no feed found on this site", EXIT_BAD_INPUT)
                for feed in feeds:
                    out.print(f"found {feed} (from {url})")
                found += feeds
        return found

    return asyncio.run(run())


@feeds_app.command("add")
def feeds_add(
    urls: Annotated[list[str], typer.Argument(help="Feed URLs (RSS, Atom, JSON Feed, sitemap).")],
    ignore_robots: Annotated[
        bool,
        typer.Option(
            "--ignore-robots",
            help="Do not check robots.txt for this feed's articles (your own sites, licensed "
            "content).",
        ),
    ] = False,
    discover: Annotated[
        bool,
        typer.Option(
            "--discover",
            help="Fetch each URL; if it is a site's page rather than a feed, subscribe to the "
            "feeds and news sitemaps it advertises (link rel=alternate, robots.txt, common paths).",
        ),
    ] = False,
) -> None:
    """Subscribe to feeds. Nothing is added if any URL is invalid."""
    from ingest.feedlist import add_feeds

    if discover:
        urls = discover_all(urls)
    with session() as s:
        result = add_feeds(
            s,
            urls,
            poll_interval=settings().default_poll_interval,
            respect_robots=not ignore_robots,
        )
        if result.invalid:
            s.rollback()
    for raw, reason in result.invalid:
        err.print(f"[red]invalid[/] {raw}: {reason}")
    if result.invalid:
        raise fail(f"{len(result.invalid)} invalid URL(s); nothing added", EXIT_BAD_INPUT)
    for url in result.added:
        out.print(f"added {url}")
    for url in result.duplicates:
        out.print(f"[yellow]duplicate[/] {url} (already subscribed)")
    out.print(f"{len(result.added)} added, {len(result.duplicates)} duplicate")


@feeds_app.command("remove")
def feeds_remove(urls: Annotated[list[str], typer.Argument(help="Feed URLs.")]) -> None:
    """Unsubscribe from feeds (their articles stay)."""
    from ingest.feedlist import remove_feeds

    with session() as s:
        removed, missing = remove_feeds(s, urls)
    for url in removed:
        out.print(f"removed {url}")
    for url in missing:
        err.print(f"[yellow]not subscribed[/] {url}")
    if missing:
        raise typer.Exit(EXIT_BAD_INPUT)


@feeds_app.command("reactivate")
def feeds_reactivate(urls: Annotated[list[str], typer.Argument(help="Feed URLs.")]) -> None:
    """Put deactivated feeds (410 Gone, a failure streak) back in the schedule, due now."""
    import sqlalchemy as sa

    from ingest.schedule import FEED, reactivate
    from schemas.urls import InvalidUrl, normalize_url

    try:
        wanted = {normalize_url(u): u for u in urls}
    except InvalidUrl as exc:
        raise fail(exc.message, EXIT_BAD_INPUT) from None
    bound = engine()
    missing = []
    with infrastructure("database"), bound.begin() as conn:
        rows = conn.execute(sa.select(FEED.c.url, FEED.c.id).where(FEED.c.url.in_(wanted)))
        found: dict[str, int] = {row.url: row.id for row in rows}
        for url, given in wanted.items():
            if url in found and reactivate(conn, found[url]):
                out.print(f"reactivated {url}")
            else:
                missing.append(given)
    for url in missing:
        err.print(f"[yellow]not subscribed[/] {url}")
    if missing:
        raise typer.Exit(EXIT_BAD_INPUT)


@feeds_app.command("list")
def feeds_list(
    active: Annotated[bool, typer.Option("--active", help="Only active feeds.")] = False,
) -> None:
    """List the subscribed feeds."""
    from ingest.feedlist import list_feeds
    from schemas.models import as_utc

    with session() as s:
        feeds = list_feeds(s, active_only=active)
    columns = [
        "id", "url", "kind", "title", "active", "robots", "next poll", "failures", "last error"
    ]  # fmt: skip
    rows = []
    for f in feeds:
        next_poll = as_utc(f.next_poll_at)
        rows.append(
            [
                str(f.id),
                f.url,
                f.kind,
                f.title or "",
                "yes" if f.active else "no",
                "obey" if f.respect_robots else "ignore",
                next_poll.strftime("%Y-%m-%d %H:%M") if next_poll else "",
                str(f.consecutive_failures),
                f.last_error or "",
            ]
        )
    print_rows("feeds", columns, rows)
    err.print(f"{len(feeds)} feed(s)")


@feeds_app.command("import")
def feeds_import(
    path: Annotated[Path, typer.Argument(help="An OPML file.", exists=False)],
) -> None:
    """Subscribe to every feed of an OPML file."""
    from ingest.feedlist import add_feeds
    from ingest.opml import parse_opml

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror}", EXIT_BAD_INPUT) from None
    try:
        subs = parse_opml(data)
    except NewsIngestError as exc:
        raise fail(f"{path}: {exc.message}", EXIT_BAD_INPUT) from None
    with session() as s:
        result = add_feeds(
            s,
            [sub.url for sub in subs],
            titles={sub.url: sub.title for sub in subs},
            poll_interval=settings().default_poll_interval,
        )
        if result.invalid:
            s.rollback()
    for raw, reason in result.invalid:
        err.print(f"[red]invalid[/] {raw}: {reason}")
    if result.invalid:
        raise fail(f"{len(result.invalid)} invalid URL(s) in {path}; nothing added", EXIT_BAD_INPUT)
    out.print(f"{len(result.added)} added, {len(result.duplicates)} duplicate, from {path}")


@feeds_app.command("export")
def feeds_export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to a file instead of stdout.")
    ] = None,
) -> None:
    """Write the subscribed feeds as OPML."""
    from ingest.feedlist import list_feeds
    from ingest.opml import Subscription, build_opml

    with session() as s:
        subs = [Subscription(url=f.url, title=f.title) for f in list_feeds(s)]
    data = build_opml(subs)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        output.write_bytes(data)
        err.print(f"{len(subs)} feed(s) written to {output}")


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


def make_enqueuer(s: Settings, extractor: Any = None) -> Any:
    """Celery by name with a broker; else the entity stage in this process tree."""
    if s.broker_url is None:
        from workers.inprocess import LocalEnqueuer

        return LocalEnqueuer(s, extractor.executor if extractor is not None else lambda: None)
    from ingest.enqueue import CeleryEnqueuer

    return CeleryEnqueuer.from_settings(s)


def pool_model(s: Settings) -> str | None:
    """The model the extraction pool preloads: the entity stage runs there in-process."""
    if not s.in_process:
        return None
    from workers.nlp import resolve_model

    return resolve_model(s)


def check_model(s: Settings) -> None:
    """Refuse to start when the spaCy model cannot be found, saying how to install it."""
    from workers.nlp import model_available, resolve_model

    try:
        model_available(resolve_model(s))
    except ConfigError as exc:
        raise fail(exc.message, EXIT_CONFIG) from None


def poll_once(
    s: Settings, bound: Engine, *, all_feeds: bool = False, urls: list[str] | None = None
) -> Any:
    """One poll with progress output; in-process mode runs the entity stage too."""
    import asyncio

    from rich.progress import Progress

    from ingest.poll import Extractor, run_poll

    extractor = Extractor(s.workers, model=pool_model(s))
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


@app.command("poll")
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
        from ingest.scheduler import PollTaskSender, enqueue_due

        with infrastructure("broker"):
            sender = PollTaskSender.from_settings(s)
            try:
                sent = enqueue_due(s, bound, sender, everything=all_feeds, urls=urls)
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


@app.command("sweep")
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
        sent = make_enqueuer(s).send(hashes) if hashes else 0
    where = "re-sent to the extract queue" if s.broker_url else "processed in-process"
    out.print(f"{sent} article(s) {where}")


@app.command("worker")
def worker_cmd(
    queues: Annotated[
        str, typer.Option("--queues", "-Q", help="Comma-separated queues to consume.")
    ] = "extract",
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", "-c", help="Processes (default: settings).")
    ] = None,
) -> None:
    """Run a Celery worker with the project's settings (needs NEWSINGEST_BROKER_URL)."""
    s = settings()
    if s.broker_url is None:
        raise fail("a worker needs NEWSINGEST_BROKER_URL (a Redis URL)", EXIT_CONFIG)
    wanted = [q.strip() for q in queues.split(",") if q.strip()]
    from schemas.messages import EXTRACT_QUEUE, FETCH_QUEUE

    unknown = set(wanted) - {EXTRACT_QUEUE, FETCH_QUEUE}
    if unknown or not wanted:
        raise fail(f"unknown queue(s) {sorted(unknown)}; use extract and/or fetch", EXIT_CONFIG)
    if EXTRACT_QUEUE in wanted:
        check_model(s)
    engine()  # refuses an uninitialised database before any worker forks
    if EXTRACT_QUEUE in wanted:
        # Loaded before the prefork children exist: they share it (copy-on-write) instead of
        # each loading the pipeline and py3langid's model again (profiled: the language
        # model alone was most of a child's CPU on its first batches).
        from workers.nlp import get_pipeline, resolve_model, warm_language_detection

        get_pipeline(resolve_model(s))
        warm_language_detection()
    from ingest.metrics import serve_metrics

    serve_metrics(s)  # before the prefork children exist: they count into the shared dir
    import workers.fetch_tasks  # noqa: F401  (registers newsingest.poll_feed)
    from schemas.db import dispose_engines
    from workers.tasks import app as celery_app

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


@app.command("scheduler")
def scheduler_cmd() -> None:
    """Hand due feeds to fetch workers until stopped (long-running, like celery beat).

    Needs NEWSINGEST_BROKER_URL. Any number of schedulers may run: each feed is handed out
    once per due time. Also re-sends articles whose extract message was lost.
    """
    import signal
    import threading

    from ingest.enqueue import CeleryEnqueuer
    from ingest.scheduler import PollTaskSender, run_scheduler

    s = settings()
    if s.broker_url is None:
        raise fail("the scheduler needs NEWSINGEST_BROKER_URL (a Redis URL)", EXIT_CONFIG)
    bound = engine()
    from ingest.metrics import serve_metrics

    serve_metrics(s)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    def report(result: Any) -> None:
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


@app.command("run")
def run_cmd(
    max_wait: Annotated[
        float, typer.Option(help="Longest sleep between two polls, in seconds.")
    ] = 60.0,
) -> None:
    """Poll due feeds forever (a long-running service); stops cleanly on SIGTERM or Ctrl-C."""
    import asyncio
    import signal
    import time
    from datetime import timedelta

    from ingest import http
    from ingest.articles import queued_older_than
    from ingest.poll import Extractor, run_poll
    from ingest.schedule import next_due
    from schemas.models import utcnow

    s = settings()
    if s.in_process:
        check_model(s)
    bound = engine()
    from ingest.metrics import record_poll_summary, serve_metrics

    serve_metrics(s)  # before the extraction pool starts, so its processes count too

    async def service() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        extractor = Extractor(s.workers, model=pool_model(s))
        enqueuer = make_enqueuer(s, extractor)
        cycles = 0
        try:
            # A service warms its extraction pool (and, in-process, the model) before the
            # first poll, so that no page waits on it; a one-off `poll` overlaps the two.
            warmed = await extractor.warm()
            http.warm_up()
            if s.workers:
                err.print(f"extraction pool ready ({s.workers} processes, {warmed:.1f} s)")
            while not stop.is_set():
                started = time.monotonic()
                poll = asyncio.ensure_future(
                    run_poll(s, bound, enqueuer, reporter=PlainReporter(), extractor=extractor)
                )
                stopper = asyncio.ensure_future(stop.wait())
                await asyncio.wait({poll, stopper}, return_when=asyncio.FIRST_COMPLETED)
                if not poll.done():
                    poll.cancel()
                    await asyncio.gather(poll, return_exceptions=True)
                    break
                stopper.cancel()
                print_summary(s, poll.result())
                record_poll_summary(poll.result(), seconds=time.monotonic() - started)
                cycles += 1
                with bound.begin() as conn:
                    # Articles stored but never processed (a lost message): send them again.
                    stale = queued_older_than(conn, timedelta(seconds=max(900, s.lock_ttl)))
                    soonest = next_due(conn)
                if stale:
                    await asyncio.to_thread(enqueuer.send, stale)
                wait = max_wait
                if soonest is not None:
                    wait = min(max_wait, max(1.0, (soonest - utcnow()).total_seconds()))
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=wait)
        finally:
            await asyncio.to_thread(extractor.close)
        return cycles

    with infrastructure("broker"):
        cycles = asyncio.run(service())
    err.print(f"stopped after {cycles} poll cycle(s)")


dlq_app = typer.Typer(help="Dead letters: messages that failed for good.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")


@dlq_app.command("list")
def dlq_list(
    everything: Annotated[bool, typer.Option("--all", help="Include replayed ones.")] = False,
) -> None:
    """List dead letters (open ones by default)."""
    import sqlalchemy as sa

    from schemas.models import DeadLetter

    with session() as sess:
        stmt = sa.select(DeadLetter).order_by(DeadLetter.id)  # type: ignore[arg-type]
        if not everything:
            stmt = stmt.where(DeadLetter.replayed_at.is_(None))  # type: ignore[union-attr]
        letters = list(sess.execute(stmt).scalars())
    rows = [
        [
            str(d.id),
            d.stage,
            d.key or "",
            str(d.attempts),
            d.last_failed_at.strftime("%Y-%m-%d %H:%M:%S"),
            d.replayed_at.strftime("%Y-%m-%d %H:%M:%S") if d.replayed_at else "",
            d.error[:200],
        ]
        for d in letters
    ]
    print_rows(
        "dead letters",
        ["id", "stage", "key", "attempts", "last failure", "replayed", "error"],
        rows,
    )
    err.print(f"{len(letters)} dead letter(s)")


@dlq_app.command("replay")
def dlq_replay(
    ids: Annotated[list[int] | None, typer.Argument(help="Dead letter ids.")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Replay every open one.")] = False,
) -> None:
    """Send dead letters through the entity stage again (after the cause is fixed)."""
    from workers.replay import replay

    if not ids and not everything:
        raise fail("give dead letter ids or --all", EXIT_CONFIG)
    s = settings()
    if s.in_process:
        check_model(s)
    bound = engine()
    with infrastructure("broker"):
        result = replay(bound, s, make_enqueuer(s), None if everything else ids)
    for letter_id, problem in result.refused:
        err.print(f"[yellow]not replayed[/] {letter_id}: {problem}")
    where = "re-sent" if s.broker_url else "processed again"
    out.print(f"{result.replayed} dead letter(s) replayed, {result.articles} article(s) {where}")
    if result.refused:
        raise typer.Exit(EXIT_BAD_INPUT)


@app.command("demo")
def demo_cmd(
    port: Annotated[int, typer.Option(help="Loopback port for the sample site.")] = 8765,
) -> None:
    """Offline first run: serve a bundled sample news site on loopback and ingest it end to end."""
    import ipaddress

    import sqlalchemy as sa

    from ingest.demo import FEEDS, serve
    from ingest.feedlist import add_feeds
    from schemas.db import session_scope, upgrade
    from schemas.models import Article, Entity, Mention
    from workers.nlp import RULES_MODEL, model_available, resolve_model

    s = settings()
    model = resolve_model(s)
    try:
        model_available(model)
    except ConfigError:
        err.print(
            f"[yellow]note:[/] spaCy model {model!r} is not installed; the demo uses newsingest's "
            "small rule-based fallback, which finds far fewer entities than a trained model "
            "(it knows people after a title and organisations by their last word)."
        )
        model = RULES_MODEL
    loopback = ipaddress.ip_network("127.0.0.1/32")
    s = s.model_copy(
        update={
            "allowed_networks": [*s.allowed_networks, loopback],
            "spacy_model": model,
            "respect_robots": False,
        }
    )
    with infrastructure("database"):
        upgrade(s.database_url)
    bound = engine()
    server = serve(port)
    try:
        base = server.__enter__()
    except OSError:
        err.print(f"[yellow]note:[/] port {port} is taken; serving on a free port instead")
        server = serve(0)
        base = server.__enter__()
    try:
        out.print(f"serving the sample site at {base}/ (a fictional newspaper)")
        with session_scope(bound) as sess:
            added = add_feeds(sess, [f"{base}/{name}" for name in FEEDS])
        urls = [f"{base}/{name}" for name in FEEDS]
        out.print(f"feeds: {len(added.added)} added, {len(added.duplicates)} already there")
        with infrastructure("broker"):
            summary = poll_once(s, bound, urls=urls)
        print_summary(s, summary)
    finally:
        server.__exit__(None, None, None)

    with session_scope(bound) as sess:
        rows = sess.execute(
            sa.select(Article.title, Article.language, Article.status, Article.word_count)  # type: ignore[call-overload]
            .where(Article.url.like(f"{base}/%"))  # type: ignore[attr-defined]
            .order_by(Article.published_at)
        ).all()
        top = sess.execute(
            sa.select(Entity.label, Entity.name, sa.func.sum(Mention.count).label("n"))  # type: ignore[call-overload]
            .join(Mention, Mention.entity_id == Entity.id)
            .join(Article, Article.id == Mention.article_id)
            .where(Article.url.like(f"{base}/%"))  # type: ignore[attr-defined]
            .group_by(Entity.label, Entity.name)
            .order_by(sa.desc("n"), Entity.name)
            .limit(10)
        ).all()
        models = sess.execute(
            sa.select(Article.nlp_model, Article.nlp_model_version)  # type: ignore[call-overload]
            .where(Article.url.like(f"{base}/%"), Article.nlp_model.is_not(None))  # type: ignore[attr-defined,union-attr]
            .distinct()
        ).all()
    print_rows(
        "stored articles",
        ["title", "lang", "status", "words"],
        [[r.title or "", r.language or "", r.status, str(r.word_count)] for r in rows],
    )
    for name, version in models:
        out.print(f"entities by spaCy pipeline {name} {version}")
    print_rows(
        f"top entities ({model})",
        ["label", "entity", "mentions"],
        [[r.label, r.name, str(r.n)] for r in top],
    )
    out.print(f"stored in {s.database_url}; try `newsingest feeds list` and `newsingest dlq list`")


model_app = typer.Typer(help="The spaCy model used for entities.", no_args_is_help=True)
app.add_typer(model_app, name="model")


@model_app.command("info")
def model_info() -> None:
    """Show the active model: name, version, where it was loaded from, languages, labels."""
    from workers.nlp import load_pipeline, resolve_model

    source = resolve_model(settings())
    try:
        pipeline = load_pipeline(source)
    except ConfigError as exc:
        raise fail(exc.message, EXIT_CONFIG) from None
    rows = [
        ["name", pipeline.name],
        ["version", pipeline.version],
        ["loaded from", source],
        ["configured by", "NEWSINGEST_SPACY_MODEL" if settings().spacy_model else "default"],
        ["languages", ", ".join(sorted(pipeline.languages))],
        ["labels", ", ".join(pipeline.labels)],
        ["components", ", ".join(pipeline.nlp.pipe_names)],
    ]
    print_rows("spaCy model", ["field", "value"], rows)


@model_app.command("install")
def model_install(
    name: Annotated[str, typer.Argument(help="A spaCy model package, e.g. en_core_web_sm.")],
) -> None:
    """Download and install a spaCy model with `spacy download` (needs internet access)."""
    import re
    import subprocess

    if not re.fullmatch(r"[A-Za-z0-9_.\-]+", name):
        raise fail(f"not a model package name: {name!r}", EXIT_BAD_INPUT)
    run = subprocess.run([sys.executable, "-m", "spacy", "download", name], check=False)  # noqa: S603
    if run.returncode != 0:
        raise fail(
            f"`spacy download {name}` failed (exit {run.returncode}); it needs access to GitHub. "
            "Without internet, keep the bundled default (unset NEWSINGEST_SPACY_MODEL) or "
            "point NEWSINGEST_SPACY_MODEL at a pipeline directory.",
            EXIT_INFRA,
        )
    out.print(f"installed {name}; use it with NEWSINGEST_SPACY_MODEL={name}")


def _when(value: Any) -> str:
    """A UTC time as ``YYYY-MM-DD HH:MM``, or ``never``/empty."""
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else ""


def _seconds(value: int) -> str:
    """900 -> ``15m``, 5400 -> ``1h30m``, 90000 -> ``1d1h``."""
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        if value >= size:
            parts.append(f"{value // size}{unit}")
            value %= size
    return "".join(parts[:2]) or "0s"


def _by_status(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    detail = ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))
    return f"{total} ({detail})" if detail else "0"


def _health_rows(feeds: list[Any]) -> list[list[str]]:
    return [
        [
            str(f.id),
            f.url,
            f.state,
            _when(f.last_success_at) or "never",
            str(f.consecutive_failures),
            f"{f.articles_per_day:.1f}",
            _when(f.next_poll_at),
            _seconds(f.poll_interval),
            (f.reason or "")[:200],
        ]
        for f in feeds
    ]


HEALTH_COLUMNS = [
    "id", "url", "state", "last success", "failures", "articles/day", "next poll", "interval",
    "reason",
]  # fmt: skip


@app.command("status")
def status_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Exit 4 (and say why on stderr) when a broker has no worker answering, "
            "dead letters are open or a feed is unhealthy: for cron and monitoring checks.",
        ),
    ] = False,
) -> None:
    """Queue depths, workers seen, recent articles, open dead letters and unhealthy feeds."""
    from ingest.status import collect_status

    s = settings()
    bound = engine()
    with infrastructure("broker"):
        st = collect_status(s, bound)
    if as_json:
        import json

        out.print_json(json.dumps(st.as_dict(), default=str))
    else:
        _print_status(st)
    if check:
        problems = st.problems()
        for problem in problems:
            err.print(f"[red]unhealthy[/]: {problem}")
        if problems:
            raise typer.Exit(EXIT_UNHEALTHY)


def _print_status(st: Any) -> None:
    rows: list[list[str]] = []
    if st.broker is None:
        rows.append(["broker", "none (in-process mode: no queues, no workers)"])
    else:
        rows.append(["broker", st.broker])
        for queue, depth in (st.queues or {}).items():
            rows.append([f"queue {queue}", str(depth)])
        rows.append(["unacked", str(st.unacked or 0)])
        workers = st.workers or []
        names = f" ({', '.join(workers)})" if workers else ""
        rows.append(["workers", f"{len(workers)}{names}"])
    rows += [
        ["articles last hour", _by_status(st.articles_last_hour)],
        ["articles last day", _by_status(st.articles_last_day)],
        ["dead letters open", str(st.dead_letters_open)],
        ["feeds", f"{st.feeds_total} ({st.feeds_active} active)"],
        ["unhealthy feeds", str(len(st.unhealthy))],
    ]
    print_rows("status", ["what", "value"], rows)
    if st.unhealthy:
        if not out.is_terminal:
            sys.stdout.write("\n")
        print_rows("unhealthy feeds", HEALTH_COLUMNS, _health_rows(st.unhealthy))


@feeds_app.command("health")
def feeds_health(
    unhealthy: Annotated[
        bool, typer.Option("--unhealthy", help="Only failing, stale or deactivated feeds.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every feed's state, last success, failures, articles per day (last 7 days), next poll."""
    from dataclasses import asdict

    from ingest.status import feed_health

    bound = engine()
    with infrastructure("database"), bound.connect() as conn:
        feeds = feed_health(conn)
    if unhealthy:
        feeds = [f for f in feeds if not f.healthy]
    if as_json:
        import json

        out.print_json(json.dumps([asdict(f) for f in feeds], default=str))
        return
    print_rows("feed health", HEALTH_COLUMNS, _health_rows(feeds))
    bad = sum(1 for f in feeds if not f.healthy)
    err.print(f"{len(feeds)} feed(s), {bad} unhealthy")


# --- issue 16, temporary: read commands until main's newsingest/cli app registers them ---
from newsingest.cli import articles as _articles, entities as _entities, export as _export  # noqa: E402, I001

for _group in (_articles, _entities, _export):
    _group.register(app)


def main() -> None:
    """Console-script entry point."""
    from schemas.db import dispose_engines

    try:
        app()
    finally:
        dispose_engines()
