"""Dead letters: `dlq list` and `dlq replay`."""

from __future__ import annotations

from typing import Annotated

import typer

from newsingest.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_CONFIG,
    check_model,
    engine,
    err,
    fail,
    infrastructure,
    out,
    print_rows,
    session,
    settings,
)

dlq_app = typer.Typer(help="Dead letters: messages that failed for good.", no_args_is_help=True)


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
    from newsingest.wiring import make_enqueuer
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


def register(app: typer.Typer) -> None:
    app.add_typer(dlq_app, name="dlq")
