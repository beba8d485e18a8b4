"""Operations: health checks, metrics, status, feeds and dead letters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from newsingest.web import actions
from newsingest.web.db import WebDB
from newsingest.web.models import (
    MAX_LIMIT,
    DeadLetterPage,
    FeedAdd,
    FeedAdded,
    FeedList,
    FeedOut,
    Health,
    Id,
    Ready,
    Replayed,
    StatusOut,
)
from newsingest.web.problems import Problem, problems
from newsingest.web.security import require_token

#: Public: liveness and readiness, for compose and load balancers.
health = APIRouter(tags=["health"])
#: Everything else needs the token.
api = APIRouter(dependencies=[Depends(require_token)], responses=problems(400, 401, 422, 503))


def db_of(request: Request) -> WebDB:
    db: WebDB = request.app.state.db
    return db


DB = Annotated[WebDB, Depends(db_of)]


@health.get("/healthz", response_model=Health, summary="The process is up")
async def healthz() -> Health:
    return Health(status="ok")


@health.get(
    "/readyz",
    response_model=Ready,
    summary="The database answers and its schema is current",
    responses=problems(503),
)
async def readyz(db: DB) -> Ready:
    from schemas.db import head_revision
    from schemas.settings import mask_url

    def revision() -> str | None:
        from alembic.runtime.migration import MigrationContext

        with db.reader.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    head = head_revision()
    current = await db.call(revision)
    database = mask_url(db.url) or ""
    if current != head:
        raise Problem(
            503,
            "schema-not-current",
            f"the database is at revision {current or 'none'}, the code needs {head}: "
            "run `newsingest init`",
            revision=current,
            head=head,
        )
    return Ready(status="ready", database=database, revision=current, head=head)


@api.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request, db: DB) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    registry = request.app.state.registry
    body = await db.call(generate_latest, registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


@api.get("/status", response_model=StatusOut, summary="The facts of `newsingest status`")
async def status(db: DB) -> StatusOut:
    from ingest.status import collect_status

    st = await db.call(collect_status, db.settings, db.reader)
    data = st.as_dict()
    data["problems"] = st.problems()
    return StatusOut.model_validate(data)


@api.get("/feeds", response_model=FeedList, summary="Subscribed feeds with their health")
async def list_feeds(
    db: DB,
    active: Annotated[bool | None, Query(description="Only active (or inactive) feeds")] = None,
) -> FeedList:
    rows = await db.read(actions.feed_rows)
    if active is not None:
        rows = [r for r in rows if r["active"] == active]
    return FeedList(items=[FeedOut.model_validate(r) for r in rows])


@api.post(
    "/feeds",
    response_model=FeedAdded,
    status_code=201,
    summary="Subscribe to feeds (with discovery)",
)
async def add_feeds(db: DB, body: FeedAdd) -> FeedAdded:
    result = await actions.add_feeds(
        db, body.urls, discover=body.discover, respect_robots=body.respect_robots
    )
    return FeedAdded(added=result.added, duplicates=result.duplicates, discovered=result.discovered)


@api.get("/feeds/{feed_id}", response_model=FeedOut, responses=problems(404))
async def get_feed(db: DB, feed_id: Id) -> FeedOut:
    return FeedOut.model_validate(await db.read(actions.feed_row, feed_id))


@api.get(
    "/feeds/{feed_id}/health",
    response_model=FeedOut,
    summary="One feed's health",
    responses=problems(404),
)
async def feed_health(db: DB, feed_id: Id) -> FeedOut:
    return FeedOut.model_validate(await db.read(actions.feed_row, feed_id))


@api.delete(
    "/feeds/{feed_id}",
    status_code=204,
    response_class=Response,
    summary="Unsubscribe (its articles stay)",
    responses=problems(404),
)
async def remove_feed(db: DB, feed_id: Id) -> Response:
    await actions.remove_feed(db, feed_id)
    return Response(status_code=204)


@api.post(
    "/feeds/{feed_id}/reactivate",
    response_model=FeedOut,
    summary="Put a deactivated feed back in the schedule, due now",
    responses=problems(404),
)
async def reactivate_feed(db: DB, feed_id: Id) -> FeedOut:
    await actions.reactivate_feed(db, feed_id)
    return FeedOut.model_validate(await db.read(actions.feed_row, feed_id))


@api.get("/dead-letters", response_model=DeadLetterPage, summary="Dead letters, oldest first")
async def dead_letters(
    db: DB,
    everything: Annotated[bool, Query(alias="all", description="Include replayed ones")] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: Annotated[str | None, Query(max_length=32, pattern=r"^\d{1,18}$")] = None,
) -> DeadLetterPage:
    after = int(cursor) if cursor else None
    rows: list[dict[str, Any]] = await db.read(
        lambda conn: actions.dead_letters(conn, everything=everything, limit=limit, after=after)
    )
    following = str(rows[-1]["id"]) if len(rows) == limit else None
    return DeadLetterPage.model_validate({"items": rows, "next": following})


@api.post(
    "/dead-letters/{letter_id}/replay",
    response_model=Replayed,
    summary="Send a dead letter's articles through the entity stage again",
    responses=problems(404, 409),
)
async def replay(request: Request, db: DB, letter_id: Id) -> Replayed:
    enqueuer = request.app.state.enqueuer_factory(db.settings)
    return Replayed.model_validate(await actions.replay(db, letter_id, enqueuer))
