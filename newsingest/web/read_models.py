"""What the read routes return (articles, entities), for the OpenAPI schema."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class ArticleItem(BaseModel):
    id: int
    published_at: datetime | None
    fetched_at: datetime | None
    site: str
    language: str | None
    title: str | None
    url: str
    status: str
    score: float | None = Field(description="relevance of a search (higher is better)")
    snippet: str | None = Field(description="the text around the matches (searches only)")
    snippet_html: str | None = Field(description="the snippet, escaped, matches in <mark>")


class ArticlePage(BaseModel):
    items: list[ArticleItem]
    next: str | None = Field(description="Pass as `cursor` for the next page; null at the end")


class MentionOut(BaseModel):
    id: int
    label: str
    kind: str
    name: str
    key: str
    count: int
    first_offset: int


class RelatedOut(BaseModel):
    id: int
    relation: str
    url: str
    title: str | None
    distance: int | None


class ArticleDetailOut(BaseModel):
    id: int
    url: str
    canonical_url: str | None
    title: str | None
    authors: list[str] | None
    published_at: datetime | None
    published_source: str | None = Field(description="where the date came from")
    language: str | None
    site_name: str | None
    image: str | None
    word_count: int
    status: str
    status_reason: str | None
    feed_id: int | None
    feed_url: str | None = None
    fetched_at: datetime | None
    processed_at: datetime | None
    nlp_model: str | None
    nlp_model_version: str | None
    text_hash: str | None
    duplicate_of: int | None
    text: str
    entities: list[MentionOut]
    related: list[RelatedOut]


class TopEntityOut(BaseModel):
    id: int
    label: str
    kind: str
    name: str
    key: str
    articles: int
    previous: int | None
    change: int | None


class TopList(BaseModel):
    items: list[TopEntityOut]


class DayCount(BaseModel):
    start: str
    articles: int


class EntityDetailOut(BaseModel):
    id: int
    label: str
    kind: str
    name: str
    key: str
    first_seen: datetime | None
    last_seen: datetime | None
    articles: int
    timeline: list[DayCount]
    together: list[TopEntityOut]
    latest: list[dict[str, Any]]
    others: list[dict[str, str]]


class Point(BaseModel):
    start: datetime
    articles: int


class TimelineOut(BaseModel):
    entity_id: int
    interval: str
    points: list[Point]
