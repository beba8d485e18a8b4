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

from schemas.errors import ConfigError, NewsIngestError, TransientError
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


@contextmanager
def infrastructure(what: str) -> Iterator[None]:
    """Turn connection failures into a one-line error and exit code 3."""
    try:
        yield
    except sqlalchemy.exc.OperationalError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        raise fail(f"{what} unavailable: {reason}", EXIT_INFRA) from None
    except TransientError as exc:
        raise fail(f"{what} unavailable: {exc}", EXIT_INFRA) from None


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


def main() -> None:
    """Console-script entry point."""
    from schemas.db import dispose_engines

    try:
        app()
    finally:
        dispose_engines()
