from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.urls import InvalidUrl, host_of, normalize_url, url_hash


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTP://Example.COM/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/a#section-2", "https://example.com/a"),
        ("https://example.com/a/./b/../c", "https://example.com/a/c"),
        ("https://example.com/a?b=2&a=1", "https://example.com/a?a=1&b=2"),
        (
            "https://example.com/a?utm_source=tw&utm_medium=social&id=5&fbclid=XYZ&gclid=1",
            "https://example.com/a?id=5",
        ),
        ("https://example.com/a?UTM_Campaign=x", "https://example.com/a"),
        ("https://example.com/%7euser/a%2fb", "https://example.com/~user/a%2Fb"),
        ("https://example.com/caf\u00e9", "https://example.com/caf%C3%A9"),
        ("https://example.com/a b", "https://example.com/a%20b"),
        ("https://example.com/100%", "https://example.com/100%25"),
        ("https://example.com./a", "https://example.com/a"),
        ("https://user:pw@example.com/a", "https://example.com/a"),
        ("https://b\u00fccher.example/a", "https://xn--bcher-kva.example/a"),
        ("http://[::1]:8080/a", "http://[::1]:8080/a"),
        ("  https://example.com/a  ", "https://example.com/a"),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize_url(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "example.com/a",
        "ftp://example.com/a",
        "javascript:alert(1)",
        "data:text/html,hi",
        "mailto:x@example.com",
        "https:///nohost",
        "http://exa mple.com/",
        "https://example.com:99999/",
        "https://example.com/\x00",
        "https://example.com/" + "a" * 5000,
    ],
)
def test_invalid_urls_are_refused(raw: str) -> None:
    with pytest.raises(InvalidUrl):
        normalize_url(raw)


def test_relative_links_resolve_against_a_base() -> None:
    assert normalize_url("../b?x=1#f", base="https://ex.com/a/c/") == "https://ex.com/a/b?x=1"


def test_url_hash_is_the_same_for_equivalent_links() -> None:
    a = url_hash("https://Example.com/story?id=7&utm_source=rss#top")
    b = url_hash("https://example.com:443/story?id=7")
    assert a == b
    assert len(a) == 64
    assert a != url_hash("https://example.com/story?id=8")


def test_host_of_keeps_non_default_port() -> None:
    assert host_of("http://Example.com:8080/x") == "example.com:8080"
    assert host_of("https://example.com:443/x") == "example.com"


# --- properties -------------------------------------------------------------------------------

_label = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?", fullmatch=True)
_host = st.lists(_label, min_size=1, max_size=3).map(".".join)
_segment = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=8
)
_query_part = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=6
)


@st.composite
def urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "HttpS"]))
    host = draw(_host)
    port = draw(st.one_of(st.none(), st.integers(1, 65535)))
    path = "/".join(draw(st.lists(_segment, max_size=5)))
    params = draw(st.lists(st.tuples(_query_part, _query_part), max_size=4))
    query = "&".join(f"{k}={v}" for k, v in params)
    fragment = draw(st.one_of(st.none(), _segment))
    url = f"{scheme}://{host}" + (f":{port}" if port else "") + "/" + path
    if query:
        url += "?" + query
    if fragment is not None:
        url += "#" + fragment
    return url


@settings(max_examples=300, deadline=None)
@given(urls())
def test_normalization_is_idempotent(url: str) -> None:
    try:
        once = normalize_url(url)
    except InvalidUrl:
        return
    assert normalize_url(once) == once


@settings(max_examples=200, deadline=None)
@given(urls(), st.sampled_from(["utm_source", "utm_medium", "fbclid", "gclid"]), _query_part)
def test_tracking_parameters_never_change_the_key(url: str, name: str, value: str) -> None:
    try:
        base = normalize_url(url)
    except InvalidUrl:
        return
    sep = "&" if "?" in base else "?"
    tracked = f"{base}{sep}{name}={quote(value, safe='')}#frag"
    assert normalize_url(tracked) == base


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_only_raises_invalid_url(text: str) -> None:
    try:
        result = normalize_url(text)
    except InvalidUrl:
        return
    assert result.startswith(("http://", "https://"))
