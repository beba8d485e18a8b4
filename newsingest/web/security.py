"""Who may read and write: the API token, the dashboard's session cookie and its CSRF tokens.

- The API takes ``Authorization: Bearer <NEWSINGEST_API_TOKEN>``, compared in constant time.
- The dashboard's login form takes the same token and answers with a signed session cookie
  (HttpOnly, SameSite=Lax, Secure when the request came over https). The signing key is
  derived from the token, so changing the token logs every browser out.
- Every form carries a CSRF token: an HMAC of the session's random id, checked on POST.
- With no token configured (``serve`` then listens on loopback only) nobody logs in; the
  session cookie still exists, with a per-process key, so the CSRF check still protects the
  forms against other sites' pages in the same browser.

The token itself is never logged, never put in a cookie and never rendered.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response
from fastapi.security import HTTPBearer
from itsdangerous import BadSignature, URLSafeTimedSerializer

from newsingest.web.problems import Problem

SESSION_COOKIE = "newsingest_session"
SESSION_MAX_AGE = 12 * 3600
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def same_token(given: str, expected: str) -> bool:
    """Constant-time comparison (of digests, so the length of the token does not leak)."""
    a = hashlib.sha256(given.encode("utf-8", "surrogatepass")).digest()
    b = hashlib.sha256(expected.encode("utf-8", "surrogatepass")).digest()
    return hmac.compare_digest(a, b)


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


@dataclass(frozen=True, slots=True)
class BrowserSession:
    sid: str
    authenticated: bool


class Guard:
    """The access rules of one app: its token (or none), the session signer, CSRF tokens."""

    def __init__(self, token: str | None) -> None:
        self.token = token
        if token:
            key = hmac.new(token.encode(), b"newsingest session key", hashlib.sha256).digest()
        else:
            key = secrets.token_bytes(32)
        self._key = key
        self._signer = URLSafeTimedSerializer(key, salt="newsingest.session")

    @property
    def open(self) -> bool:
        """No token configured: loopback-only, nobody needs to log in."""
        return self.token is None

    # API ------------------------------------------------------------------------------------

    def check_bearer(self, request: Request) -> None:
        if self.token is None:
            return
        given = bearer(request.headers.get("authorization"))
        if given is None or not same_token(given, self.token):
            raise Problem(
                401,
                "unauthorized",
                "a valid `Authorization: Bearer <token>` header is required",
                headers={"WWW-Authenticate": 'Bearer realm="newsingest"'},
            )

    # Dashboard sessions ---------------------------------------------------------------------

    def session(self, request: Request) -> BrowserSession | None:
        raw = request.cookies.get(SESSION_COOKIE)
        if not raw:
            return None
        try:
            data = self._signer.loads(raw, max_age=SESSION_MAX_AGE)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("sid"), str):
            return None
        return BrowserSession(sid=data["sid"], authenticated=bool(data.get("auth")) or self.open)

    def new_session(self, *, authenticated: bool) -> BrowserSession:
        return BrowserSession(
            sid=secrets.token_urlsafe(18), authenticated=authenticated or self.open
        )

    def set_cookie(self, request: Request, response: Response, session: BrowserSession) -> None:
        value = self._signer.dumps({"sid": session.sid, "auth": int(session.authenticated)})
        response.set_cookie(
            SESSION_COOKIE,
            value,
            max_age=SESSION_MAX_AGE,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )

    def login(self, given: str) -> bool:
        return self.token is not None and same_token(given, self.token)

    # CSRF -----------------------------------------------------------------------------------

    def csrf_token(self, session: BrowserSession) -> str:
        return hmac.new(self._key, b"csrf:" + session.sid.encode(), hashlib.sha256).hexdigest()

    def check_csrf(self, session: BrowserSession | None, given: str | None) -> None:
        if session is None or not given or not hmac.compare_digest(self.csrf_token(session), given):
            raise Problem(
                403,
                "csrf",
                "the form is stale or came from another site: reload the page and try again",
            )


def guard_of(request: Request) -> Guard:
    guard: Guard = request.app.state.guard
    return guard


_scheme = HTTPBearer(
    auto_error=False,
    description="NEWSINGEST_API_TOKEN (not needed when the server runs without one, "
    "on loopback only)",
)


async def require_token(
    request: Request, _credentials: Annotated[object, Depends(_scheme)] = None
) -> None:
    """Dependency of every API route except the health checks (the scheme documents it in
    the OpenAPI schema; the check itself is :meth:`Guard.check_bearer`)."""
    guard_of(request).check_bearer(request)


async def token_or_session(
    request: Request, _credentials: Annotated[object, Depends(_scheme)] = None
) -> None:
    """The API schema: for API clients (token) and for the logged-in dashboard (cookie)."""
    guard = guard_of(request)
    session = guard.session(request)
    if session is not None and session.authenticated:
        return
    guard.check_bearer(request)
