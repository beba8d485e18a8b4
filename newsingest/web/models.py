"""What the API takes and returns: pydantic models, so the OpenAPI schema describes each."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, Field

MAX_LIMIT = 200
MAX_QUERY_LENGTH = 500
MAX_URL_LENGTH = 2048
MAX_ID = 2**31 - 1
"""Ids are INTEGER columns (32-bit on PostgreSQL): larger ones are refused before a query."""

Id = Annotated[int, Path(ge=1, le=MAX_ID)]


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    status: str
    database: str
    revision: str | None
    head: str | None


class FeedOut(BaseModel):
    id: int
    url: str
    title: str | None
    kind: str
    active: bool
    respect_robots: bool
    state: str = Field(description="active, failing, stale or deactivated")
    healthy: bool
    reason: str | None
    last_success_at: datetime | None
    last_polled_at: datetime | None
    consecutive_failures: int
    last_status: int | None
    articles_per_day: float
    next_poll_at: datetime | None
    poll_interval: int


class FeedList(BaseModel):
    items: list[FeedOut]


class FeedAdd(BaseModel):
    urls: list[Annotated[str, Field(max_length=MAX_URL_LENGTH)]] = Field(
        min_length=1, max_length=50, description="Feed URLs, or site pages with discover"
    )
    discover: bool = Field(
        default=False,
        description="Fetch each URL; if it is a page rather than a feed, subscribe to the "
        "feeds it advertises (link rel=alternate, robots.txt sitemaps, common paths).",
    )
    respect_robots: bool = True


class FeedAdded(BaseModel):
    added: list[str]
    duplicates: list[str]
    discovered: dict[str, list[str]]


class DeadLetterOut(BaseModel):
    id: int
    stage: str
    key: str | None
    error: str
    attempts: int
    first_failed_at: datetime | None
    last_failed_at: datetime | None
    replayed_at: datetime | None


class DeadLetterPage(BaseModel):
    items: list[DeadLetterOut]
    next: str | None = Field(description="Pass as `cursor` for the next page; null at the end")


class Replayed(BaseModel):
    replayed: int
    articles: int = Field(description="articles sent to the entity stage again")
    deferred: bool = Field(
        description="in-process mode: the articles are back in `queued`; the running service "
        "or `newsingest sweep` processes them"
    )


class StatusOut(BaseModel):
    now: datetime
    broker: str | None
    queues: dict[str, int] | None
    unacked: int | None
    workers: list[str] | None
    articles_last_hour: dict[str, int]
    articles_last_day: dict[str, int]
    dead_letters_open: int
    feeds_total: int
    feeds_active: int
    unhealthy: list[dict[str, Any]]
    problems: list[str]
