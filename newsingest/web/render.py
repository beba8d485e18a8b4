"""Server-rendered pages: Jinja2 with autoescaping on, the session cookie, CSRF tokens and the
login gate every dashboard page goes through."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from newsingest.web.charts import bar_chart
from newsingest.web.problems import Problem
from newsingest.web.security import BrowserSession, Guard, guard_of

TEMPLATES = Path(__file__).resolve().parent / "templates"

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(("html", "svg"), default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.globals["bar_chart"] = bar_chart
templates = Jinja2Templates(env=_env)


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else ""


def _href(value: Any) -> str:
    """A link target from data: http(s) only (no ``javascript:``), else nothing."""
    text = str(value or "")
    return text if text.lower().startswith(("http://", "https://")) else "#"


_env.filters["when"] = _when
_env.filters["href"] = _href


class LoginRequired(Exception):
    """A dashboard page asked for without a logged-in session: go to the login form."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def session_of(request: Request) -> BrowserSession:
    """The browser's session (a new one if it has none or a stale one)."""
    guard = guard_of(request)
    found = guard.session(request)
    if found is None:
        found = guard.new_session(authenticated=False)
        request.state.new_session = found
    return found


async def logged_in(request: Request) -> BrowserSession:
    """Dependency of every dashboard page but the login form."""
    session = session_of(request)
    if not session.authenticated:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return session


def check_form(request: Request, form: Any) -> BrowserSession:
    """The CSRF check of a POSTed form; returns the session that posted it."""
    guard = guard_of(request)
    session = guard.session(request)
    token = form.get("csrf")
    guard.check_csrf(session, token if isinstance(token, str) else None)
    assert session is not None
    return session


def page(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    session = session_of(request)
    guard: Guard = guard_of(request)
    values = {
        "request": request,
        "csrf": guard.csrf_token(session),
        "logged_in": session.authenticated,
        "needs_login": not guard.open,
        "flash": request.query_params.get("flash", "")[:300],
        "error": request.query_params.get("error", "")[:300],
        **(context or {}),
    }
    response = templates.TemplateResponse(request, name, values, status_code=status_code)
    if getattr(request.state, "new_session", None) is not None:
        guard.set_cookie(request, response, session)
    return response


def back(path: str, *, flash: str = "", error: str = "") -> RedirectResponse:
    """Post/redirect/get: back to a page with a one-line message."""
    query = []
    if flash:
        query.append("flash=" + quote(flash[:300]))
    if error:
        query.append("error=" + quote(error[:300]))
    return RedirectResponse(path + ("?" + "&".join(query) if query else ""), status_code=303)


def render_error(request: Request, problem: Problem) -> Response:
    response = page(request, "error.html", {"problem": problem}, status_code=problem.status)
    for key, value in problem.headers.items():
        response.headers[key] = value
    return response


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site only (no //host, no scheme)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target
