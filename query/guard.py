"""A deadline on every read, so a query never hangs.

PostgreSQL: ``statement_timeout`` set local to the read's transaction (``set_config(...,
true)`` is ``SET LOCAL`` with a bound parameter). SQLite: a progress handler that aborts the
running statement once the deadline has passed. Either way the caller gets
:class:`QueryTimeout`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from query.errors import QueryTimeout
from schemas.db import make_engine

DEFAULT_TIMEOUT = 10.0
_PROGRESS_STEPS = 20_000  # SQLite VM instructions between two checks of the clock


def read_engine(url: str) -> Engine:
    """An engine for reads. On SQLite, :func:`schemas.db.make_engine` begins every
    transaction with ``BEGIN IMMEDIATE`` (the write lock, right for writers); a reader must not
    hold that for a long export, so its transactions begin deferred: a WAL snapshot that
    never blocks the pipeline's writers."""
    from schemas import db

    engine = make_engine(url)
    if engine.dialect.name == "sqlite":
        sa.event.remove(engine, "begin", db._sqlite_begin)
        sa.event.listen(engine, "begin", _deferred_begin)
    return engine


def _deferred_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN")


def is_postgresql(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def as_timeout(exc: BaseException, seconds: float | None = None) -> QueryTimeout | None:
    """The QueryTimeout a driver error stands for (PostgreSQL query_canceled, SQLite
    interrupted by the progress handler), else None."""
    if not isinstance(exc, sa.exc.OperationalError):
        return None
    orig = exc.orig
    if getattr(orig, "sqlstate", None) == "57014" or "interrupted" in str(orig):
        limit = f" ({seconds:g} s)" if seconds is not None else ""
        return QueryTimeout(f"the query ran past its time limit{limit}: narrow it down")
    return None


def _noop() -> None:
    return None


@contextmanager
def deadline(
    conn: Connection, seconds: float | None = DEFAULT_TIMEOUT
) -> Iterator[Callable[[], None]]:
    """Run the reads inside within ``seconds`` (None: no limit). Call inside a transaction.

    Yields ``renew()``: a stream (export) calls it per chunk, so the limit applies to each
    step of the stream, as PostgreSQL's applies to each FETCH of a server-side cursor."""
    if seconds is None:
        yield _noop
        return
    if is_postgresql(conn):
        conn.execute(
            sa.text("SELECT set_config('statement_timeout', :ms, true)"),
            {"ms": str(max(1, int(seconds * 1000)))},
        )
        try:
            yield _noop
        except sa.exc.OperationalError as exc:
            timeout = as_timeout(exc, seconds)
            if timeout is not None:
                raise timeout from None
            raise
        return
    raw: Any = conn.connection.driver_connection
    end = [time.monotonic() + seconds]

    def renew() -> None:
        end[0] = time.monotonic() + seconds

    raw.set_progress_handler(lambda: 1 if time.monotonic() > end[0] else 0, _PROGRESS_STEPS)
    try:
        yield renew
    except sa.exc.OperationalError as exc:
        timeout = as_timeout(exc, seconds)
        if timeout is not None:
            raise timeout from None
        raise
    finally:
        raw.set_progress_handler(None, 0)
