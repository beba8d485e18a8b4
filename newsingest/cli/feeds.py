"""Subscriptions: `feeds add|remove|reactivate|list|import|export|health`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from newsingest.cli.common import (
    EXIT_BAD_INPUT,
    engine,
    err,
    fail,
    infrastructure,
    out,
    print_rows,
    session,
    settings,
)
from newsingest.cli.status import HEALTH_COLUMNS, health_rows
from schemas.errors import NewsIngestError

feeds_app = typer.Typer(help="Manage the subscribed feeds.", no_args_is_help=True)


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
    print_rows("feed health", HEALTH_COLUMNS, health_rows(feeds))
    bad = sum(1 for f in feeds if not f.healthy)
    err.print(f"{len(feeds)} feed(s), {bad} unhealthy")


def register(app: typer.Typer) -> None:
    app.add_typer(feeds_app, name="feeds")
