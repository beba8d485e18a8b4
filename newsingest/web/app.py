"""The FastAPI application: the API under ``/api/v1``, the dashboard at ``/``, the health
checks, metrics and the API's own documentation, all from :func:`create_app`."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from newsingest.web import api_ops, problems
from newsingest.web.actions import replay_enqueuer
from newsingest.web.db import WebDB
from newsingest.web.render import LoginRequired
from newsingest.web.security import LOOPBACK_HOSTS, Guard, token_or_session
from schemas.settings import Settings

HERE = Path(__file__).resolve().parent
API_PREFIX = "/api/v1"

#: Pages may load only what the server itself sends: nothing inline, nothing from elsewhere.
#: If escaping ever failed somewhere, an injected script still would not run.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def _request_metrics() -> tuple[Any, Any]:
    from prometheus_client import Counter, Histogram

    from schemas.metrics import metrics

    metrics()  # the process's registry (multiprocess mode or not) is settled first
    requests = Counter(
        "newsingest_http_requests",
        "HTTP requests served by `newsingest serve`, by route and status class",
        ["method", "route", "status"],
    )
    seconds = Histogram(
        "newsingest_http_request_seconds",
        "Time to answer an HTTP request, by route",
        ["route"],
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    )
    return requests, seconds


_METRICS: tuple[Any, Any] | None = None


def request_metrics() -> tuple[Any, Any]:
    global _METRICS
    if _METRICS is None:
        _METRICS = _request_metrics()
    return _METRICS


def create_app(
    settings: Settings,
    *,
    enqueuer_factory: Callable[[Settings], Any] = replay_enqueuer,
    statement_timeout: float | None = None,
) -> FastAPI:
    """The whole web application over ``settings.database_url``."""
    token = settings.api_token.get_secret_value() if settings.api_token else None
    db = WebDB(settings, statement_timeout=statement_timeout)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        db.dispose()

    app = FastAPI(
        title="newsingest",
        version="1",
        summary="Articles, entities, feeds and dead letters of one newsingest installation.",
        description="Every route but `/healthz` and `/readyz` needs "
        "`Authorization: Bearer <NEWSINGEST_API_TOKEN>` when a token is configured. "
        "Errors are RFC 9457 problem details.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # served below, behind the token like every read
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.guard = Guard(token)
    app.state.enqueuer_factory = enqueuer_factory
    from schemas.metrics_server import build_registry

    app.state.registry, _ = build_registry(settings)
    problems.install(app)
    app.add_exception_handler(LoginRequired, _to_login)

    @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(token_or_session)])
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    app.include_router(api_ops.health)
    app.include_router(api_ops.health, prefix=API_PREFIX, include_in_schema=False)
    app.include_router(api_ops.api, prefix=API_PREFIX)
    metrics_route = api_ops.metrics
    app.add_api_route(
        "/metrics",
        metrics_route,
        dependencies=api_ops.api.dependencies,
        include_in_schema=False,
        response_class=Response,
    )
    from newsingest.web import api_read, docs, pages_ops, pages_read

    app.include_router(docs.router)
    app.include_router(pages_ops.router)
    app.include_router(api_read.api, prefix=API_PREFIX)
    app.include_router(pages_read.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    _middleware(app)
    return app


async def _to_login(request: Request, exc: Exception) -> Response:
    from urllib.parse import quote

    path = exc.path if isinstance(exc, LoginRequired) else "/"
    return RedirectResponse("/login?next=" + quote(path, safe="/"), status_code=303)


def _middleware(app: FastAPI) -> None:
    guard: Guard = app.state.guard
    requests, seconds = request_metrics()

    @app.middleware("http")
    async def headers_and_metrics(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if guard.open and request.url.hostname not in LOOPBACK_HOSTS:
            # Without a token the server is for this machine only; a page on another site
            # that rebinds its DNS name to 127.0.0.1 arrives with its own Host: refuse it.
            response: Response = problems.problem_response(
                request,
                problems.Problem(
                    421, "misdirected", "no API token is configured: loopback names only"
                ),
            )
        else:
            started = time.perf_counter()
            response = await call_next(request)
            route = request.scope.get("route")
            path = getattr(route, "path", "unmatched")
            seconds.labels(path).observe(time.perf_counter() - started)
            requests.labels(request.method, path, f"{response.status_code // 100}xx").inc()
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.path.startswith(API_PREFIX):
            response.headers.setdefault("Cache-Control", "no-store")
        return response
