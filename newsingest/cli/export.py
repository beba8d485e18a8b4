"""``newsingest export --format jsonl|csv|parquet [filters] [-o FILE]``.

Streams (see :mod:`query.export`): memory stays flat whatever the size. With ``-o`` the file
is written beside its destination and renamed into place at the end, so an export that fails
half-way leaves no half-written file; a progress bar shows on a terminal.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from newsingest.cli.articles import (
    EntityOpt,
    FeedOpt,
    Label,
    Lang,
    Search,
    Since,
    Status,
    Until,
    build_filters,
)
from newsingest.cli.output import EXIT_BAD_INPUT, err, fail, reading, refusals


class Format(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"
    PARQUET = "parquet"


def export_cmd(
    fmt: Annotated[Format, typer.Option("--format", "-f", help="jsonl, csv or parquet.")] = (
        Format.JSONL
    ),
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
    search: Search = None,
    entity: EntityOpt = None,
    label: Label = None,
    feed: FeedOpt = None,
    lang: Lang = None,
    since: Since = None,
    until: Until = None,
    status: Status = None,
) -> None:
    """Every matching article with its metadata and entities, in id order."""
    from query import export

    if fmt is Format.PARQUET:
        with refusals():
            export.parquet_schema()  # pyarrow missing: say how to install it, before any work
        if output is None and sys.stdout.isatty():
            raise fail("--format parquet writes binary: give -o FILE or redirect stdout")
    # Timeouts apply per chunk inside iter_records, not to the whole (long) export.
    with reading(timeout=False) as conn, refusals():
        from schemas.settings import get_settings

        filters = build_filters(
            conn, search=search, entity=entity, label=label, feed=feed, lang=lang,
            since=since, until=until, status=status,
        )  # fmt: skip
        chunks = export.iter_records(conn, filters, timeout=get_settings().query_timeout)
        if output is None:
            written = _write(fmt, chunks, None, lambda n: None)
        else:
            written = _to_file(fmt, chunks, output, export.count_matching(conn, filters))
    if output is not None:
        err.print(f"{written} article(s) written to {output}")


def _write(
    fmt: Format, chunks: Any, target: IO[Any] | None, progress: Callable[[int], None]
) -> int:
    from query import export

    if fmt is Format.PARQUET:
        return export.write_parquet(chunks, target or sys.stdout.buffer, progress)
    stream = target or sys.stdout
    if fmt is Format.CSV:
        return export.write_csv(chunks, stream, progress)
    return export.write_jsonl(chunks, stream, progress)


def _to_file(fmt: Format, chunks: Any, output: Path, total: int) -> int:
    directory = output.resolve().parent
    if not directory.is_dir():
        raise fail(f"{output}: no such directory", EXIT_BAD_INPUT)
    fd, temp = tempfile.mkstemp(prefix=f".{output.name}.", dir=directory)
    try:
        binary = fmt is Format.PARQUET
        with (
            os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="")
        ) as handle:
            if err.is_terminal:
                from rich.progress import Progress

                with Progress(console=err, transient=True) as bar:
                    task = bar.add_task(f"export {fmt.value}", total=total)
                    written = _write(fmt, chunks, handle, lambda n: bar.advance(task, n))
            else:
                written = _write(fmt, chunks, handle, lambda n: None)
        os.replace(temp, output)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return written


def register(app: typer.Typer) -> None:
    """Add ``export`` to the CLI."""
    app.command("export")(export_cmd)
