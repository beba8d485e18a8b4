"""Per-host politeness: one interface (:class:`Politeness`, the rules in ``rules``), two
implementations.

- :class:`HostLimiter` (``limiter``): in memory, one process (SQLite mode, no broker);
- :class:`RedisHostLimiter` (``shared``): the same rules kept in Redis, so that every fetcher
  process on every machine counts against the same per-host limits.

:func:`make_limiter` picks one from the settings.
"""

from ingest.politeness.limiter import HostLimiter
from ingest.politeness.rules import (
    BACKOFF_BASE,
    Politeness,
    backoff_pause,
    robots_crawl_delay,
)
from ingest.politeness.shared import (
    CRAWL_DELAY_TTL,
    KEY_PREFIX,
    LEASE_MARGIN,
    RedisHostLimiter,
    host_keys,
)
from schemas.settings import Settings

__all__ = [
    "BACKOFF_BASE",
    "CRAWL_DELAY_TTL",
    "KEY_PREFIX",
    "LEASE_MARGIN",
    "HostLimiter",
    "Politeness",
    "RedisHostLimiter",
    "backoff_pause",
    "host_keys",
    "make_limiter",
    "robots_crawl_delay",
]


def make_limiter(settings: Settings) -> Politeness:
    """Shared limits in Redis when the broker is Redis, else in memory for this process."""
    if settings.broker_url and settings.broker_url.startswith(("redis://", "rediss://")):
        return RedisHostLimiter.from_settings(settings)
    return HostLimiter.from_settings(settings)
