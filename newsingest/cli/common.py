"""What every command shares: the consoles, table/TSV output, exit codes, the settings, and
the database and broker failures turned into one-line errors.

Exit codes: 0 done; 1 bad input (an invalid URL, an unreadable file); 2 bad configuration or
usage; 3 infrastructure unavailable (database, broker); 4 ``status --check`` found something
that needs a person.

Command modules import the pipeline (trafilatura, Celery, spaCy) inside their commands, so that
``--help``, ``config`` and ``status`` start without loading it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import Engine
from sqlmodel import Session

from schemas.db import translate_errors
from schemas.errors import BrokerUnavailable, ConfigError, DatabaseUnavailable, TransientError
from schemas.settings import Settings, get_settings

EXIT_OK = 0
EXIT_BAD_INPUT = 1
EXIT_CONFIG = 2
EXIT_INFRA = 3
EXIT_UNHEALTHY = 4

F = TypeVar("F", bound=Callable[..., Any])

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


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
    if isinstance(exc, DatabaseUnavailable | BrokerUnavailable):
        return exc
    return None


@contextmanager
def infrastructure(what: str) -> Iterator[None]:
    """Turn connection failures into a one-line error and exit code 3."""
    try:
        with translate_errors():
            yield
    except (TransientError, BaseExceptionGroup) as exc:
        found = _infra_error(exc)
        if found is None:
            raise
        if isinstance(found, DatabaseUnavailable):
            raise fail(f"database unavailable: {found.message}", EXIT_INFRA) from None
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


class Commands:
    """The top-level commands a module defines; the package registers them on its app, so a
    command module never needs the app itself (no import cycle)."""

    def __init__(self) -> None:
        self._items: list[tuple[str, Callable[..., Any]]] = []

    def command(self, name: str) -> Callable[[F], F]:
        def add(func: F) -> F:
            self._items.append((name, func))
            return func

        return add

    def register(self, app: typer.Typer) -> None:
        for name, func in self._items:
            app.command(name)(func)


def check_model(s: Settings) -> None:
    """Refuse to start when the spaCy model cannot be found, saying how to install it."""
    from workers.nlp import model_available, resolve_model

    try:
        model_available(resolve_model(s))
    except ConfigError as exc:
        raise fail(exc.message, EXIT_CONFIG) from None
