"""The error tree is true: every project exception is in it and drawn where it hangs; driver
errors become DatabaseUnavailable in one place; one backoff serves every retry policy."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import socket
from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy as sa
import sqlalchemy.exc

from schemas import errors
from schemas.db import translate_errors, unavailable
from schemas.errors import DatabaseUnavailable, NewsIngestError, TransientError, backoff

PACKAGES = ("schemas", "ingest", "workers", "query", "newsingest")
# Not pipeline errors: control flow of the HTTP layer (an RFC 9457 response, a redirect to
# the login form), raised to leave a handler.
NOT_ERRORS = {"newsingest.web.problems.Problem", "newsingest.web.render.LoginRequired"}
#: Modules that do something when imported (the CLI entry, Alembic's environment).
NOT_IMPORTED = re.compile(r"(\.__main__$|^schemas\.migrations\b)")


def project_modules() -> list[ModuleType]:
    modules = []
    for package in PACKAGES:
        root = importlib.import_module(package)
        modules.append(root)
        for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
            if not NOT_IMPORTED.search(info.name):
                modules.append(importlib.import_module(info.name))
    return modules


def drawn_tree() -> dict[str, str | None]:
    """Class name -> the name it is drawn under in ``schemas.errors``' docstring."""
    doc = errors.__doc__ or ""
    block = doc.split("::", 1)[1]
    parents: dict[str, str | None] = {}
    stack: list[str] = []
    for line in block.splitlines():
        if not line.strip():
            continue
        if not line.startswith("    "):
            break  # the prose after the drawing
        found = re.match(r"^([\s│├└─]*)(\w+)", line)
        assert found, line
        depth = len(found.group(1)) // 4 - 1
        del stack[depth:]
        parents[found.group(2)] = stack[-1] if stack else None
        stack.append(found.group(2))
    return parents


def test_every_project_exception_is_in_the_drawn_tree() -> None:
    tree = drawn_tree()
    assert tree["NewsIngestError"] is None
    assert tree["DatabaseUnavailable"] == "TransientError"
    seen: set[str] = set()
    for module in project_modules():
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or not issubclass(cls, BaseException):
                continue
            if f"{cls.__module__}.{name}" in NOT_ERRORS:
                continue
            seen.add(name)
            assert issubclass(cls, NewsIngestError), f"{module.__name__}.{name}"
            assert name in tree, f"{module.__name__}.{name} is not drawn in schemas.errors"
            if cls is not NewsIngestError:
                assert tree[name] == cls.__bases__[0].__name__, name
    # The drawing names no class that does not exist.
    assert set(tree) == seen
    assert {"InvalidUrl", "AddressRefused", "NlpFailed", "DatabaseUnavailable"} <= seen


def test_sqlite_database_is_locked_becomes_database_unavailable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'locked.db'}"
    holder = sa.create_engine(url, connect_args={"isolation_level": None})
    waiter = sa.create_engine(url, connect_args={"timeout": 0.05, "isolation_level": None})
    try:
        with holder.connect() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # holds the write lock
            with (
                pytest.raises(DatabaseUnavailable) as info,
                translate_errors(),
                waiter.connect() as other,
            ):
                other.exec_driver_sql("INSERT INTO t VALUES (1)")
            conn.exec_driver_sql("ROLLBACK")
    finally:
        holder.dispose()
        waiter.dispose()
    assert isinstance(info.value, TransientError)
    assert "database is locked" in info.value.message
    assert isinstance(info.value.__cause__, sqlalchemy.exc.OperationalError)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_postgresql_becomes_database_unavailable() -> None:
    url = f"postgresql+psycopg://newsingest@127.0.0.1:{closed_port()}/newsingest"
    engine = sa.create_engine(url, connect_args={"connect_timeout": 2})

    @translate_errors()
    def count() -> int:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT 1")).scalar_one())

    try:
        with pytest.raises(DatabaseUnavailable) as info:
            count()
    finally:
        engine.dispose()
    assert info.value.reason == "database_unavailable"
    assert isinstance(info.value.__cause__, sqlalchemy.exc.OperationalError)
    assert str(info.value).startswith("database_unavailable: ")


def test_other_errors_pass_unchanged(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER PRIMARY KEY)")
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        with (
            pytest.raises(sqlalchemy.exc.IntegrityError),
            translate_errors(),
            engine.begin() as conn,
        ):
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")  # a bug, not an outage
    finally:
        engine.dispose()
    with pytest.raises(KeyError), translate_errors():
        raise KeyError("x")
    assert unavailable(ValueError("x")) is None


def test_driver_errors_inside_exception_groups_are_translated() -> None:
    driver = sqlalchemy.exc.OperationalError("SELECT 1", {}, OSError("connection refused"))
    with pytest.raises(ExceptionGroup) as info, translate_errors():
        raise ExceptionGroup("poll", [driver, ValueError("other")])
    first, second = info.value.exceptions
    assert isinstance(first, DatabaseUnavailable)
    assert first.__cause__ is driver
    assert isinstance(second, ValueError)
    with pytest.raises(ExceptionGroup) as untouched, translate_errors():
        raise ExceptionGroup("poll", [ValueError("only")])
    assert not isinstance(untouched.value.exceptions[0], DatabaseUnavailable)


def test_backoff_doubles_up_to_its_cap() -> None:
    waits = [backoff(n, base=2.0, cap=120.0, jitter=False) for n in range(10)]
    assert waits[:6] == [2.0, 4.0, 8.0, 16.0, 32.0, 64.0]
    assert waits[6:] == [120.0] * 4
    assert backoff(-3, base=2.0, cap=120.0, jitter=False) == 2.0
    assert backoff(10_000, base=2.0, cap=120.0, jitter=False) == 120.0  # no OverflowError


def test_backoff_jitter_stays_within_half_and_one_and_a_half_and_the_cap() -> None:
    for attempt in range(8):
        nominal = min(120.0, 2.0 * 2**attempt)
        draws = [backoff(attempt, base=2.0, cap=120.0) for _ in range(200)]
        assert all(0.5 * nominal <= d <= min(120.0, 1.5 * nominal) for d in draws), attempt
        assert len(set(draws)) > 1  # spread, not one value
    assert max(backoff(30, base=2.0, cap=120.0) for _ in range(200)) <= 120.0


def test_ingest_policies_are_the_same_backoff() -> None:
    from datetime import UTC, datetime

    from ingest.politeness import backoff_pause
    from ingest.schedule import next_poll_after_failure

    assert [backoff_pause(s, None, base=30.0, cap=3600.0) for s in (1, 2, 3, 9)] == [
        backoff(n, base=30.0, cap=3600.0, jitter=False) for n in (0, 1, 2, 8)
    ]
    assert backoff_pause(3, 5.0, base=30.0, cap=3600.0) == 5.0  # Retry-After wins
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert (next_poll_after_failure(600, 2, None, now) - now).total_seconds() == 2400.0
    assert (next_poll_after_failure(600, 30, None, now) - now).total_seconds() == 86400.0
