"""How the read commands print, and how they turn refusals into exit codes.

On a terminal: rich tables (cells are rich ``Text``, never markup, so a title such as
``[bold]`` or ``<script>`` prints as itself). In a pipe: tab-separated lines, header first.
``--json``: one JSON object per line. Control characters from stored text (terminal escape
sequences in a hostile title) are replaced in every mode.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import sqlalchemy.exc
import typer
from rich.table import Table
from rich.text import Text
from sqlalchemy.engine import Connection

from newsingest.cli.common import EXIT_BAD_INPUT, EXIT_CONFIG, EXIT_INFRA, err, out
from query.articles import HL_END, HL_START
from query.errors import InvalidQuery, NotFound, QueryTimeout
from schemas.errors import ConfigError

__all__ = ["EXIT_BAD_INPUT", "EXIT_CONFIG", "EXIT_INFRA", "err", "out"]
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SNIPPET_CONTROL = re.compile(r"[\x00\x01\x04-\x08\x0b-\x1f\x7f-\x9f]")  # keeps the marks
_MARKS = re.compile(f"[{HL_START}{HL_END}]")
PLAIN_MARK = "**"


def clean(value: Any, *, newlines: bool = False) -> str:
    """A cell: None as empty, control characters (escape sequences) made visible as U+FFFD."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    text = str(value)
    if not newlines:
        text = text.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    return _CONTROL.sub("\ufffd", text)


def plain_snippet(snippet: str | None) -> str:
    """A snippet for pipes and JSON: highlights between ``**``."""
    text = _SNIPPET_CONTROL.sub("", str(snippet or "").replace("\n", " ").replace("\t", " "))
    return _MARKS.sub(PLAIN_MARK, text)


def rich_snippet(snippet: str | None) -> Text:
    """A snippet for the terminal: highlights in bold yellow."""
    text = Text()
    raw = _SNIPPET_CONTROL.sub("", str(snippet or "").replace("\n", " ").replace("\t", " "))
    for i, part in enumerate(_MARKS.split(raw)):
        text.append(part, style="bold yellow" if i % 2 else "")
    return text


def cell(value: Any) -> Text:
    return value if isinstance(value, Text) else Text(clean(value))


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A rich table on a terminal; tab-separated lines (header first) in a pipe."""
    if out.is_terminal:
        table = Table(*columns, title=title)
        for row in rows:
            table.add_row(*(cell(v) for v in row))
        out.print(table)
        return
    lines = ["\t".join(columns)]
    for row in rows:
        lines.append("\t".join(clean(v.plain if isinstance(v, Text) else v) for v in row))
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def json_line(record: Any) -> None:
    text = json.dumps(record, ensure_ascii=False, default=_json_default)
    sys.stdout.write(text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029") + "\n")


def fail(message: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    err.print(Text.assemble(("error: ", "bold red"), _CONTROL.sub("\ufffd", message)))
    return typer.Exit(code)


@contextmanager
def refusals() -> Iterator[None]:
    """Bad input, an unknown thing or a timeout: one line and exit 1; the database down: 3."""
    try:
        yield
    except (InvalidQuery, NotFound, QueryTimeout) as exc:
        raise fail(exc.message, EXIT_BAD_INPUT) from None
    except ConfigError as exc:
        raise fail(exc.message, EXIT_CONFIG) from None
    except sqlalchemy.exc.OperationalError as exc:
        from query.guard import as_timeout

        timeout = as_timeout(exc)
        if timeout is not None:
            raise fail(timeout.message, EXIT_BAD_INPUT) from None
        reason = str(exc.orig or exc).strip().splitlines()[0]
        raise fail(f"database unavailable: {reason}", EXIT_INFRA) from None


@contextmanager
def reading(timeout: bool = True) -> Iterator[Connection]:
    """A read transaction on the configured database, under NEWSINGEST_QUERY_TIMEOUT."""
    from query.guard import deadline, read_engine
    from schemas.db import current_revision, head_revision
    from schemas.settings import get_settings

    with refusals():
        settings = get_settings()
        revision = current_revision(settings.database_url)
        if revision != head_revision():
            state = "has no schema" if revision is None else f"is at revision {revision}"
            raise fail(f"the database {state}: run `newsingest init` first", EXIT_CONFIG)
        engine = read_engine(settings.database_url)
        try:
            with engine.connect() as conn, conn.begin():
                if timeout:
                    with deadline(conn, settings.query_timeout):
                        yield conn
                else:
                    yield conn
        finally:
            engine.dispose()
