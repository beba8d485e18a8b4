"""The publication date: which day, and where it came from.

htmldate (through trafilatura) looks at
the page metadata, JSON-LD, the URL and the text; by default a complete ``Y-M-D`` date in
the URL wins outright. The date is labelled ``"url"`` when it equals a ``Y/M/D`` pattern of
the request URL or the page's canonical URL *and* the page alone (htmldate's quick, non-
extensive search without any URL) does not give that same day; otherwise it is ``"meta"``
when the page's date markup (``<meta>``, ``<time datetime>``, ``itemprop``) states that day,
else ``"text"``. A page that confirms the URL's day lends its time of day, if any. (Before
JSON-LD was read first, ``"meta"`` and ``"text"`` were one value, ``"page"``: old rows may
still hold it.) A date with a time zone becomes that instant in UTC; a date without one (or
a time without a time zone) becomes midnight UTC of that calendar day.
"""

from __future__ import annotations

import contextvars
import re
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import trafilatura.metadata
from htmldate import find_date
from lxml.html import HtmlElement

__all__ = [
    "DATE_FORMAT",
    "HTMLDATE_FIND_DATE",
    "PAGE_DATE",
    "Published",
    "from_jsonld",
    "parse_date",
    "parse_iso",
    "prefer_jsonld",
    "published",
    "url_day",
]

# htmldate keeps the time and offset when the page gives them, e.g. 2019-08-02T23:30:00+0200
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
_URL_DATE = re.compile(r"\D((?:19|20)\d\d)[/_-](0?[1-9]|1[0-2])[/_-](0?[1-9]|[12]\d|3[01])(?:\D|$)")


# ``ExtractOptions.page_date``: trafilatura's metadata pass always calls htmldate's
# find_date and has no option to leave the date out, so the name it calls is wrapped once,
# here, to skip the search while an extraction with ``page_date=False`` runs (a context
# variable: per thread and per task, so concurrent extractions do not see each other's).
# With the flag on (the default) the wrapper calls htmldate unchanged.
PAGE_DATE: contextvars.ContextVar[bool] = contextvars.ContextVar("page_date", default=True)
HTMLDATE_FIND_DATE = trafilatura.metadata.find_date


def _trafilatura_find_date(*args: Any, **kwargs: Any) -> str | None:
    if not PAGE_DATE.get():
        return None
    # looked up on the package at call time, so that replacing
    # ``ingest.extract._htmldate_find_date`` (as tests do to count the searches) takes effect
    package = sys.modules.get("ingest.extract")
    finder = getattr(package, "_htmldate_find_date", HTMLDATE_FIND_DATE)
    result: str | None = finder(*args, **kwargs)
    return result


trafilatura.metadata.find_date = _trafilatura_find_date


def parse_date(value: str | None) -> tuple[date, datetime] | None:
    """htmldate's string -> (the page's calendar day, the instant in UTC)."""
    if not value:
        return None
    try:
        parsed = datetime.strptime(value, DATE_FORMAT)
    except ValueError:
        try:
            parsed = datetime.strptime(value[:10], "%Y-%m-%d")
        except ValueError:
            return None
    day = parsed.date()
    if parsed.tzinfo is None:
        return day, datetime(day.year, day.month, day.day, tzinfo=UTC)
    return day, parsed.astimezone(UTC)


def url_day(url: str | None) -> date | None:
    if not url:
        return None
    match = _URL_DATE.search(url)
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Published:
    instant: datetime
    """Aware, UTC."""
    day: date
    """The calendar day as the page states it (in the page's own time zone)."""
    source: str
    """``jsonld``, ``meta``, ``url`` or ``text``."""


def parse_iso(value: str | None) -> tuple[date, datetime] | None:
    """A JSON-LD ``datePublished`` (ISO 8601) -> (the stated day, the instant in UTC)."""
    if not value:
        return None
    value = value.strip()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(value[:10])
        except ValueError:
            return None
    if not 1990 <= parsed.year <= 2100:
        return None
    day = parsed.date()
    if parsed.tzinfo is None:
        return day, datetime(day.year, day.month, day.day, tzinfo=UTC)
    return day, parsed.astimezone(UTC)


def from_jsonld(value: str | None) -> Published | None:
    parsed = parse_iso(value)
    return None if parsed is None else Published(parsed[1], parsed[0], "jsonld")


def prefer_jsonld(found: Published | None, jsonld: Published | None) -> Published | None:
    """htmldate's date labelled ``jsonld`` when JSON-LD states the same day (with JSON-LD's
    time); JSON-LD's date when htmldate found none. When the two disagree htmldate's wins:
    on the evaluation corpus it is right more often (JSON-LD's is often the first version's,
    or a UTC time that moves a late-evening story to the next day)."""
    if jsonld is None:
        return found
    if found is None or found.day == jsonld.day:
        return jsonld
    return found


def published(
    value: str | None, tree: HtmlElement, urls: tuple[str | None, ...]
) -> Published | None:
    """htmldate's date, labelled with where it came from."""
    parsed = parse_date(value)
    if parsed is None:
        return None
    day, instant = parsed
    if day not in {url_day(url) for url in urls}:
        return Published(instant, day, "meta" if _in_meta(tree, day) else "text")
    # the day is also in the URL, which htmldate trusts first: does the page alone say so?
    page = parse_date(
        find_date(
            tree, url="", extensive_search=False, original_date=True, outputformat=DATE_FORMAT
        )
    )
    if page is not None and page[0] == day:
        return Published(page[1], day, "meta" if _in_meta(tree, day) else "text")
    return Published(datetime(day.year, day.month, day.day, tzinfo=UTC), day, "url")


_DATE_META = frozenset(
    {
        "article:published_time",
        "og:published_time",
        "article:published",
        "datepublished",
        "date",
        "pubdate",
        "publishdate",
        "publish-date",
        "publish_date",
        "published_time",
        "dc.date",
        "dc.date.issued",
        "dcterms.date",
        "dcterms.created",
        "sailthru.date",
        "parsely-pub-date",
        "article.published",
        "originalpublicationdate",
        "article:modified_time",
        "og:updated_time",
        "last-modified",
    }
)


def _in_meta(tree: HtmlElement, day: date) -> bool:
    """The day is in the page's metadata markup (``<meta>``, ``<time datetime>``,
    ``itemprop``), rather than found in its text."""
    stamp = day.isoformat()
    for meta in tree.iterfind(".//meta[@content]"):
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").lower()
        if key in _DATE_META and (meta.get("content") or "").strip().startswith(stamp):
            return True
    for element in tree.iterfind(".//time[@datetime]"):
        if (element.get("datetime") or "").strip().startswith(stamp):
            return True
    return any(
        (element.get("content") or element.get("datetime") or "").strip().startswith(stamp)
        for element in tree.iterfind(".//*[@itemprop='datePublished']")
    )
