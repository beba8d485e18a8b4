"""The jsonl encoder: orjson (the ``fast-export`` extra) and the standard library's json
write the same text, so the output does not depend on the installed extras."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from query import export


def test_orjson_and_json_write_the_same_line() -> None:
    if export._dumps is export._dumps_std:
        pytest.skip("orjson is not installed")
    record = {
        "id": 7,
        "title": 'Zürich "Bank" \u2028 news',
        "authors": ["Ana B.", "€"],
        "published_at": datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC),
        "fetched_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "processed_at": None,
        "word_count": 12,
        "entities": [{"label": "GPE", "name": "Zürich", "key": "zürich", "count": 2}],
        "text": "tab\tnewline\nbackslash\\ control\x01 emoji 😀",
    }
    assert export._dumps(record) == export._dumps_std(record)
    assert "\u2028" not in export.json_line(record)
