"""Migration 0005: existing entities take the common labels, and collisions are merged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from schemas.db import make_engine, upgrade
from tests.support.factories import seed_extracted as seed

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 2, 1, tzinfo=UTC)


def article_id(engine: Any, url_hash: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.text("SELECT id FROM article WHERE url_hash = :h"), {"h": url_hash}
            ).scalar_one()
        )


def test_old_labels_are_relabelled_and_merged(database_url: str) -> None:
    upgrade(database_url, "0004")
    engine = make_engine(database_url)
    try:
        a1, a2 = (article_id(engine, h) for h in seed(engine, ["one", "two"]))
        with engine.begin() as conn:
            entities = [
                (1, "GPE", "berlin", T0, T0), (2, "LOC", "berlin", T1, T1),
                (3, "PER", "emmanuel macron", T0, T1), (4, "FAC", "kremlin", T0, T0),
            ]  # fmt: skip
            for e in entities:
                conn.execute(
                    sa.text(
                        "INSERT INTO entity (id, label, key, name, first_seen, last_seen) "
                        "VALUES (:i, :l, :k, :k, :f, :s)"
                    ),
                    dict(zip("ilkfs", e, strict=True)),
                )
            mentions = [(1, a1, 1, 2, 5), (2, a1, 2, 1, 3), (3, a2, 1, 1, 0), (4, a2, 3, 1, 0)]
            for m in mentions:
                conn.execute(
                    sa.text(
                        "INSERT INTO mention (id, article_id, entity_id, count, first_offset) "
                        "VALUES (:i, :a, :e, :c, :o)"
                    ),
                    dict(zip("iaeco", m, strict=True)),
                )
        upgrade(database_url)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT id, label, key, first_seen, last_seen FROM entity ORDER BY id")
            ).all()
            assert [(r[0], r[1], r[2]) for r in rows] == [
                (2, "LOC", "berlin"), (3, "PERSON", "emmanuel macron"), (4, "LOC", "kremlin"),
            ]  # fmt: skip
            mentions_after = conn.execute(
                sa.text(
                    "SELECT article_id, entity_id, count, first_offset, model_label FROM mention "
                    "ORDER BY article_id, entity_id"
                )
            ).all()
            assert [tuple(m) for m in mentions_after] == [
                (a1, 2, 3, 3, "LOC"),  # both Berlins of article 1: counts added
                (a2, 2, 1, 0, "GPE"),
                (a2, 3, 1, 0, "PER"),
            ]
    finally:
        engine.dispose()
