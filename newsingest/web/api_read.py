"""Articles and entities over HTTP: the read side's query layer (``query/``) with the filters
of ``newsingest articles`` as query parameters."""

from __future__ import annotations

from dataclasses import fields
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel
from sqlalchemy.engine import Connection

from newsingest.web.api_ops import DB
from newsingest.web.highlight import snippet_html, snippet_text
from newsingest.web.models import MAX_LIMIT, MAX_QUERY_LENGTH, Id
from newsingest.web.problems import problems
from newsingest.web.read_models import (
    ArticleDetailOut,
    ArticlePage,
    EntityDetailOut,
    TimelineOut,
    TopEntityOut,
    TopList,
)
from newsingest.web.security import require_token
from query.filters import Sort
from query.timeline import Interval

api = APIRouter(dependencies=[Depends(require_token)], responses=problems(400, 401, 404, 422, 503))

Text = Annotated[str | None, Query(max_length=MAX_QUERY_LENGTH)]
Short = Annotated[str | None, Query(max_length=100)]


def read_filters(
    conn: Connection,
    *,
    q: str | None = None,
    entity: str | None = None,
    label: str | None = None,
    feed: str | None = None,
    lang: str | None = None,
    since: str | None = None,
    until: str | None = None,
    status: str | None = None,
) -> Any:
    """The same Filters ``newsingest articles`` builds from its options."""
    from newsingest.cli.articles import build_filters

    return build_filters(
        conn, search=q, entity=entity, label=label, feed=feed, lang=lang,
        since=since, until=until, status=status,
    )  # fmt: skip


def as_json(model: BaseModel) -> Response:
    """The validated model as the response: FastAPI would validate it again against the
    ``response_model`` (which stays for the schema) when it is returned as it is."""
    return Response(model.model_dump_json(), media_type="application/json")


def shallow(obj: Any) -> dict[str, Any]:
    """A dataclass's fields as a dict, without ``asdict``'s deep copy of every value (half
    the time of a page of 20 articles)."""
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


def article_page(
    conn: Connection, strings: dict[str, Any], sort: Sort | None, limit: int, cursor: str | None
) -> dict[str, Any]:
    from query.articles import list_articles

    filters = read_filters(conn, **strings)
    page = list_articles(conn, filters, sort=sort, limit=limit, after=cursor)
    items = []
    for row in page.rows:
        item = shallow(row)
        item["snippet"] = snippet_text(row.snippet)
        item["snippet_html"] = str(snippet_html(row.snippet)) if row.snippet else None
        items.append(item)
    return {"items": items, "next": page.next_cursor}


@api.get("/articles", response_model=ArticlePage, summary="Articles, newest or most relevant")
async def articles(
    db: DB,
    q: Annotated[
        str | None,
        Query(
            max_length=MAX_QUERY_LENGTH,
            description='Full text, websearch syntax: words, "a phrase", a OR b, -without',
        ),
    ] = None,
    entity: Text = None,
    label: Annotated[str | None, Query(max_length=200, description="people, ORG, ...")] = None,
    feed: Annotated[str | None, Query(max_length=2048, description="Feed id or URL")] = None,
    lang: Short = None,
    since: Annotated[str | None, Query(max_length=64, description="24h, 7d or ISO")] = None,
    until: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[
        str | None, Query(max_length=200, description="Comma-separated, or any")
    ] = None,
    sort: Sort | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
    cursor: Annotated[
        str | None, Query(max_length=1024, description="The `next` of the previous page")
    ] = None,
) -> Response:
    strings = {
        "q": q, "entity": entity, "label": label, "feed": feed, "lang": lang,
        "since": since, "until": until, "status": status,
    }  # fmt: skip
    page = ArticlePage.model_validate(await db.read(article_page, strings, sort, limit, cursor))
    return as_json(page)


def article_detail(conn: Connection, article_id: int) -> dict[str, Any]:
    from query.article import get_article
    from query.views import article_mentions

    detail = get_article(conn, str(article_id))
    return {
        **detail.fields,
        "text": detail.text,
        "entities": [
            {**shallow(m.entity), "count": m.count, "first_offset": m.first_offset}
            for m in article_mentions(conn, article_id)
        ],
        "related": [shallow(r) for r in detail.related],
    }


@api.get(
    "/articles/{article_id}",
    response_model=ArticleDetailOut,
    summary="One article: metadata, text, entities, duplicates",
    responses=problems(404),
)
async def article(db: DB, article_id: Id) -> ArticleDetailOut:
    return ArticleDetailOut.model_validate(await db.read(article_detail, article_id))


def top(conn: Connection, strings: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    from query.entities import top_entities
    from query.labels import resolve_labels

    label = strings.pop("label")
    filters = read_filters(conn, **strings)
    found = top_entities(conn, filters, labels=resolve_labels(label), limit=limit)
    return [{**shallow(t), "change": t.change} for t in found]


@api.get("/entities", response_model=TopList, summary="The entities in the most articles")
async def entities(
    db: DB,
    since: Annotated[
        str | None, Query(max_length=64, description="The period: 24h, 7d, ISO")
    ] = "24h",
    until: Annotated[str | None, Query(max_length=64)] = None,
    label: Annotated[str | None, Query(max_length=200, description="people, ORG, ...")] = None,
    lang: Short = None,
    feed: Annotated[str | None, Query(max_length=2048)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
) -> TopList:
    strings = {"since": since, "until": until, "label": label, "lang": lang, "feed": feed}
    return TopList(
        items=[TopEntityOut.model_validate(t) for t in await db.read(top, strings, limit)]
    )


def entity_detail(conn: Connection, entity_id: int, related: int, latest: int) -> dict[str, Any]:
    from query.entities import show_entity
    from query.views import entity_by_id

    ref = entity_by_id(conn, entity_id)
    view = show_entity(conn, ref.key, labels=(ref.label,), related=related, latest=latest)
    data = shallow(view)
    data["latest"] = [shallow(a) for a in view.latest]
    data.update(id=ref.id, label=ref.label, kind=ref.kind, name=ref.name, key=ref.key)
    data["timeline"] = [{"start": d.isoformat(), "articles": n} for d, n in view.timeline]
    data["together"] = [{**shallow(t), "change": t.change} for t in view.together]
    data["others"] = [{"label": lab, "name": name} for lab, name in view.others]
    return data


@api.get(
    "/entities/{entity_id}",
    response_model=EntityDetailOut,
    summary="One entity: counts, entities mentioned with it, latest articles",
    responses=problems(404),
)
async def entity(db: DB, entity_id: Id) -> EntityDetailOut:
    return EntityDetailOut.model_validate(await db.read(entity_detail, entity_id, 10, 10))


def timeline(
    conn: Connection, entity_id: int, interval: Interval, since: str | None, until: str | None
) -> dict[str, Any]:
    from query.filters import parse_time
    from query.timeline import entity_timeline
    from schemas.models import utcnow

    now = utcnow()
    points = entity_timeline(
        conn,
        entity_id,
        interval=interval,
        since=parse_time(since, now=now, option="since"),
        until=parse_time(until, now=now, option="until"),
    )
    return {
        "entity_id": entity_id,
        "interval": interval.value,
        "points": [{"start": start, "articles": n} for start, n in points],
    }


@api.get(
    "/entities/{entity_id}/timeline",
    response_model=TimelineOut,
    summary="Articles mentioning the entity per hour or per day",
    responses=problems(404),
)
async def entity_timeline(
    db: DB,
    entity_id: Id,
    interval: Interval = Interval.DAY,
    since: Annotated[
        str | None, Query(max_length=64, description="Default: 30 days, or 72 hours")
    ] = None,
    until: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    return as_json(
        TimelineOut.model_validate(await db.read(timeline, entity_id, interval, since, until))
    )
