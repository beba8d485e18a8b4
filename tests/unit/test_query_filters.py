"""Durations and dates, statuses, labels, cursors, and the entity-name folding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from query.errors import InvalidQuery
from query.filters import (
    ALL_STATUSES,
    STORED_STATUSES,
    Cursor,
    Filters,
    Sort,
    decode_cursor,
    encode_cursor,
    parse_statuses,
    parse_time,
)
from query.labels import named_labels, resolve_labels
from schemas.keys import lookup_keys

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24h", NOW - timedelta(hours=24)),
        ("7d", NOW - timedelta(days=7)),
        ("30m", NOW - timedelta(minutes=30)),
        ("2w", NOW - timedelta(weeks=2)),
        ("90s", NOW - timedelta(seconds=90)),
        (" 1.5h ", NOW - timedelta(minutes=90)),
        ("2026-03-01", datetime(2026, 3, 1, tzinfo=UTC)),
        ("2026-03-01T08:30", datetime(2026, 3, 1, 8, 30, tzinfo=UTC)),
        ("2026-03-01T08:30:00Z", datetime(2026, 3, 1, 8, 30, tzinfo=UTC)),
        ("2026-03-01T10:30:00+02:00", datetime(2026, 3, 1, 8, 30, tzinfo=UTC)),
        (None, None),
        ("", None),
    ],
)
def test_parse_time(text: str | None, expected: datetime | None) -> None:
    assert parse_time(text, now=NOW) == expected


@pytest.mark.parametrize(
    "text", ["yesterday", "24", "h", "-1d", "2026-13-01", "1e9999d", "99999999999w"]
)
def test_bad_times_are_invalid(text: str) -> None:
    with pytest.raises(InvalidQuery):
        parse_time(text, now=NOW)


def test_statuses() -> None:
    assert parse_statuses(None) == STORED_STATUSES
    assert parse_statuses("any") == ALL_STATUSES
    assert parse_statuses("failed, processed") == ("failed", "processed")
    with pytest.raises(InvalidQuery):
        parse_statuses("gone")


def test_labels() -> None:
    assert resolve_labels(None) is None
    assert resolve_labels("people") == ("PERSON", "PER")
    assert resolve_labels("PERSON") == ("PERSON", "PER")
    assert resolve_labels("places,org") == ("GPE", "LOC", "FAC", "ORG")
    assert "DATE" not in named_labels()
    assert "CARDINAL" not in named_labels()
    with pytest.raises(InvalidQuery):
        resolve_labels("wizards")


def test_cursor_round_trip_and_refusals() -> None:
    filters = Filters(search="x", language="en")
    for key in ("2026-03-01T08:30:00+00:00", None, 0.125):
        text = encode_cursor(Cursor(key, 42), filters, Sort.PUBLISHED)
        assert decode_cursor(text, filters, Sort.PUBLISHED) == Cursor(key, 42)
    text = encode_cursor(Cursor(None, 42), filters, Sort.PUBLISHED)
    with pytest.raises(InvalidQuery, match="another query"):
        decode_cursor(text, Filters(search="y", language="en"), Sort.PUBLISHED)
    with pytest.raises(InvalidQuery, match="another query"):
        decode_cursor(text, filters, Sort.FETCHED)
    version, payload, check = text.split(".")
    with pytest.raises(InvalidQuery):
        decode_cursor(f"v2.{payload}.{check}", filters, Sort.PUBLISHED)
    with pytest.raises(InvalidQuery):
        decode_cursor(f"{version}.{payload}x.{check}", filters, Sort.PUBLISHED)


@given(st.text(max_size=200))
def test_any_cursor_text_is_refused_cleanly(text: str) -> None:
    try:
        decode_cursor(text, Filters(), Sort.PUBLISHED)
    except InvalidQuery:
        return
    raise AssertionError("a random string was taken for a cursor")


@pytest.mark.parametrize(
    "name",
    ["Vladimir Putin", "Mr Putin", "Putin's", "The Kremlin", "  Dr.  Anna   Berg ",
     "Zürich", "ＡＢＣ", "O'Neil", "Mrs", "the", "Emmanuel Macron’s"],
)  # fmt: skip
def test_a_typed_name_is_looked_up_under_the_keys_the_store_writes(name: str) -> None:
    from workers.entity_keys import normalize_key

    keys = lookup_keys(name)
    assert normalize_key(name, "PERSON") in keys
    assert normalize_key(name, "ORG") in keys


def test_a_title_is_dropped_for_people_only() -> None:
    assert lookup_keys("Bundeskanzler Olaf Scholz") == ("bundeskanzler olaf scholz", "olaf scholz")
    assert lookup_keys("Emmanuel Macron") == ("emmanuel macron",)
