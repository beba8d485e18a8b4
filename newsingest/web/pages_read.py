"""Dashboard pages for reading: search, one article, the top entities, one entity. The same
query functions as the API (``api_read``), rendered as HTML."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlalchemy.engine import Connection

from newsingest.web.api_read import article_page, entity_detail, timeline, top
from newsingest.web.db import WebDB
from newsingest.web.highlight import entity_html
from newsingest.web.models import MAX_QUERY_LENGTH, Id
from newsingest.web.problems import Problem, from_exception
from newsingest.web.render import logged_in, page
from newsingest.web.security import BrowserSession
from query.filters import Sort
from query.timeline import Interval
from schemas.errors import NewsIngestError

router = APIRouter(include_in_schema=False, dependencies=[Depends(logged_in)])
Visitor = Annotated[BrowserSession, Depends(logged_in)]
Field = Annotated[str, Query(max_length=MAX_QUERY_LENGTH)]
SEARCH_FIELDS = ("q", "entity", "label", "feed", "lang", "since", "until", "status")
PAGE_SIZE = 25


def db_of(request: Request) -> WebDB:
    db: WebDB = request.app.state.db
    return db


@router.get("/search", response_class=HTMLResponse)
async def search(
    request: Request,
    q: Field = "",
    entity: Field = "",
    label: Field = "",
    feed: Field = "",
    lang: Field = "",
    since: Field = "",
    until: Field = "",
    status: Field = "",
    sort: Annotated[str, Query(max_length=16)] = "",
    cursor: Annotated[str, Query(max_length=1024)] = "",
) -> Response:
    given = {
        "q": q, "entity": entity, "label": label, "feed": feed, "lang": lang,
        "since": since, "until": until, "status": status,
    }  # fmt: skip
    strings = {k: (v.strip() or None) for k, v in given.items()}
    chosen = Sort(sort) if sort in {s.value for s in Sort} else None
    result: dict[str, Any] | None = None
    problem: Problem | None = None
    try:
        result = await db_of(request).read(
            article_page, strings, chosen, PAGE_SIZE, cursor.strip() or None
        )
    except NewsIngestError as exc:
        problem = from_exception(exc)
    rows = []
    for item in (result or {}).get("items", []):
        # snippet_html was built by escaping the text first (highlight.snippet_html)
        markup = Markup(item["snippet_html"] or "")  # noqa: S704
        rows.append({**item, "snippet_markup": markup})
    next_query = None
    if result and result.get("next"):
        keep = {k: v for k, v in given.items() if v}
        if sort:
            keep["sort"] = sort
        keep["cursor"] = result["next"]
        next_query = keep
    return page(
        request,
        "search.html",
        {
            "form": given,
            "sort": sort,
            "sorts": [s.value for s in Sort],
            "rows": rows,
            "problem": problem,
            "next_query": next_query,
            "first_query": {k: v for k, v in given.items() if v} if cursor else None,
        },
        status_code=problem.status if problem else 200,
    )


def _article(conn: Connection, article_id: int) -> dict[str, Any]:
    from query.article import get_article
    from query.views import article_mentions

    detail = get_article(conn, str(article_id))
    mentions = article_mentions(conn, article_id)
    return {
        "fields": detail.fields,
        "text": entity_html(detail.text, mentions),
        "mentions": mentions,
        "related": detail.related,
    }


@router.get("/articles/{article_id}", response_class=HTMLResponse)
async def article(request: Request, article_id: Id) -> Response:
    data = await db_of(request).read(_article, article_id)
    kinds = sorted({m.entity.kind for m in data["mentions"]})
    return page(request, "article.html", {**data, "kinds": kinds})


@router.get("/entities", response_class=HTMLResponse)
async def entities(
    request: Request,
    since: Annotated[str, Query(max_length=64)] = "24h",
    label: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    strings = {"since": since or None, "until": None, "label": label or None, "lang": None,
               "feed": None}  # fmt: skip
    problem = None
    rows: list[dict[str, Any]] = []
    try:
        rows = await db_of(request).read(top, strings, 50)
    except NewsIngestError as exc:
        problem = from_exception(exc)
    return page(
        request,
        "entities.html",
        {"rows": rows, "since": since, "label": label, "problem": problem},
        status_code=problem.status if problem else 200,
    )


@router.get("/entities/{entity_id}", response_class=HTMLResponse)
async def entity(
    request: Request,
    entity_id: Id,
    interval: Interval = Interval.DAY,
) -> Response:
    db = db_of(request)
    view = await db.read(entity_detail, entity_id, 15, 15)
    points = (await db.read(timeline, entity_id, interval, None, None))["points"]
    fmt = "%m-%d" if interval is Interval.DAY else "%m-%d %H:00"
    chart = [(p["start"].strftime(fmt), p["articles"]) for p in points]
    return page(
        request,
        "entity.html",
        {"e": view, "chart": chart, "interval": interval.value},
    )
