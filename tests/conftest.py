"""Shared fixtures: the shared corpus, and real services (PostgreSQL, Redis).

The tree: ``tests/unit/`` is pure and fast (no service, subprocess, socket server or
corpus); ``tests/integration/`` needs real PostgreSQL and Redis, worker processes, HTTP
servers on loopback or ../shared/corpus, and every test there is marked ``integration``
here; ``tests/support/`` holds the harness (factories, one CLI runner, loopback servers).

    .venv/bin/python -m pytest tests/unit -q       # the fast loop
    .venv/bin/python -m pytest -q                  # everything (unit and integration)

Under ``CI=true`` a missing service or a missing ../shared/ folder is a test
failure, never a silent skip; on a laptop without them those tests skip.
"""

from __future__ import annotations

import contextlib
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("NEWSINGEST_SHARED_DIR", ROOT.parent / "shared"))
CACHE = ROOT / ".cache" / "corpus"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def need(condition: bool, why: str) -> None:
    """Skip when a resource is missing, except under CI where that is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{why} (CI=true: a missing resource is a failure, not a skip)")
    pytest.skip(why)


def unpack(archive: str) -> Path:
    """Unpack ../shared/corpus/<archive> once into .cache/corpus/ and return that folder."""
    source = SHARED / "corpus" / archive
    need(source.is_file(), f"{source} not found")
    target = CACHE / archive.split(".")[0]
    marker = target / ".unpacked"
    if not marker.exists():
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(source) as tar:
            tar.extractall(target, filter="data")
        marker.touch()
    return target


@pytest.fixture(scope="session")
def feeds_corpus() -> Path:
    """The unpacked feeds.tar.xz (a folder holding ``feeds/``)."""
    return unpack("feeds.tar.xz") / "feeds"


@pytest.fixture(scope="session")
def sitemaps_corpus() -> Path:
    """The unpacked sitemaps.tar.xz (a folder holding ``sitemaps/``)."""
    return unpack("sitemaps.tar.xz") / "sitemaps"


@pytest.fixture(scope="session")
def pages_corpus() -> Path:
    """The unpacked trafilatura evaluation pages (a folder holding ``trafilatura_eval/``)."""
    return unpack("news-pages-trafilatura-eval.tar.xz") / "trafilatura_eval"


@pytest.fixture(scope="session")
def seed_article() -> str:
    path = SHARED / "corpus" / "seed-article.txt"
    need(path.is_file(), f"{path} not found")
    return path.read_text(encoding="utf-8")


# --- real services --------------------------------------------------------------------------

PG_ADMIN_URL = os.environ.get(
    "NEWSINGEST_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("NEWSINGEST_TEST_REDIS", "redis://127.0.0.1:6379/15")


def _postgres_admin_engine():  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as exc:
        engine.dispose()
        need(False, f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}")
    return engine


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL database, dropped after the test."""
    import uuid

    import sqlalchemy as sa

    admin = _postgres_admin_engine()
    name = f"newsingest_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    base = sa.engine.make_url(PG_ADMIN_URL)
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'newsingest.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs twice: on SQLite and on the real PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))


@contextlib.contextmanager
def flushed_redis(url: str) -> Iterator[Any]:
    """A client to the real Redis database at ``url``, flushed before and after; skips
    without Redis (fails under CI=true). Each test module that runs its own processes on
    Redis gets its own database, so concurrent runs do not flush each other's data."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        need(False, f"Redis not reachable at {url}: {type(exc).__name__}")
    client.flushdb()
    try:
        yield client
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The real Redis (database 15), flushed before and after the test."""
    with flushed_redis(REDIS_URL):
        yield REDIS_URL


@pytest.fixture(autouse=True)
def clean_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No NEWSINGEST_* variable from the caller's shell leaks into a test; cache reset."""
    from schemas.settings import get_settings

    for name in list(os.environ):
        if name.startswith("NEWSINGEST_") and not name.startswith("NEWSINGEST_TEST_"):
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


from tests.support.httpserver import http_cluster, http_server  # noqa: E402, F401  (fixtures)

INTEGRATION = Path(__file__).resolve().parent / "integration"
UNIT = Path(__file__).resolve().parent / "unit"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark everything under tests/integration/ ``integration``; a test under tests/unit/
    that is marked so belongs in tests/integration/ (a collection error says which)."""
    misplaced = []
    for item in items:
        path = item.path.resolve()
        if path.is_relative_to(INTEGRATION):
            item.add_marker(pytest.mark.integration)
        elif path.is_relative_to(UNIT) and item.get_closest_marker("integration"):
            misplaced.append(item.nodeid)
    if misplaced:
        raise pytest.UsageError(
            "integration tests under tests/unit/ (move them to tests/integration/): "
            + ", ".join(misplaced)
        )


@pytest.fixture(scope="session")
def test_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Path of a small rule-based spaCy pipeline (en_test_ner 1.0.0)."""
    from tests.support.nlpmodel import build_test_model

    return str(build_test_model(tmp_path_factory.mktemp("model") / "en_test_ner"))
