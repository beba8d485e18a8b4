"""``python -m bench --only read --smoke`` still runs from end to end on both backends, so
the read side's benchmark cannot rot. No timing asserted: only that every row has numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.corpus, pytest.mark.timeout(600)]
SMOKE_ARTICLES = 2000  # what bench/__main__.py's --smoke asks bench/read.py for


def test_read_smoke_run_writes_every_row(
    pages_corpus: Path, redis_url: str, test_model: str, tmp_path: Path
) -> None:
    from bench.__main__ import main
    from tests.conftest import PG_ADMIN_URL, _postgres_admin_engine

    _postgres_admin_engine().dispose()  # skips (fails under CI) without PostgreSQL
    output = tmp_path / "read.md"
    try:
        args = ["--only", "read", "--smoke", "--postgres", PG_ADMIN_URL, "--redis", redis_url]
        code = main([*args, "--model", test_model, "--output", str(output)])
    finally:
        forget_smoke_databases()
    assert code == 0
    text = output.read_text("utf-8")
    for backend in ("postgresql", "sqlite"):
        for row in (
            "search",
            "search: common word",
            "search: no match",
            "entities top --since 24h",
            "export --format jsonl",
            "store row with the search index",
        ):
            assert any(f"| {backend}: {row} |" in line for line in text.splitlines()), (
                backend,
                row,
            )
    assert "| 1 |" not in text  # the read group alone: no bound


def forget_smoke_databases() -> None:
    """The smoke size's cached databases go: the test leaves nothing behind."""
    import sqlalchemy as sa

    from bench.read_data import CACHE, VERSION
    from bench.read_load import pg_url
    from tests.conftest import PG_ADMIN_URL, _postgres_admin_engine

    name = sa.engine.make_url(pg_url(PG_ADMIN_URL, SMOKE_ARTICLES)).database
    admin = _postgres_admin_engine()
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
    for path in CACHE.glob(f"read-*{SMOKE_ARTICLES}-v{VERSION}*"):
        path.unlink(missing_ok=True)
