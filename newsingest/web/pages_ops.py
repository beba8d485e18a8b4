"""Dashboard pages for operations: log in and out, the overview, feeds and dead letters.
Forms post back here (CSRF-checked) and redirect, so a reload never posts twice."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from newsingest.web import actions
from newsingest.web.db import WebDB
from newsingest.web.problems import Problem
from newsingest.web.render import (
    back,
    check_form,
    logged_in,
    page,
    safe_next,
)
from newsingest.web.security import BrowserSession, guard_of

router = APIRouter(include_in_schema=False)
Visitor = Annotated[BrowserSession, Depends(logged_in)]


def db_of(request: Request) -> WebDB:
    db: WebDB = request.app.state.db
    return db


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str = "/") -> Response:
    if guard_of(request).open:
        return RedirectResponse(safe_next(next), status_code=303)
    return page(request, "login.html", {"next": safe_next(next)})


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    check_form(request, form)
    guard = guard_of(request)
    target = safe_next(str(form.get("next") or "/"))
    token = form.get("token")
    if not isinstance(token, str) or not guard.login(token):
        return page(
            request,
            "login.html",
            {"next": target, "login_error": "that is not the API token"},
            status_code=401,
        )
    response = RedirectResponse(target, status_code=303)
    # A fresh session id at login: an id planted before it is worth nothing after.
    guard.set_cookie(request, response, guard.new_session(authenticated=True))
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    check_form(request, await request.form())
    guard = guard_of(request)
    response = RedirectResponse("/login" if not guard.open else "/", status_code=303)
    guard.set_cookie(request, response, guard.new_session(authenticated=False))
    return response


@router.get("/", response_class=HTMLResponse)
async def overview(request: Request, _: Visitor) -> Response:
    from ingest.status import collect_status
    from query.timeline import articles_per_hour

    db = db_of(request)
    st = await db.call(collect_status, db.settings, db.reader)
    hours = 72
    per_hour = await db.read(articles_per_hour, hours)
    return page(
        request,
        "overview.html",
        {
            "st": st,
            "problems": st.problems(),
            "hours": hours,
            "chart": [(when.strftime("%m-%d %H:00"), n) for when, n in per_hour],
            "total": sum(n for _, n in per_hour),
        },
    )


@router.get("/feeds", response_class=HTMLResponse)
async def feeds(request: Request, _: Visitor) -> Response:
    rows = await db_of(request).read(actions.feed_rows)
    return page(request, "feeds.html", {"feeds": rows})


@router.post("/feeds")
async def add_feed(request: Request, _: Visitor) -> Response:
    form = await request.form()
    check_form(request, form)
    urls = str(form.get("urls") or "").split()
    try:
        result = await actions.add_feeds(
            db_of(request),
            urls,
            discover=form.get("discover") == "on",
            respect_robots=form.get("ignore_robots") != "on",
        )
    except Problem as exc:
        return back("/feeds", error=exc.detail)
    found = "".join(f" ({len(v)} found on {k})" for k, v in result.discovered.items() if [k] != v)
    return back(
        "/feeds",
        flash=f"{len(result.added)} added, {len(result.duplicates)} already subscribed{found}",
    )


@router.post("/feeds/{feed_id}/remove")
async def remove_feed(request: Request, _: Visitor, feed_id: int) -> Response:
    check_form(request, await request.form())
    try:
        url = await actions.remove_feed(db_of(request), feed_id)
    except Problem as exc:
        return back("/feeds", error=exc.detail)
    return back("/feeds", flash=f"removed {url}")


@router.post("/feeds/{feed_id}/reactivate")
async def reactivate_feed(request: Request, _: Visitor, feed_id: int) -> Response:
    check_form(request, await request.form())
    try:
        await actions.reactivate_feed(db_of(request), feed_id)
    except Problem as exc:
        return back("/feeds", error=exc.detail)
    return back("/feeds", flash=f"feed {feed_id} reactivated, due now")


@router.get("/dead-letters", response_class=HTMLResponse)
async def dead_letters(request: Request, _: Visitor, all: bool = False) -> Response:
    rows: list[dict[str, Any]] = await db_of(request).read(
        lambda conn: actions.dead_letters(conn, everything=all, limit=500)
    )
    return page(request, "dead_letters.html", {"letters": rows, "all": all})


@router.post("/dead-letters/{letter_id}/replay")
async def replay(request: Request, _: Visitor, letter_id: int) -> Response:
    check_form(request, await request.form())
    db = db_of(request)
    try:
        result = await actions.replay(
            db, letter_id, request.app.state.enqueuer_factory(db.settings)
        )
    except Problem as exc:
        return back("/dead-letters", error=exc.detail)
    where = (
        "back in the queue for the running service or `newsingest sweep`"
        if result["deferred"]
        else "sent to the entity stage"
    )
    return back(
        "/dead-letters", flash=f"dead letter {letter_id} replayed: its articles are {where}"
    )
