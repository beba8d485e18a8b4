"""The filters every read command shares, time bounds, and pagination cursors. Pure.

A cursor is ``v1.<payload>.<check>``: the payload (URL-safe base64 of JSON) holds the sort
key and id of the last row shown and a digest of the filters it was made for; the check is
a keyed BLAKE2b of the payload. A cursor from another query, another sort, another program
or a mangled copy is refused with :class:`InvalidQuery` instead of paging something else.
The key is not a secret (the cursor carries nothing private): it only makes a cursor that
newsingest did not make fail loudly.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from query.errors import InvalidQuery

CURSOR_VERSION = "v1"
_CURSOR_KEY = b"newsingest.query.cursor.v1"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
STORED_STATUSES = ("queued", "processed", "skipped")
"""Statuses whose articles have their text stored: the default of every read command."""
ALL_STATUSES = (
    "fetching", "retry", "not_article", "failed", "queued", "processed", "skipped", "duplicate",
)  # fmt: skip


class Sort(StrEnum):
    PUBLISHED = "published"
    FETCHED = "fetched"
    RELEVANCE = "relevance"


@dataclass(frozen=True, slots=True)
class Filters:
    """What to read. ``since``/``until`` bound the time the listing sorts by: the published
    time, or the fetched time with ``Sort.FETCHED``."""

    search: str | None = None
    entity: str | None = None
    labels: tuple[str, ...] | None = None
    feed_id: int | None = None
    language: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    statuses: tuple[str, ...] = STORED_STATUSES

    def digest(self, sort: Sort) -> str:
        """What a cursor is bound to: these filters and this sort."""
        data: dict[str, Any] = {"sort": sort.value}
        for f in fields(self):
            value = getattr(self, f.name)
            data[f.name] = value.isoformat() if isinstance(value, datetime) else value
        raw = json.dumps(data, sort_keys=True, default=list).encode()
        return hashlib.blake2b(raw, digest_size=8).hexdigest()


def parse_statuses(value: str | None) -> tuple[str, ...]:
    """``--status``: comma-separated statuses, ``any`` for all; default: stored articles."""
    if value is None or not value.strip():
        return STORED_STATUSES
    parts = tuple(p.strip().lower() for p in value.split(",") if p.strip())
    if parts == ("any",) or parts == ("all",):
        return ALL_STATUSES
    unknown = [p for p in parts if p not in ALL_STATUSES]
    if unknown:
        raise InvalidQuery(
            f"unknown status {unknown[0]!r}: use any, or one of {', '.join(ALL_STATUSES)}"
        )
    return parts


def parse_time(value: str | None, *, now: datetime, option: str = "--since") -> datetime | None:
    """A duration back from ``now`` (``30m``, ``24h``, ``7d``, ``2w``) or an ISO date or time
    (a time without an offset is UTC). None when not given."""
    if value is None or not value.strip():
        return None
    match = _DURATION.match(value)
    if match:
        seconds = float(match.group(1)) * _UNITS[match.group(2).lower()]
        try:
            return now - timedelta(seconds=seconds)
        except OverflowError:
            raise InvalidQuery(f"{option} {value!r}: the duration is too long") from None
    text = value.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidQuery(
            f"{option} {value!r} is neither a duration (30m, 24h, 7d, 2w) "
            "nor an ISO date or time (2026-01-31, 2026-01-31T08:00)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page ended: the sort key of its last row and that row's id."""

    key: Any  # an ISO time, None (an undated article), or a relevance position (a dict)
    id: int


def _check(payload: str) -> str:
    digest = hashlib.blake2b(payload.encode(), key=_CURSOR_KEY, digest_size=10).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def encode_cursor(cursor: Cursor, filters: Filters, sort: Sort) -> str:
    body = {"k": cursor.key, "i": cursor.id, "f": filters.digest(sort)}
    raw = json.dumps(body, separators=(",", ":")).encode()
    payload = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return f"{CURSOR_VERSION}.{payload}.{_check(payload)}"


def decode_cursor(text: str, filters: Filters, sort: Sort) -> Cursor:
    """The cursor ``text`` if newsingest made it for these filters and this sort."""
    parts = text.strip().split(".")
    if len(parts) != 3 or parts[0] != CURSOR_VERSION:
        raise InvalidQuery("the cursor is not one newsingest made (or from another version)")
    payload, check = parts[1], parts[2]
    if not payload or _check(payload) != check:
        raise InvalidQuery("the cursor is damaged or was not made by newsingest")
    try:
        body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        key, row_id, digest = body["k"], body["i"], body["f"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidQuery("the cursor is damaged") from None
    if digest != filters.digest(sort):
        raise InvalidQuery("the cursor belongs to another query (other filters or sort)")
    if not isinstance(row_id, int) or not (key is None or isinstance(key, str | float | dict)):
        raise InvalidQuery("the cursor is damaged")
    return Cursor(key, row_id)
