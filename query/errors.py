"""What the read side refuses, as part of the project's error tree (both permanent)."""

from __future__ import annotations

from schemas.errors import PermanentError


class InvalidQuery(PermanentError):
    """Bad input to a query: search syntax, a filter value, a cursor from elsewhere."""

    reason = "invalid_query"


class NotFound(PermanentError):
    """The article, feed or entity asked for does not exist."""

    reason = "not_found"


class QueryTimeout(PermanentError):
    """The query ran past NEWSINGEST_QUERY_TIMEOUT and was cancelled."""

    reason = "query_timeout"
