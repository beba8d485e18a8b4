"""Database access from async handlers without blocking the event loop.

The project's database layer is synchronous SQLAlchemy (one engine per process, pooled).
Handlers are ``async def`` (feed discovery is async HTTP and runs on the loop itself); each
database call goes to a worker thread through :func:`anyio.to_thread.run_sync`, behind a
capacity limiter as large as the connection pool, so threads never queue inside the pool
(where a checkout times out after 30 s) but in front of it, and the loop stays free to accept
and answer other requests meanwhile. Every read runs under a statement timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from sqlalchemy.engine import Engine

from query.guard import deadline, read_engine
from schemas.db import make_engine, session_scope
from schemas.settings import Settings

T = TypeVar("T")


class WebDB:
    """The engines of one app and the threads that use them."""

    def __init__(self, settings: Settings, *, statement_timeout: float | None = None) -> None:
        self.settings = settings
        self.url = settings.database_url
        self.writer: Engine = make_engine(self.url)
        # Reads begin deferred on SQLite (a WAL snapshot that never blocks the pipeline).
        self.reader: Engine = read_engine(self.url)
        self.timeout: float = statement_timeout or settings.query_timeout
        pool = self.reader.pool
        size = getattr(pool, "size", lambda: 5)() + max(0, getattr(pool, "_max_overflow", 10))
        self.limiter = CapacityLimiter(max(2, size))

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a worker thread (for code that opens its own connections)."""
        return await anyio.to_thread.run_sync(partial(fn, *args), limiter=self.limiter)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(conn, *args)`` in a read transaction under the statement timeout."""
        return await self.call(self._read, fn, *args)

    def _read(self, fn: Callable[..., T], *args: Any) -> T:
        with self.reader.connect() as conn, conn.begin(), deadline(conn, self.timeout):
            return fn(conn, *args)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(conn, *args)`` in one write transaction (committed when it returns)."""
        return await self.call(self._write, fn, *args)

    def _write(self, fn: Callable[..., T], *args: Any) -> T:
        with self.writer.begin() as conn:
            return fn(conn, *args)

    async def session(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(session, *args)`` in one ORM session (committed when it returns)."""
        return await self.call(self._session, fn, *args)

    def _session(self, fn: Callable[..., T], *args: Any) -> T:
        with session_scope(self.writer) as s:
            return fn(s, *args)

    def dispose(self) -> None:
        self.writer.dispose()
        self.reader.dispose()
