"""Export round trips (jsonl, csv, parquet) on SQLite and PostgreSQL, streamed in chunks."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from query import export
from query.filters import Filters
from tests.support.readside import NOW, add_article, database

pytestmark = pytest.mark.integration

HOSTILE = 'Title with "quotes", commas,\nnewlines\tand tabs; <script>alert(1)</script> \u2028'


@pytest.fixture
def stored(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Engine, list[int]]]:
    monkeypatch.setattr(export, "CHUNK", 3)  # several chunks from a few articles
    with database(database_url) as engine:
        with engine.begin() as conn:
            ids = [
                add_article(
                    conn, HOSTILE if i == 0 else f"Article {i}", f"Text {i} about Zürich.",
                    published=None if i == 4 else NOW - timedelta(hours=i),
                    language="de" if i % 2 else "en",
                    entities=[("PERSON", "Olaf Scholz", i + 1), ("GPE", "Zürich", 1)]
                    if i % 3 == 0 else [],
                )
                for i in range(8)
            ]  # fmt: skip
            add_article(conn, "Not stored", "", status="failed")
        yield engine, ids


def records(engine: Engine, filters: Filters | None = None) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [r for chunk in export.iter_records(conn, filters or Filters()) for r in chunk]


def normal(record: dict[str, Any]) -> dict[str, Any]:
    """A record as text, the way jsonl and csv carry it."""
    out = {}
    for key, value in record.items():
        if hasattr(value, "isoformat"):
            value = value.isoformat()
        out[key] = value
    return out


def test_records_stream_in_id_order_with_entities(stored: tuple[Engine, list[int]]) -> None:
    engine, ids = stored
    got = records(engine)
    assert [r["id"] for r in got] == ids
    assert got[0]["entities"] == [
        {"label": "PERSON", "name": "Olaf Scholz", "key": "olaf scholz", "count": 1},
        {"label": "GPE", "name": "Zürich", "key": "zürich", "count": 1},
    ]
    assert got[1]["entities"] == []
    assert [r["id"] for r in records(engine, Filters(language="de"))] == ids[1::2]
    assert [r["id"] for r in records(engine, Filters(search="zurich", entity="scholz"))] == [
        ids[0], ids[3], ids[6],
    ]  # fmt: skip


def test_jsonl_round_trip(stored: tuple[Engine, list[int]]) -> None:
    engine, _ = stored
    expected = [normal(r) for r in records(engine)]
    buffer = io.StringIO()
    with engine.connect() as conn:
        n = export.write_jsonl(export.iter_records(conn, Filters()), buffer, lambda k: None)
    lines = buffer.getvalue().splitlines()
    assert n == len(lines) == len(expected)
    assert [json.loads(line) for line in lines] == expected


def test_csv_round_trip(stored: tuple[Engine, list[int]]) -> None:
    engine, _ = stored
    expected = [normal(r) for r in records(engine)]
    buffer = io.StringIO(newline="")
    with engine.connect() as conn:
        export.write_csv(export.iter_records(conn, Filters()), buffer, lambda k: None)
    buffer.seek(0)
    back = list(export.read_csv(buffer))
    assert len(back) == len(expected)
    for got, want in zip(back, expected, strict=True):
        assert got["entities"] == want["entities"]
        assert got["authors"] == want["authors"]
        for key in export.FIELDS:
            if key in ("entities", "authors"):
                continue
            assert got[key] == (None if want[key] is None else str(want[key])), key


def test_parquet_round_trip(stored: tuple[Engine, list[int]], tmp_path: Any) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    engine, _ = stored
    expected = records(engine)
    path = tmp_path / "out.parquet"
    with engine.connect() as conn, path.open("wb") as handle:
        export.write_parquet(export.iter_records(conn, Filters()), handle, lambda k: None)
    table = pq.read_table(path)
    assert table.schema == export.parquet_schema()
    back = table.to_pylist()
    assert [r["id"] for r in back] == [r["id"] for r in expected]
    for got, want in zip(back, expected, strict=True):
        assert got["title"] == want["title"]
        assert got["published_at"] == want["published_at"]
        assert got["entities"] == want["entities"]
        assert got["authors"] == want["authors"]
