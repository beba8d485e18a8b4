from __future__ import annotations

import hashlib
import json
import random
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ingest.extract
from ingest.extract import (
    ExtractedArticle,
    ExtractOptions,
    count_words,
    decode_html,
    extract_article,
    text_hash,
)
from schemas.errors import NotAnArticle

URL = "https://news.example.com/2024/05/17/harbour-bridge-reopens?utm_source=feed"

BODY = [
    "The Harbour Bridge reopened to traffic on Friday morning after eleven months of repairs "
    "that cost the city considerably more than the engineers had first estimated.",
    "Crews replaced the corroded steel cables that had forced the closure last June, and the "
    "deck was resurfaced with a lighter asphalt mix designed to last for at least thirty years.",
    "Commuters who had spent most of the year on long detours through the industrial district "
    "welcomed the news, although several said the toll increase would hurt.",
    "\u201cWe finally get our mornings back,\u201d said Maria Lopez, a nurse who crosses the "
    "bridge twice a day to reach the regional hospital on the northern shore.",
    "The transport authority said cyclists would get a separated lane from July, once the "
    "remaining railings have been installed and inspected by an independent firm.",
    "City council members are expected to review the final invoices at their next meeting, "
    "where the opposition plans to ask why the repairs ran so far over budget.",
]

ARTICLE_HTML = f"""<!DOCTYPE html>
<html lang="en-GB">
<head>
  <meta charset="utf-8">
  <title>Harbour Bridge reopens after repairs | The Example Gazette</title>
  <meta property="og:title" content="Harbour Bridge reopens after repairs">
  <meta property="og:site_name" content="The Example Gazette">
  <meta property="og:image" content="/images/2024/harbour-bridge.jpg">
  <meta property="og:type" content="article">
  <meta name="author" content="Jane Doe">
  <meta property="article:published_time" content="2024-05-17T08:30:00+02:00">
  <link rel="canonical" href="/2024/05/17/harbour-bridge-reopens">
  <link rel="stylesheet" href="/static/site.css">
</head>
<body>
  <header class="site-header">
    <a href="/" class="logo">The Example Gazette</a>
    <nav class="main-nav"><ul>
      <li><a href="/politics">Politics</a></li><li><a href="/business">Business</a></li>
      <li><a href="/sport">Sport</a></li><li><a href="/culture">Culture and Lifestyle</a></li>
      <li><a href="/subscribe">Subscribe to our newsletter today</a></li>
    </ul></nav>
  </header>
  <main>
    <article class="story">
      <h1>Harbour Bridge reopens after repairs</h1>
      <p class="byline">By <a rel="author" href="/authors/jane-doe">Jane Doe</a>,
        <time datetime="2024-05-17T08:30:00+02:00">17 May 2024</time></p>
      <figure>
        <img src="/images/2024/harbour-bridge.jpg" alt="The bridge at dawn">
        <figcaption>The Harbour Bridge at dawn on Friday. Photograph: John Smith</figcaption>
      </figure>
      {"".join(f"<p>{p}</p>" for p in BODY)}
    </article>
    <section class="comments" id="comments">
      <h2>Comments</h2>
      <div class="comment"><p>Reader comment: about time they fixed this old bridge!</p></div>
      <div class="comment"><p>Reader comment: the toll is still far too high.</p></div>
    </section>
    <aside class="related"><h2>Most read</h2><ul>
      <li><a href="/a">Council votes on the new stadium plan</a></li>
      <li><a href="/b">Heatwave warning for the weekend</a></li>
    </ul></aside>
  </main>
  <footer class="site-footer">
    <p>Copyright 2024 The Example Gazette. All rights reserved.</p>
    <p><a href="/privacy">Privacy policy</a> | <a href="/imprint">Imprint</a></p>
  </footer>
</body>
</html>
"""


def norm(text: str) -> str:
    return " ".join(text.split())


# --------------------------------------------------------------------------- a real page


def test_article_text_keeps_the_body_and_drops_the_boilerplate() -> None:
    article = extract_article(ARTICLE_HTML.encode("utf-8"), url=URL)
    text = norm(article.text)
    for paragraph in BODY:
        assert norm(paragraph) in text
    for boilerplate in (
        "Subscribe to our newsletter",
        "Culture and Lifestyle",
        "All rights reserved",
        "Privacy policy",
        "Reader comment",
        "Most read",
        "Heatwave warning",
    ):
        assert boilerplate not in text
    assert article.word_count == count_words(article.text) >= 150
    normalised = " ".join(article.text.split()).casefold()
    assert article.text_hash == hashlib.sha256(normalised.encode()).hexdigest()


def test_article_metadata() -> None:
    article = extract_article(ARTICLE_HTML, url=URL)
    assert article.title == "Harbour Bridge reopens after repairs"
    assert article.authors == ("Jane Doe",)
    assert article.published_at == datetime(2024, 5, 17, 6, 30, tzinfo=UTC)
    assert article.published_source == "page"  # the URL has the day too, but so does the page
    assert article.language == "en"
    assert article.site_name == "The Example Gazette"
    assert article.image == "https://news.example.com/images/2024/harbour-bridge.jpg"
    assert article.canonical_url == "https://news.example.com/2024/05/17/harbour-bridge-reopens"


def test_comments_only_on_request() -> None:
    with_comments = extract_article(
        ARTICLE_HTML, url=URL, options=ExtractOptions(include_comments=True)
    )
    assert "about time they fixed this old bridge" in with_comments.text
    assert norm(BODY[0]) in norm(with_comments.text)


def test_text_hash_ignores_whitespace_and_case() -> None:
    a = extract_article(ARTICLE_HTML, url=URL)
    b = extract_article(ARTICLE_HTML.replace(BODY[1], BODY[1].upper().replace(" ", "  \n ")))
    assert a.text_hash == b.text_hash
    assert a.text != b.text


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Hello, world – 42 | x", 4),
        ("", 0),
        ("--- ___ ...", 0),
        ("子どもへの虐待。", 7),  # Japanese: one per character
        ("abc漢字 def", 4),
    ],
)
def test_count_words(text: str, words: int) -> None:
    assert count_words(text) == words


def test_text_hash() -> None:
    assert text_hash("  Hello\n\tWORLD ") == text_hash("hello world")
    assert text_hash("hello world") != text_hash("hello  worlds")


def _plain_page(paragraphs: list[str], head: str = "") -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<html><head><title>A plain page</title>{head}</head>"
        f"<body><article>{body}</article></body></html>"
    )


UNDATED = [
    "Volunteers planted several hundred young oak trees along the river bank this spring.",
    "The saplings came from a nursery run by the local school, whose pupils grew them from acorns.",
    "Organisers hope the new woodland will shade the path and slow the erosion of the bank.",
]


def test_page_date_off_skips_htmldate_and_changes_nothing_else(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``page_date=False`` (an entry its feed dates): htmldate is not called at all, the
    rest of the metadata and the text are the same, and the next extraction searches again."""
    calls: list[object] = []
    real = ingest.extract._htmldate_find_date

    def counting(*args: Any, **kwargs: Any) -> str | None:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest.extract, "_htmldate_find_date", counting)
    full = extract_article(ARTICLE_HTML, url=URL)
    assert len(calls) == 1
    assert full.published_at is not None
    calls.clear()
    dateless = extract_article(ARTICLE_HTML, url=URL, options=ExtractOptions(page_date=False))
    assert calls == []
    assert (dateless.published_at, dateless.published_source) == (None, None)
    assert dateless == ExtractedArticle(
        **{
            **{name: getattr(full, name) for name in ExtractedArticle.__slots__},
            "published_at": None,
            "published_source": None,
        }
    )
    assert extract_article(ARTICLE_HTML, url=URL).published_at == full.published_at
    assert len(calls) == 1


def test_date_from_the_url_only() -> None:
    article = extract_article(
        _plain_page(UNDATED), url="https://example.org/news/2023/03/09/oaks", options=_any_length()
    )
    assert article.published_at == datetime(2023, 3, 9, tzinfo=UTC)
    assert article.published_source == "url"


def test_date_only_day_known_is_midnight_utc() -> None:
    head = '<meta property="article:published_time" content="2021-11-30">'
    article = extract_article(_plain_page(UNDATED, head), options=_any_length())
    assert article.published_at == datetime(2021, 11, 30, tzinfo=UTC)
    assert article.published_source == "page"


def test_no_date_no_language_no_canonical() -> None:
    article = extract_article(_plain_page(UNDATED), options=_any_length())
    assert article.published_at is None
    assert article.published_source is None
    assert article.language is None
    assert article.canonical_url is None
    assert article.image is None
    assert article.authors == ()


def test_relative_canonical_without_url_is_dropped() -> None:
    head = '<link rel="canonical" href="/only/relative"><meta property="og:image" content="x.jpg">'
    article = extract_article(_plain_page(UNDATED, head), options=_any_length())
    assert article.canonical_url is None
    assert article.image is None


def _any_length() -> ExtractOptions:
    return ExtractOptions(min_words=0)


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty_document"),
        (b"  \n\t ", "empty_document"),
        ("", "empty_document"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "not_html"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64), "not_html"),
        (b"\x1f\x8b\x08\x00" + bytes(32), "not_html"),
        (b"PK\x03\x04" + bytes(32), "not_html"),
        (json.dumps({"title": "<b>not a page</b>", "items": [1, 2, 3]}).encode(), "not_html"),
        (b'[{"id": 1}]', "not_html"),
        (random.Random(0).randbytes(4096), "not_html"),
        (b"Just a line of plain text, no markup at all.\n", "not_html"),
        (
            b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
            b"<item><title>Item</title><description>Words words words</description></item>"
            b"</channel></rss>",
            "not_html",
        ),
        (b'<?xml version="1.0"?><urlset><url><loc>https://x.org/</loc></url></urlset>', "not_html"),
        (b"<html><head><title>Nothing</title></head><body></body></html>", "no_text"),
        (_plain_page(["Too short to be an article."]).encode(), "too_short"),
    ],
)
def test_refusals(body: bytes | str, reason: str) -> None:
    with pytest.raises(NotAnArticle) as caught:
        extract_article(body)
    assert caught.value.reason == reason


def test_wrong_type_is_not_html() -> None:
    with pytest.raises(NotAnArticle) as caught:
        extract_article(cast(Any, 42))
    assert caught.value.reason == "not_html"


def test_library_failures_are_wrapped(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(ingest.extract, "bare_extraction", explode)
    with pytest.raises(NotAnArticle) as caught:
        extract_article(ARTICLE_HTML)
    assert caught.value.reason == "parse_error"
    assert "boom" in str(caught.value)


def test_too_large(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest.extract, "MAX_HTML_CHARS", 1000)
    for body in (ARTICLE_HTML, ARTICLE_HTML.encode()):
        with pytest.raises(NotAnArticle) as caught:
            extract_article(body)
        assert caught.value.reason == "too_large"


@pytest.mark.parametrize(
    "page",
    [
        # XHTML: the XML declaration (which lxml refuses in a str) and no <html> early on
        '<?xml version="1.0" encoding="iso-8859-1"?>\n<!DOCTYPE html>\n'
        '<html xmlns="http://www.w3.org/1999/xhtml"><body><article>{}</article></body></html>',
        "<!DOCTYPE html><title>No html element</title><article>{}</article>",  # HTML5 omissions
        "<div class='content'>{}</div>",  # a fragment, e.g. a feed's content:encoded
        "<html><body><article>{}\ud800\x00</article></body></html>",  # surrogate, NUL
    ],
)
def test_unusual_but_fine_documents(page: str) -> None:
    html = page.format("".join(f"<p>{p}</p>" for p in UNDATED))
    article = extract_article(html, options=_any_length())
    assert norm(UNDATED[1]) in norm(article.text)
    article = extract_article(html.encode("utf-8", "surrogatepass"), options=_any_length())
    assert norm(UNDATED[1]) in norm(article.text)


def test_min_words_is_configurable() -> None:
    short = _plain_page(UNDATED)  # about 50 words
    with pytest.raises(NotAnArticle, match="too_short"):
        extract_article(short, options=ExtractOptions(min_words=500))
    assert extract_article(short, options=ExtractOptions(min_words=10)).word_count >= 10


def test_options_validate() -> None:
    with pytest.raises(ValueError, match="mutually exclusive"):
        ExtractOptions(favor_precision=True, favor_recall=True)
    with pytest.raises(ValueError, match="min_words"):
        ExtractOptions(min_words=-1)


# --------------------------------------------------------------------------- charsets

GERMAN = (
    "Die größten Straßenbäume der Stadt stehen in der Müllerstraße; Anwohner äußerten sich "
    "erfreut über die Pflanzaktion im Frühjahr und lobten das Grünflächenamt."
)

GERMAN_2 = (
    "Im nächsten Jahr sollen weitere Linden und Ahornbäume folgen, sagte die Leiterin des "
    "Grünflächenamts; die Kosten übernimmt größtenteils eine örtliche Stiftung."
)


def _german_page(charset: str) -> str:
    return (
        f'<html><head><meta http-equiv="Content-Type" content="text/html; charset={charset}">'
        f"<title>Bäume</title></head><body><article><p>{GERMAN}</p><p>{GERMAN_2}</p></article>"
        "</body></html>"
    )


def test_declared_latin1_but_utf8() -> None:
    body = _german_page("iso-8859-1").encode("utf-8")
    assert GERMAN in decode_html(body)
    assert GERMAN in decode_html(body, "iso-8859-1")
    assert GERMAN in extract_article(body).text


def test_declared_utf8_but_latin1() -> None:
    body = _german_page("utf-8").encode("cp1252")
    assert GERMAN in decode_html(body)
    assert GERMAN in decode_html(body, "utf-8")
    assert GERMAN in extract_article(body).text


def test_header_charset_wrong_meta_right() -> None:
    body = _german_page("windows-1252").encode("cp1252")
    assert GERMAN in decode_html(body, "utf-8")


def test_legacy_charset_declared_and_true() -> None:
    text = "東京の桜は今年、例年より一週間早く満開になった。"
    body = (
        '<html><head><meta charset="shift_jis"></head><body><p>' + text + "</p></body></html>"
    ).encode("shift_jis")
    assert text in decode_html(body)
    cyrillic = "Городской совет утвердил бюджет на следующий год."
    body = ("<html><body><p>" + cyrillic + "</p></body></html>").encode("cp1251")
    assert cyrillic in decode_html(body, "windows-1251")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"\xef\xbb\xbf<p>caf\xc3\xa9</p>", "<p>café</p>"),
        ("<p>café</p>".encode("utf-16"), "<p>café</p>"),  # with a BOM
        ("<html><p>café</p></html>".encode("utf-16-le"), "<html><p>café</p></html>"),  # none
        ("<html><p>café</p></html>".encode("utf-16-be"), "<html><p>café</p></html>"),
        (b"<p>plain ascii</p>", "<p>plain ascii</p>"),
        (b"", ""),
    ],
)
def test_decode_boms_and_utf16(body: bytes, expected: str) -> None:
    assert decode_html(body, "iso-8859-1") == expected


def test_decode_tolerates_junk_labels_and_stray_bytes() -> None:
    body = ("<p>" + GERMAN + "</p>").encode("utf-8")
    assert decode_html(body, "x-no-such-charset") == "<p>" + GERMAN + "</p>"
    assert decode_html(body, "") == "<p>" + GERMAN + "</p>"
    # mostly UTF-8 with one stray Latin-1 byte: stays UTF-8, one replacement character
    stray = body[:-4] + b"\xe9" + body[-4:]
    decoded = decode_html(stray, "iso-8859-1")
    assert "größten Straßenbäume" in decoded
    assert decoded.count("\ufffd") == 1


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=3000), st.sampled_from([None, "utf-8", "latin-1", "utf-16", "bogus"]))
def test_decode_never_raises(body: bytes, charset: str | None) -> None:
    assert isinstance(decode_html(body, charset), str)


# --------------------------------------------------------------------------- robustness

_TAGS = ["<html>", "<head>", "<body>", "<p>", "</p>", "<div>", "</div>", "<article>", "<nav>"]
_FRAGMENTS = st.one_of(
    st.sampled_from([*_TAGS, "<!--", "-->", "<script>", "&amp;", "&#0;", "\x00", "<?xml ?>"]),
    st.text(max_size=80),
)


def _as_page(paragraphs: list[str]) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return f"<html><head><title>t</title></head><body><article>{body}</article></body></html>"


@settings(max_examples=100, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=3000),
        st.text(max_size=3000),
        st.lists(_FRAGMENTS, max_size=60).map("".join),
        st.lists(_FRAGMENTS, max_size=60).map(lambda parts: "".join(parts).encode("utf-8")),
        st.lists(st.text(min_size=1, max_size=200), min_size=1, max_size=12).map(_as_page),
    )
)
def test_only_not_an_article_escapes(body: bytes | str) -> None:
    reason = None
    try:
        article = extract_article(body, url="https://example.org/x", options=_any_length())
    except NotAnArticle as exc:
        reason = exc.reason
    else:
        assert isinstance(article, ExtractedArticle)
        assert article.text.strip()
    assert reason in {None, "empty_document", "not_html", "no_text", "too_large", "parse_error"}


# --------------------------------------------------------------------------- processes


def test_runs_in_a_process_pool() -> None:
    """Arguments, results and the error all cross a process boundary (they pickle)."""
    options = ExtractOptions(min_words=5)
    with ProcessPoolExecutor(1) as pool:
        ok = pool.submit(extract_article, ARTICLE_HTML.encode(), url=URL, options=options)
        refused = pool.submit(extract_article, b"%PDF-1.4 ...")
        assert ok.result() == extract_article(ARTICLE_HTML.encode(), url=URL, options=options)
        with pytest.raises(NotAnArticle) as caught:
            refused.result()
    assert caught.value.reason == "not_html"
