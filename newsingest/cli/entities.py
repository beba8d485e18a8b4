"""``newsingest entities top`` and ``newsingest entities show NAME``."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import typer
from rich.text import Text

from newsingest.cli.articles import FeedOpt, Json, Label, Lang, Since, Until, build_filters
from newsingest.cli.output import json_line, out, print_table, reading, refusals
from query.labels import resolve_labels

BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[int]) -> str:
    """A small chart: one block per value, as high as its share of the largest."""
    top = max(values, default=0)
    if top == 0:
        return BARS[0] * len(values)
    return "".join(
        BARS[min(len(BARS) - 1, v * (len(BARS) - 1) // top)] if v else " " for v in values
    )


def _change(previous: int | None, now: int) -> str:
    if previous is None:
        return ""
    if previous == 0:
        return "new"
    diff = now - previous
    return f"{diff:+d} ({diff / previous:+.0%})"


def top_cmd(
    since: Since = "24h",
    until: Until = None,
    label: Label = None,
    lang: Lang = None,
    feed: FeedOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many (1-500).")] = 20,
    as_json: Json = False,
) -> None:
    """The entities in the most articles, with the change against the previous period.
    People, organisations, places, groups, events and products unless --label asks."""
    from query.entities import top_entities

    with reading() as conn, refusals():
        filters = build_filters(conn, feed=feed, lang=lang, since=since, until=until)
        top = top_entities(conn, filters, labels=resolve_labels(label), limit=limit)
    if as_json:
        for t in top:
            json_line({**asdict(t), "change": t.change})
        return
    rows = [
        [i, t.name, t.kind, t.label, t.articles, t.previous, _change(t.previous, t.articles)]
        for i, t in enumerate(top, 1)
    ]
    print_table(
        f"top entities since {since}" if since else "top entities",
        ["#", "name", "kind", "label", "articles", "previous", "change"],
        rows,
    )


def show_cmd(
    name: Annotated[str, typer.Argument(help="Entity name, key or a person's short form.")],
    label: Label = None,
    days: Annotated[int, typer.Option("--days", help="Days of the timeline.")] = 30,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """One entity: articles per day, the entities most often with it, its latest articles."""
    from query.entities import show_entity

    with reading() as conn, refusals():
        view = show_entity(conn, name, labels=resolve_labels(label), days=days)
    if as_json:
        record = asdict(view)
        record["timeline"] = [{"day": d.isoformat(), "articles": n} for d, n in view.timeline]
        json_line(record)
        return
    print_table(
        "entity",
        ["field", "value"],
        [
            ["name", view.name], ["kind", view.kind], ["label", view.label], ["key", view.key],
            ["articles", view.articles], ["first seen", view.first_seen],
            ["last seen", view.last_seen],
            ["also matches", "; ".join(f"{n} ({lab})" for lab, n in view.others)],
        ],
    )  # fmt: skip
    counts = [n for _, n in view.timeline]
    if out.is_terminal:
        first, last = view.timeline[0][0], view.timeline[-1][0]
        out.print(Text(f"\narticles per day {first} .. {last} (max {max(counts, default=0)})"))
        out.print(Text(sparkline(counts), style="cyan"))
        out.print()
    else:
        import sys

        sys.stdout.write("\n")
        print_table("per day", ["day", "articles"], [[d.isoformat(), n] for d, n in view.timeline])
        sys.stdout.write("\n")
    print_table(
        "mentioned with",
        ["name", "kind", "label", "articles together"],
        [[t.name, t.kind, t.label, t.articles] for t in view.together],
    )
    if not out.is_terminal:
        import sys

        sys.stdout.write("\n")
    rows: list[list[Any]] = [
        [r.id, r.published_at, r.site, r.language, r.title] for r in view.latest
    ]
    print_table("latest articles", ["id", "published", "site", "lang", "title"], rows)


def register(app: typer.Typer) -> None:
    """Add the ``entities`` group (``top``, ``show``) to the CLI."""
    group = typer.Typer(help="What the articles talk about.", no_args_is_help=True)
    group.command("top")(top_cmd)
    group.command("show")(show_cmd)
    app.add_typer(group, name="entities")
