"""`status`: queues, workers, recent articles, dead letters and unhealthy feeds."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from newsingest.cli.common import (
    EXIT_UNHEALTHY,
    Commands,
    engine,
    err,
    infrastructure,
    out,
    print_rows,
    settings,
)

commands = Commands()


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


def health_rows(feeds: list[Any]) -> list[list[str]]:
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


@commands.command("status")
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
        print_rows("unhealthy feeds", HEALTH_COLUMNS, health_rows(st.unhealthy))


def register(app: typer.Typer) -> None:
    commands.register(app)
