"""PostgreSQL, Redis and ``newsingest`` processes for the rows; progress of a run."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bench.common import ARTICLE, DONE
from schemas.db import make_engine, session_scope, upgrade
from schemas.models import ArticleStatus
from schemas.urls import url_hash


def newsingest_exe() -> str:
    from tests.support.cli import EXE

    if not EXE:
        raise SystemExit("the newsingest console script is not installed in this venv")
    return EXE


def service_env(**values: str) -> dict[str, str]:
    from tests.support.cli import service_env as env

    # No stray .env: the processes run in a scratch directory (cwd), see Bench.workdir.
    return env(log_level="INFO", **values)


@contextlib.contextmanager
def celery_worker(env: dict[str, str], concurrency: int, cwd: Path) -> Iterator[Any]:
    from tests.support.workerproc import celery_worker as worker

    with worker(env, "--concurrency", str(concurrency), cwd=cwd, ready_timeout=120) as proc:
        time.sleep(1.0)  # the children load the model in worker_process_init
        yield proc


# --------------------------------------------------------------------------- services


@contextlib.contextmanager
def pg_database(admin_url: str, tag: str) -> Iterator[str]:
    """A throwaway PostgreSQL database with the schema, dropped afterwards."""
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"newsingest_bench_{tag}_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = sa.engine.make_url(admin_url).set(database=name).render_as_string(False)
        try:
            upgrade(url)
            yield url
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        client.flushdb()
    finally:
        client.close()


@contextlib.contextmanager
def engine_for(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def add_feeds(engine: Engine, urls: Sequence[str], poll_interval: int = 900) -> None:
    from ingest.feedlist import add_feeds as add

    with session_scope(engine) as session:
        result = add(session, list(urls), poll_interval=poll_interval)
        if result.invalid or len(result.added) != len(urls):
            raise RuntimeError(f"feeds not added: {result}")


def reset_postgres(engine: Engine) -> None:
    """Back to "feeds subscribed, nothing fetched" between repeats."""
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE mention, entity, article, dead_letter RESTART IDENTITY"))
        conn.execute(
            sa.text(
                "UPDATE feed SET etag = NULL, last_modified = NULL, body_hash = NULL, "
                "next_poll_at = now(), locked_until = NULL, lock_owner = NULL, "
                "consecutive_failures = 0"
            )
        )


@dataclass
class Progress:
    statuses: dict[str, int]
    last_processed: datetime | None

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    @property
    def done(self) -> int:
        return sum(n for s, n in self.statuses.items() if s in DONE)

    @property
    def processed(self) -> int:
        return self.statuses.get(ArticleStatus.PROCESSED, 0) + self.statuses.get(
            ArticleStatus.SKIPPED, 0
        )


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def progress(engine: Engine, like: str | None = None) -> Progress:
    where = ARTICLE.c.url.like(like) if like else sa.true()
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(ARTICLE.c.status, sa.func.count()).where(where).group_by(ARTICLE.c.status)
        ).all()
        last = conn.execute(sa.select(sa.func.max(ARTICLE.c.processed_at)).where(where)).scalar()
    return Progress({str(s): int(n) for s, n in rows}, _utc(last))


def wait_done(
    engine: Engine,
    expected: int,
    timeout: float,
    *,
    like: str | None = None,
    poll_every: float = 0.2,
) -> Progress:
    """Wait until ``expected`` articles reached a final status; the last state otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        state = progress(engine, like)
        if state.done >= expected or time.monotonic() > deadline:
            return state
        # The rate is timed by the rows' own processed_at, not by this loop: poll slowly,
        # so that the bench's queries take little of the PostgreSQL CPU it measures.
        time.sleep(poll_every)


def load_articles(
    engine: Engine, prefix: str, texts: Sequence[tuple[str, str | None]]
) -> list[str]:
    """Insert articles as ``queued`` (extracted, waiting for entities); their URL hashes."""
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for i, (text, language) in enumerate(texts):
        url = f"{prefix}{i:05d}.html"
        rows.append(
            {
                "url": url,
                "url_hash": url_hash(url),
                "title": f"Article {i}",
                "authors": [],
                "language": language,
                "text": text,
                "word_count": len(text.split()),
                "status": ArticleStatus.QUEUED,
                "attempts": 1,
                "fetched_at": now,
            }
        )
    with engine.begin() as conn:
        for start in range(0, len(rows), 500):
            conn.execute(sa.insert(ARTICLE), rows[start : start + 500])
    return [r["url_hash"] for r in rows]


def requeue(engine: Engine, like: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM mention"))
        conn.execute(sa.text("DELETE FROM entity"))
        conn.execute(
            sa.update(ARTICLE)
            .where(ARTICLE.c.url.like(like))
            .values(
                status=ArticleStatus.QUEUED,
                status_reason=None,
                processed_at=None,
                nlp_model=None,
                nlp_model_version=None,
            )
        )
