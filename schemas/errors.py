"""The one error tree of newsingest, and the one retry backoff.

Every failure the pipeline expects is one of these; anything else is a bug.
Each error carries a short machine-readable ``reason`` (a slug such as
``http_404`` or ``entity_expansion``) that is recorded on the feed, article or
dead letter it concerns and used as a metric label.

::

    NewsIngestError
    ├── TransientError            retry later, with exponential backoff and jitter
    │   ├── FetchTransient        timeout, connection reset, 5xx, 429 (carries retry_after)
    │   ├── DatabaseUnavailable   the database cannot be reached or is locked (schemas.db)
    │   └── BrokerUnavailable     Redis cannot be reached
    └── PermanentError            never retried: recorded, or dead-lettered
        ├── ConfigError           an invalid setting; the process refuses to start
        ├── InvalidUrl            not an absolute http(s) URL (schemas.urls)
        ├── FetchRefused          4xx, robots.txt, redirect loop, wrong content type
        │   └── AddressRefused    a private, loopback or link-local address (ingest.http)
        ├── ContentTooLarge       body or decompressed body over its cap
        ├── FeedError             the bytes are not a usable feed
        │   ├── MalformedFeed     not XML/JSON we can read, or no entries recoverable
        │   └── HostileFeed       entity expansion, external entities, DTD tricks
        ├── NotAnArticle          the page yields no article text
        ├── InvalidMessage        a queue message that does not validate
        ├── NlpFailed             the NER model raised on this text (workers.entities)
        ├── InvalidQuery          bad search syntax, filter value or cursor (query.errors)
        ├── NotFound              the article, feed or entity asked for does not exist
        └── QueryTimeout          a read past NEWSINGEST_QUERY_TIMEOUT, cancelled

Catch ``TransientError`` to decide "retry", ``PermanentError`` to decide
"record and move on"; catch ``NewsIngestError`` to handle both. Database driver
errors become ``DatabaseUnavailable`` in one place, ``schemas.db.translate_errors``.
The classes defined elsewhere live beside the only code that raises them; every
class is drawn here (a test walks the packages and compares). The HTTP API's ``Problem``
and the dashboard's ``LoginRequired`` are not errors of the pipeline but the responses an HTTP
handler leaves with (RFC 9457 problem details, a redirect to the login form).
"""

from __future__ import annotations

import random

#: ``2 ** exponent`` above this is past any cap and would only risk an OverflowError.
MAX_EXPONENT = 64


class NewsIngestError(Exception):
    """Base of every error newsingest raises on purpose."""

    reason: str = "error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.reason

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}" if self.args else self.reason


class TransientError(NewsIngestError):
    """Worth retrying later: the same input may succeed."""

    reason = "transient"

    def __init__(
        self, message: str, *, reason: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, reason=reason)
        self.retry_after = retry_after


class FetchTransient(TransientError):
    reason = "fetch_transient"


class DatabaseUnavailable(TransientError):
    reason = "database_unavailable"


class BrokerUnavailable(TransientError):
    reason = "broker_unavailable"


class PermanentError(NewsIngestError):
    """Retrying the same input will fail the same way."""

    reason = "permanent"


class ConfigError(PermanentError):
    reason = "config"


class FetchRefused(PermanentError):
    reason = "fetch_refused"


class ContentTooLarge(PermanentError):
    reason = "too_large"


class FeedError(PermanentError):
    reason = "feed_error"


class MalformedFeed(FeedError):
    reason = "malformed_feed"


class HostileFeed(FeedError):
    reason = "hostile_feed"


class NotAnArticle(PermanentError):
    reason = "not_an_article"


class InvalidMessage(PermanentError):
    reason = "invalid_message"


def backoff(attempt: int, *, base: float, cap: float, jitter: bool = True) -> float:
    """Seconds to wait after failure number ``attempt`` in a row (0 = the first failure).

    ``base`` doubles with each attempt, up to ``cap``. With ``jitter`` the wait is drawn from
    50 % to 150 % of that, still at most ``cap``: retries of work that failed together (a
    database restart) spread out instead of arriving together. Every retry policy of the
    project (tasks, in-process batches, host pauses, feed polls) is this function with its
    own ``base`` and ``cap``.
    """
    delay = min(cap, base * 2.0 ** min(max(attempt, 0), MAX_EXPONENT))
    if jitter:
        delay = min(cap, delay * random.uniform(0.5, 1.5))
    return float(delay)
