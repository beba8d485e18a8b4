"""The ``newsingest`` command line.

Exit codes: 0 done; 1 bad input (an invalid URL, an unreadable file); 2 bad
configuration or usage; 3 infrastructure unavailable (database, broker).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


@feeds_app.command("add")
def feeds_add(
    urls: Annotated[list[str], typer.Argument(help="Feed URLs (RSS, Atom, JSON Feed, sitemap).")],
) -> None:
    """Subscribe to feeds. Nothing is added if any URL is invalid."""
    from ingest.feedlist import add_feeds

    with session() as s:
        result = add_feeds(s, urls, poll_interval=settings().default_poll_interval)
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


@feeds_app.command("list")
def feeds_list(
    active: Annotated[bool, typer.Option("--active", help="Only active feeds.")] = False,
) -> None:
    """List the subscribed feeds."""
    from ingest.feedlist import list_feeds
    from schemas.models import as_utc

    with session() as s:
        feeds = list_feeds(s, active_only=active)
    columns = ["id", "url", "kind", "title", "active", "next poll", "failures", "last error"]
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


def make_enqueuer(s: Settings) -> Any:
    from ingest.poll import NoEnqueuer

    if s.broker_url is None:
        return NoEnqueuer()
    from ingest.enqueue import CeleryEnqueuer

    return CeleryEnqueuer.from_settings(s)


@app.command("poll")
def poll_cmd(
    all_feeds: Annotated[bool, typer.Option("--all", help="Poll every active feed now.")] = False,
    feed: Annotated[
        list[str] | None, typer.Option("--feed", help="Poll only this feed URL (repeatable).")
    ] = None,
) -> None:
    """Poll the due feeds once and exit (for cron). Exit 0 when the run completed."""
    import asyncio

    from ingest.poll import run_poll
    from schemas.urls import InvalidUrl, normalize_url

    s = settings()
    urls = None
    if feed:
        try:
            urls = [normalize_url(u) for u in feed]
        except InvalidUrl as exc:
            raise fail(f"--feed: {exc.message}", EXIT_BAD_INPUT) from None
    bound = engine()
    enqueuer = make_enqueuer(s)
    with infrastructure("broker"):
        if err.is_terminal:
            from rich.progress import Progress

            with Progress(console=err, transient=True) as progress:
                summary = asyncio.run(
                    run_poll(
                        s,
                        bound,
                        enqueuer,
                        reporter=ProgressReporter(progress),
                        everything=all_feeds,
                        urls=urls,
                    )
                )
        else:
            summary = asyncio.run(
                run_poll(
                    s, bound, enqueuer, reporter=PlainReporter(), everything=all_feeds, urls=urls
                )
            )
    if feed and summary.feeds_polled + summary.feeds_locked == 0:
        raise fail("no active subscribed feed matches --feed", EXIT_BAD_INPUT)
    out.print(
        f"feeds: {summary.feeds_polled} polled, {summary.feeds_not_modified} not modified, "
        f"{summary.feeds_failed} failed, {summary.feeds_locked} locked by another run"
    )
    out.print(
        f"articles: {summary.articles_new} new, {summary.articles_duplicate} duplicate, "
        f"{summary.articles_not_article} not an article, {summary.articles_failed} failed, "
        f"{summary.articles_retry} to retry, {summary.articles_enqueued} enqueued"
    )
    for url, reason in summary.failures:
        err.print(f"[yellow]failed[/] {url}: {reason}")


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
    if s.broker_url is None:
        out.print("no broker configured (in-process mode): nothing to re-send")
        return
    bound = engine()
    with infrastructure("database"), bound.begin() as conn:
        hashes = queued_older_than(conn, timedelta(seconds=older_than))
    with infrastructure("broker"):
        sent = make_enqueuer(s).send(hashes) if hashes else 0
    out.print(f"{sent} article(s) re-sent to the extract queue")


def main() -> None:
    """Console-script entry point."""
    from schemas.db import dispose_engines

    try:
        app()
    finally:
        dispose_engines()
