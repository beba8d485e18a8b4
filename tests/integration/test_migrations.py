"""The same Alembic migrations bring SQLite and PostgreSQL to the same schema."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from schemas import models
from schemas.db import current_revision, head_revision, make_engine, upgrade


def describe(url: str) -> dict[str, Any]:
    """A dialect-neutral description of the schema: columns, keys, indexes, foreign keys."""
    engine = make_engine(url)
    try:
        insp = sa.inspect(engine)
        out: dict[str, Any] = {}
        for table in sorted(t for t in insp.get_table_names() if t != "alembic_version"):
            columns = {}
            for col in insp.get_columns(table):
                kind = col["type"]
                try:
                    python_type = kind.python_type.__name__
                except NotImplementedError:
                    python_type = type(kind).__name__
                columns[col["name"]] = (python_type, getattr(kind, "length", None), col["nullable"])
            out[table] = {
                "columns": columns,
                "pk": tuple(insp.get_pk_constraint(table)["constrained_columns"]),
                "unique": sorted(
                    (u["name"], tuple(u["column_names"]))
                    for u in insp.get_unique_constraints(table)
                ),
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                    for i in insp.get_indexes(table)
                    # PostgreSQL also lists the index behind each unique constraint.
                    if not i.get("duplicates_constraint")
                ),
                "fks": sorted(
                    (
                        tuple(f["constrained_columns"]),
                        f["referred_table"],
                        f["options"].get("ondelete"),
                    )
                    for f in insp.get_foreign_keys(table)
                ),
            }
        return out
    finally:
        engine.dispose()


@pytest.mark.integration
def test_upgrade_reaches_head_and_is_safe_to_run_twice(database_url: str) -> None:
    assert current_revision(database_url) is None
    upgrade(database_url)
    assert current_revision(database_url) == head_revision()
    before = describe(database_url)
    upgrade(database_url)
    assert current_revision(database_url) == head_revision()
    assert describe(database_url) == before
    assert set(before) == set(models.ALL_TABLES)


@pytest.mark.integration
def test_migrations_match_the_models(database_url: str) -> None:
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, SQLModel.metadata)
    finally:
        engine.dispose()
    assert diff == []


@pytest.mark.integration
def test_downgrade_then_upgrade_round_trips(database_url: str) -> None:
    upgrade(database_url)
    upgrade_to_base(database_url)
    assert describe(database_url) == {}
    upgrade(database_url)
    assert set(describe(database_url)) == set(models.ALL_TABLES)


def upgrade_to_base(url: str) -> None:
    from alembic import command

    from schemas.db import alembic_config

    command.downgrade(alembic_config(url), "base")


@pytest.mark.integration
def test_schema_is_identical_on_sqlite_and_postgresql(sqlite_url: str, postgres_url: str) -> None:
    upgrade(sqlite_url)
    upgrade(postgres_url)
    lite, pg = describe(sqlite_url), describe(postgres_url)
    assert lite == pg
    # The constraints that make writes idempotent are there, by name.
    assert ("uq_article_url_hash", ("url_hash",)) in pg["article"]["unique"]
    assert ("uq_entity_label_key", ("label", "key")) in pg["entity"]["unique"]
    assert ("uq_mention_article_id_entity_id", ("article_id", "entity_id")) in pg["mention"][
        "unique"
    ]
    assert ("uq_feed_url", ("url",)) in pg["feed"]["unique"]
    assert ("ix_feed_next_poll_at", ("next_poll_at",), False) in pg["feed"]["indexes"]
    assert ("ix_article_published_at", ("published_at",), False) in pg["article"]["indexes"]
    assert ("ix_mention_entity_id", ("entity_id",), False) in pg["mention"]["indexes"]


@pytest.mark.integration
def test_unique_constraints_hold(database_url: str) -> None:
    from sqlmodel import Session

    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with Session(engine) as s:
            s.add(models.Article(url="https://a.example/1", url_hash="h1"))
            s.commit()
            s.add(models.Article(url="https://a.example/1?utm_source=x", url_hash="h1"))
            with pytest.raises(sa.exc.IntegrityError):
                s.commit()
            s.rollback()
            s.add(models.Entity(label="PERSON", key="vladimir putin", name="Vladimir Putin"))
            s.commit()
            s.add(models.Entity(label="PERSON", key="vladimir putin", name="Putin"))
            with pytest.raises(sa.exc.IntegrityError):
                s.commit()
    finally:
        engine.dispose()
