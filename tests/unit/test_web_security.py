"""Pure pieces of the web layer: tokens, sessions, CSRF, problem details, escaping."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.exceptions import RequestValidationError
from markupsafe import Markup

from newsingest.cli.serve import is_loopback
from newsingest.web.charts import bar_chart
from newsingest.web.highlight import entity_html, snippet_html, snippet_text
from newsingest.web.problems import PROBLEM_JSON, Problem, from_exception
from newsingest.web.render import safe_next
from newsingest.web.security import Guard, bearer, same_token
from query.errors import InvalidQuery, NotFound, QueryTimeout
from query.fulltext import HL_END, HL_START
from query.views import ArticleMention, EntityRef
from schemas.errors import DatabaseUnavailable
from schemas.settings import load_settings

TOKEN = "0123456789abcdef-token"  # noqa: S105 - a test token
HOSTILE = '<script>alert(1)</script>"&'


def request(cookies: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> Any:
    return SimpleNamespace(cookies=cookies or {}, headers=headers or {})


def test_tokens_compare_whole_and_exact() -> None:
    assert same_token(TOKEN, TOKEN)
    assert not same_token(TOKEN[:-1], TOKEN)
    assert not same_token(TOKEN + "x", TOKEN)
    assert not same_token("", TOKEN)
    assert bearer(f"Bearer {TOKEN}") == TOKEN
    assert bearer(f"bearer   {TOKEN}  ") == TOKEN
    assert bearer(f"Basic {TOKEN}") is None
    assert bearer("Bearer ") is None
    assert bearer(None) is None


def test_bearer_check_refuses_with_a_problem() -> None:
    guard = Guard(TOKEN)
    guard.check_bearer(request(headers={"authorization": f"Bearer {TOKEN}"}))  # type: ignore[arg-type]
    with pytest.raises(Problem) as refused:
        guard.check_bearer(request(headers={"authorization": "Bearer nope"}))  # type: ignore[arg-type]
    assert refused.value.status == 401
    assert refused.value.headers["WWW-Authenticate"].startswith("Bearer")
    Guard(None).check_bearer(request())  # type: ignore[arg-type]  # no token: open


def test_sessions_are_signed_and_bound_to_the_token() -> None:
    guard = Guard(TOKEN)
    session = guard.new_session(authenticated=True)
    value = guard._signer.dumps({"sid": session.sid, "auth": 1})
    assert TOKEN not in value
    found = guard.session(request({"newsingest_session": value}))  # type: ignore[arg-type]
    assert found == session
    tampered = value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1]
    assert guard.session(request({"newsingest_session": tampered})) is None  # type: ignore[arg-type]
    rotated = Guard(TOKEN + "-new")
    assert rotated.session(request({"newsingest_session": value})) is None  # type: ignore[arg-type]
    assert guard.session(request({"newsingest_session": "garbage"})) is None  # type: ignore[arg-type]


def test_csrf_tokens_belong_to_their_session() -> None:
    guard = Guard(TOKEN)
    one, two = guard.new_session(authenticated=True), guard.new_session(authenticated=True)
    assert one.sid != two.sid
    guard.check_csrf(one, guard.csrf_token(one))
    for session, given in ((one, guard.csrf_token(two)), (one, ""), (one, None), (None, "x")):
        with pytest.raises(Problem) as refused:
            guard.check_csrf(session, given)
        assert refused.value.status == 403
    assert Guard(None).csrf_token(one) != Guard(None).csrf_token(one)  # per-process keys


def test_login_needs_the_token_and_an_open_server_needs_none() -> None:
    assert Guard(TOKEN).login(TOKEN)
    assert not Guard(TOKEN).login(TOKEN.upper())
    assert not Guard(None).login("anything")
    assert Guard(None).new_session(authenticated=False).authenticated


@pytest.mark.parametrize(
    ("target", "expected"),
    [("/feeds", "/feeds"), ("/search?q=x", "/search?q=x"), ("//evil.example/", "/"),
     ("https://evil.example/", "/"), ("/\\evil.example", "/"), ("", "/"), (None, "/")],
)  # fmt: skip
def test_after_login_only_paths_of_this_site(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True),
     ("localhost", True), ("0.0.0.0", False), ("::", False), ("192.168.1.2", False),
     ("example.com", False)],
)  # fmt: skip
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_problems_from_errors() -> None:
    cases = [
        (InvalidQuery("bad cursor"), 400, "invalid-query"),
        (NotFound("no article 7"), 404, "not-found"),
        (QueryTimeout("too slow"), 503, "query-timeout"),
        (DatabaseUnavailable("down"), 503, "database-unavailable"),
        (RuntimeError("secret internals"), 500, "internal"),
    ]
    for exc, status, kind in cases:
        problem = from_exception(exc)
        assert (problem.status, problem.kind) == (status, kind)
        body = problem.body("/api/v1/x")
        assert body["type"].endswith("/" + kind)
        assert body["instance"] == "/api/v1/x"
    assert "secret" not in from_exception(RuntimeError("secret internals")).detail
    invalid = from_exception(
        RequestValidationError([{"loc": ("query", "limit"), "msg": "too big", "type": "x"}])
    )
    assert invalid.status == 422
    assert invalid.detail == "limit: too big"
    assert invalid.body()["errors"] == [{"loc": ["query", "limit"], "msg": "too big"}]
    assert PROBLEM_JSON == "application/problem+json"


def test_chart_labels_are_escaped() -> None:
    svg = bar_chart([(HOSTILE, 3), ("b", 0)], label=HOSTILE)
    assert isinstance(svg, Markup)
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert svg.count('class="bar"') == 2


def mention(entity_id: int, label: str, kind: str, name: str) -> ArticleMention:
    return ArticleMention(EntityRef(entity_id, label, kind, name, name.lower()), 1, 0)


def test_entity_highlighting_escapes_everything() -> None:
    text = f"Angela Merkel met {HOSTILE} in Berlin. Merkel left. Berliners stayed."
    html = entity_html(
        text,
        [mention(1, "PERSON", "people", "Angela Merkel"), mention(2, "GPE", "places", "Berlin"),
         mention(3, "ORG", "organisations", HOSTILE)],
    )  # fmt: skip
    assert "<script>" not in html
    assert html.count('class="ent people"') == 2  # the full name, then the surname alone
    assert html.count('class="ent places"') == 1  # "Berliners" is another word
    assert '<a class="ent organisations" href="/entities/3"' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert entity_html(HOSTILE, []) == Markup("&lt;script&gt;alert(1)&lt;/script&gt;&#34;&amp;")


def test_snippets_mark_matches_after_escaping() -> None:
    raw = f"before {HL_START}<b>word</b>{HL_END} after"
    assert snippet_html(raw) == Markup("before <mark>&lt;b&gt;word&lt;/b&gt;</mark> after")
    assert snippet_text(raw) == "before <b>word</b> after"
    assert snippet_html(None) == Markup("")


def test_the_token_is_masked_in_config() -> None:
    s = load_settings(api_token=TOKEN)
    assert s.masked()["api_token"] == "***"  # noqa: S105
    assert TOKEN not in repr(s)
    assert load_settings().masked()["api_token"] is None
    with pytest.raises(Exception, match="at least 16 characters"):
        load_settings(api_token="short")  # noqa: S106
