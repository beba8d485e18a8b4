"""Errors as RFC 9457 problem details (``application/problem+json``), for every failure of
the API, and as an HTML page with the same status for the dashboard.

One place maps the project's error tree, the framework's validation and HTTP errors, and
database trouble to a status and a stable ``type``; an unexpected error is a 500 whose body
says nothing about the code (the traceback goes to the log).
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from schemas.errors import DatabaseUnavailable, NewsIngestError, PermanentError

log = logging.getLogger("newsingest.web")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://newsingest.invalid/problems/"
"""Problem types are URIs; ``.invalid`` says they name a kind of problem, not a page to fetch."""


class Problem(Exception):
    """An error the API reports as it is: ``raise Problem(404, "not-found", "no feed 7")``."""

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.headers = headers or {}
        self.extra = extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": TYPE_BASE + self.kind,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            data["instance"] = instance
        data.update(self.extra)
        return data


#: Reasons of the project's error tree (``NewsIngestError.reason``) and the status they get.
REASON_STATUS = {
    "invalid_query": 400,
    "invalid_url": 400,
    "not_found": 404,
    "query_timeout": 503,
}


def from_exception(exc: BaseException) -> Problem:
    """The problem an exception stands for."""
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, RequestValidationError):
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(first["loc"][1:] or first["loc"])
        detail = f"{where}: {first['msg']}" if where else str(first["msg"])
        return Problem(422, "validation", detail, title="Invalid request", errors=errors)
    if isinstance(exc, StarletteHTTPException):
        kind = {401: "unauthorized", 404: "not-found", 405: "method-not-allowed"}.get(
            exc.status_code, "http"
        )
        return Problem(
            exc.status_code, kind, str(exc.detail), headers=dict(exc.headers or {}) or None
        )
    if isinstance(exc, sqlalchemy.exc.DataError):
        # A value the column cannot hold (an id past 32 bits in a filter, say): bad input.
        return Problem(400, "invalid-value", "a value is out of range for the database")
    if isinstance(exc, DatabaseUnavailable | sqlalchemy.exc.OperationalError):
        return Problem(
            503,
            "database-unavailable",
            "the database is unavailable; try again shortly",
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, NewsIngestError):
        reason = getattr(exc, "reason", "error")
        status = REASON_STATUS.get(reason, 400 if isinstance(exc, PermanentError) else 503)
        return Problem(status, reason.replace("_", "-"), exc.message)
    return Problem(500, "internal", "an unexpected error; it has been logged")


def wants_html(request: Request) -> bool:
    """Dashboard pages answer errors in HTML; the API (and any non-browser client) in JSON."""
    if request.url.path.startswith(("/api/", "/metrics", "/healthz", "/readyz", "/openapi")):
        return False
    return "text/html" in request.headers.get("accept", "")


def problem_response(request: Request, problem: Problem) -> Response:
    if wants_html(request):
        from newsingest.web.render import render_error

        return render_error(request, problem)
    return JSONResponse(
        problem.body(request.url.path),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )


async def _handle(request: Request, exc: Exception) -> Response:
    problem = from_exception(exc)
    if problem.status >= 500 and problem.kind == "internal":
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return problem_response(request, problem)


def install(app: FastAPI) -> None:
    for kind in (
        Problem,
        RequestValidationError,
        StarletteHTTPException,
        NewsIngestError,
        sqlalchemy.exc.OperationalError,
        sqlalchemy.exc.DataError,
        Exception,
    ):
        app.add_exception_handler(kind, _handle)


#: The OpenAPI description of an error response, for the ``responses=`` of each route.
PROBLEM_SCHEMA: dict[str, Any] = {
    "content": {
        PROBLEM_JSON: {
            "schema": {
                "type": "object",
                "required": ["type", "title", "status", "detail"],
                "properties": {
                    "type": {"type": "string"},
                    "title": {"type": "string"},
                    "status": {"type": "integer"},
                    "detail": {"type": "string"},
                    "instance": {"type": "string"},
                },
            }
        }
    },
    "description": "Problem details (RFC 9457)",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return dict.fromkeys(statuses, PROBLEM_SCHEMA)
