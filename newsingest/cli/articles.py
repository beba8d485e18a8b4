"""``newsingest articles`` (list, filter, search, page) and ``newsingest article ID|URL``."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import typer
from rich.text import Text
from sqlalchemy.engine import Connection

from newsingest.cli.output import (
    clean,
    err,
    json_line,
    out,
    plain_snippet,
    print_table,
    reading,
    refusals,
    rich_snippet,
)
from query.filters import Filters, Sort, parse_statuses, parse_time
from query.labels import resolve_labels
from schemas.models import utcnow

# The options every filtered command shares (articles, export).
Search = Annotated[
    str | None,
    typer.Option(
        "--search",
        "-s",
        help='Full text, websearch syntax: words, "a phrase", a OR b, -without.',
    ),
]
EntityOpt = Annotated[
    str | None,
    typer.Option(
        "--entity", "-e", help="Articles mentioning this entity (its name or short form)."
    ),
]
Label = Annotated[
    str | None,
    typer.Option("--label", help="Entity kind or label: people, places, ORG, PERSON, dates..."),
]
FeedOpt = Annotated[str | None, typer.Option("--feed", help="Feed id or URL.")]
Lang = Annotated[str | None, typer.Option("--lang", help="Language code (en, de, ...).")]
Since = Annotated[
    str | None, typer.Option("--since", help="A duration back from now (24h, 7d) or ISO date/time.")
]
Until = Annotated[
    str | None, typer.Option("--until", help="A duration back from now or ISO date/time.")
]
Status = Annotated[
    str | None,
    typer.Option("--status", help="Statuses, comma-separated, or 'any' (default: stored text)."),
]
Json = Annotated[bool, typer.Option("--json", help="JSON lines.")]


def build_filters(
    conn: Connection,
    *,
    search: str | None = None,
    entity: str | None = None,
    label: str | None = None,
    feed: str | None = None,
    lang: str | None = None,
    since: str | None = None,
    until: str | None = None,
    status: str | None = None,
) -> Filters:
    """The options as Filters (InvalidQuery / NotFound on bad values)."""
    from query.articles import resolve_feed
    from query.search import parse

    now = utcnow()
    if search is not None:
        parse(search)  # refuse bad syntax before anything runs
    return Filters(
        search=search,
        entity=entity,
        labels=resolve_labels(label),
        feed_id=resolve_feed(conn, feed) if feed is not None else None,
        language=lang.strip().lower() if lang else None,
        since=parse_time(since, now=now, option="--since"),
        until=parse_time(until, now=now, option="--until"),
        statuses=parse_statuses(status),
    )


def articles_cmd(
    search: Search = None,
    entity: EntityOpt = None,
    label: Label = None,
    feed: FeedOpt = None,
    lang: Lang = None,
    since: Since = None,
    until: Until = None,
    status: Status = None,
    sort: Annotated[
        Sort | None,
        typer.Option(
            "--sort",
            help="published | fetched | relevance (default: relevance "
            "for a search, else published).",
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Rows per page (1-1000).")] = 20,
    after: Annotated[
        str | None, typer.Option("--after", help="The cursor printed after the previous page.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Articles, newest first (or most relevant for a search), one page at a time."""
    from query.articles import list_articles

    with reading() as conn, refusals():
        filters = build_filters(
            conn, search=search, entity=entity, label=label, feed=feed, lang=lang,
            since=since, until=until, status=status,
        )  # fmt: skip
        page = list_articles(conn, filters, sort=sort, limit=limit, after=after)
    if as_json:
        for row in page.rows:
            record = asdict(row)
            record["snippet"] = plain_snippet(row.snippet) if row.snippet is not None else None
            json_line(record)
    else:
        columns = ["id", "published", "site", "lang", "title"]
        rows: list[list[Any]] = []
        for r in page.rows:
            line: list[Any] = [r.id, r.published_at, r.site, r.language, r.title]
            if search is not None:
                line.append(
                    rich_snippet(r.snippet) if out.is_terminal else plain_snippet(r.snippet)
                )
            rows.append(line)
        print_table("articles", columns + (["snippet"] if search is not None else []), rows)
    if page.next_cursor:
        err.print(Text(f"more: --after {page.next_cursor}"))


def article_cmd(
    ref: Annotated[str, typer.Argument(help="Article id or URL.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
    no_text: Annotated[bool, typer.Option("--no-text", help="Leave the text out.")] = False,
) -> None:
    """One article: metadata (and where its date came from), text, entities, duplicates."""
    from query.articles import get_article

    with reading() as conn, refusals():
        detail = get_article(conn, ref)
    if as_json:
        record = dict(detail.fields)
        record["text"] = None if no_text else detail.text
        record["entities"] = [asdict(e) for e in detail.entities]
        record["related"] = [asdict(r) for r in detail.related]
        json_line(record)
        return
    fields = dict(detail.fields)
    source = fields.pop("published_source", None)
    rows: list[list[Any]] = []
    for name, value in fields.items():
        if name == "published_at":
            value = f"{clean(value)} (from {source or 'unknown'})" if value else ""
        elif name == "authors":
            value = ", ".join(str(a) for a in value or [])
        rows.append([name, value])
    print_table("article", ["field", "value"], rows)
    _gap()
    print_table(
        "entities",
        ["label", "name", "key", "count"],
        [[e.label, e.name, e.key, e.count] for e in detail.entities],
    )
    _gap()
    print_table(
        "duplicates and near-duplicates",
        ["id", "relation", "distance", "title", "url"],
        [[r.id, r.relation, r.distance, r.title, r.url] for r in detail.related],
    )
    if not no_text:
        _gap()
        if out.is_terminal:
            out.print(Text(clean(detail.text, newlines=True)))
        else:
            import sys

            sys.stdout.write("text\n" + clean(detail.text, newlines=True) + "\n")


def _gap() -> None:
    if out.is_terminal:
        out.print()
    else:
        import sys

        sys.stdout.write("\n")


def register(app: typer.Typer) -> None:
    """Add ``articles`` and ``article`` to the CLI."""
    app.command("articles")(articles_cmd)
    app.command("article")(article_cmd)
