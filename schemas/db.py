"""Engine and session helpers for SQLite and PostgreSQL, the schema upgrade, and the one
place database driver errors become the error tree's (:func:`translate_errors`).

I/O code receives a Session (or an Engine) as a parameter; this module only builds them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import sqlalchemy.exc
from sqlalchemy.engine import Engine
from sqlmodel import Session

from schemas.errors import DatabaseUnavailable
from schemas.settings import get_settings, normalize_database_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers and one writer work at once; foreign keys are off by default in SQLite;
    # busy_timeout makes concurrent writers wait instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    # Take the write lock when the transaction starts: a deferred transaction that reads and
    # then writes can fail with "database is locked" at once instead of waiting its turn.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An Engine for ``url`` with the pragmas/pool settings newsingest relies on."""
    url = normalize_database_url(url)
    if url.startswith("sqlite"):
        # isolation_level=None hands transaction control to us (see _sqlite_begin).
        kwargs.setdefault("connect_args", {"timeout": 30, "isolation_level": None})
        engine = sa.create_engine(url, **kwargs)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 5)
    kwargs.setdefault("max_overflow", 10)
    return sa.create_engine(url, **kwargs)


_engines: dict[str, Engine] = {}


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for ``url`` (default: the configured database)."""
    url = normalize_database_url(url or get_settings().database_url)
    engine = _engines.get(url)
    if engine is None:
        engine = _engines[url] = make_engine(url)
    return engine


def dispose_engines() -> None:
    """Close every pooled connection (at exit, and in a worker process after fork)."""
    while _engines:
        _engines.popitem()[1].dispose()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def unavailable(exc: BaseException) -> DatabaseUnavailable | None:
    """The tree's error for a driver error that means "the database cannot be used now"
    (connection refused, server gone, SQLite's "database is locked"), else None."""
    if isinstance(exc, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError) or (
        isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated
    ):
        lines = str(exc.orig or exc).strip().splitlines()
        error = DatabaseUnavailable(lines[0] if lines else type(exc).__name__)
        error.__cause__ = exc
        return error
    return None


def _translated(exc: BaseException) -> BaseException | None:
    """``exc`` with its driver errors translated (inside exception groups too), or None when
    there is nothing to translate."""
    if isinstance(exc, BaseExceptionGroup):
        inner = [_translated(e) for e in exc.exceptions]
        if all(e is None for e in inner):
            return None
        group = exc.derive([new or old for new, old in zip(inner, exc.exceptions, strict=True)])
        return group.with_traceback(exc.__traceback__)
    return unavailable(exc)


@contextmanager
def translate_errors() -> Iterator[None]:
    """Raise :class:`~schemas.errors.DatabaseUnavailable` (chained to the driver's error) for
    a database that cannot be reached or is locked; other errors pass unchanged. A context
    manager or a decorator, used where database work meets a retry or an exit code: callers
    catch ``DatabaseUnavailable`` (or ``TransientError``), never a driver's class."""
    try:
        yield
    except (sqlalchemy.exc.DBAPIError, BaseExceptionGroup) as exc:
        translated = _translated(exc)
        if translated is None:
            raise
        raise translated from exc


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation: a literal % in a password must be doubled.
    config.set_main_option("sqlalchemy.url", normalize_database_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision``; a no-op when it is already there."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
