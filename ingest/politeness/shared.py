"""Per-host politeness shared by every fetcher process on every machine, kept in Redis.

Redis layout (``{host}`` is a Redis Cluster hash tag: every key of a host is in one slot)::

    newsingest:host:{host}:leases   ZSET    lease token -> expiry (ms, Redis clock)
    newsingest:host:{host}:queue    ZSET    waiting token -> arrival (ms): first come, first served
    newsingest:host:{host}:waiters  ZSET    waiting token -> expiry of its place (ms)
    newsingest:host:{host}:last     STRING  start of the latest request (ms)
    newsingest:host:{host}:crawl    STRING  Crawl-delay (ms)
    newsingest:host:{host}:pause    STRING  paused until (ms)
    newsingest:host:{host}:streak   STRING  consecutive penalties

Every key has a TTL (leases: the lease time; queue and waiters: ``WAITER_TTL``; last: the
interval, at least a minute; crawl: a day; pause: its length; streak: twice
``host_max_backoff``), so hosts nobody fetches any more leave nothing behind. A lease expires
``total_timeout`` + 30 s after it was taken: the downloads it covers are bounded by
``total_timeout``, so only a crashed (or cut off) worker leaves one, and it stops counting
after that time. All times come from Redis (``TIME``), so the clocks of the workers' machines
do not matter.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from ingest.politeness.rules import BACKOFF_BASE, check_wait
from schemas import metrics
from schemas.errors import BrokerUnavailable
from schemas.settings import Settings
from schemas.urls import host_of

if TYPE_CHECKING:
    from redis.commands.core import AsyncScript

log = logging.getLogger(__name__)

LEASE_MARGIN = 30.0  # seconds a lease outlives total_timeout
CRAWL_DELAY_TTL = 86_400.0  # seconds a Crawl-delay is remembered (robots.txt is read each run)
LAST_TTL_MIN = 60.0  # seconds the latest start of a host is remembered, at least
LEASE_POLL = 0.025  # seconds between two tries while every lease of a host is taken
MAX_SLEEP = 2.0  # longest single sleep of a waiter before it asks Redis again
WAITER_TTL = 10.0  # seconds a waiter that stopped asking keeps its place in the queue
KEY_PREFIX = "newsingest:host:"


def host_keys(host: str, prefix: str = KEY_PREFIX) -> dict[str, str]:
    """The Redis keys of ``host`` (as ``host_of`` gives it), by name."""
    base = f"{prefix}{{{host}}}:"
    names = ("leases", "queue", "waiters", "last", "crawl", "pause", "streak")
    return {name: base + name for name in names}


# KEYS: leases, last, crawl, pause, queue, waiters
# ARGV: token, per_host, base interval ms, lease ttl ms, poll ms, min ttl of "last" ms,
#       waiter ttl ms
# Returns {1, 0} when a lease was taken (and the start recorded), else {0, ms to wait}.
# Waiters queue in arrival order (queue: token -> first try; waiters: token -> expiry of the
# place, pushed back on each try) and a free lease goes to the first in the queue, so a process
# whose request just ended cannot keep a host to itself; a waiter that stops asking drops out.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local token = ARGV[1]
local limit = tonumber(ARGV[2])
local base = tonumber(ARGV[3])
local lease_ttl = tonumber(ARGV[4])
local poll = tonumber(ARGV[5])
local waiter_ttl = tonumber(ARGV[7])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local gone = redis.call('ZRANGEBYSCORE', KEYS[6], '-inf', now)
for _, waiter in ipairs(gone) do
  redis.call('ZREM', KEYS[5], waiter)
  redis.call('ZREM', KEYS[6], waiter)
end
redis.call('ZADD', KEYS[5], 'NX', now, token)
redis.call('ZADD', KEYS[6], now + waiter_ttl, token)
redis.call('PEXPIRE', KEYS[5], waiter_ttl)
redis.call('PEXPIRE', KEYS[6], waiter_ttl)
local paused = tonumber(redis.call('GET', KEYS[4]) or '0')
if paused > now then
  return {0, paused - now}
end
local interval = math.max(base, tonumber(redis.call('GET', KEYS[3]) or '0'))
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
if interval > 0 and last + interval > now then
  return {0, last + interval - now}
end
local free = limit - redis.call('ZCARD', KEYS[1])
if free <= 0 then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, math.max(1, math.min(poll, tonumber(first[2]) - now))}
end
if redis.call('ZRANK', KEYS[5], token) >= free then
  return {0, poll}
end
redis.call('ZREM', KEYS[5], token)
redis.call('ZREM', KEYS[6], token)
redis.call('ZADD', KEYS[1], now + lease_ttl, token)
redis.call('PEXPIRE', KEYS[1], lease_ttl)
if interval > 0 then
  redis.call('SET', KEYS[2], now, 'PX', math.max(interval, tonumber(ARGV[6])))
end
return {1, 0}
"""

# KEYS: leases, queue, waiters, streak.  ARGV: token, 1 if the request succeeded.
# Gives a lease back, or takes a waiter that gave up out of the queue.
_RELEASE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
if ARGV[2] == '1' then
  redis.call('DEL', KEYS[4])
end
return 1
"""

# KEYS: pause, streak.
# ARGV: Retry-After ms (-1: none), base ms, cap ms, streak ttl ms.
# Returns the pause now in force for the host, in ms (a longer one in force is kept).
_PENALIZE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local given = tonumber(ARGV[1])
local cap = tonumber(ARGV[3])
local streak = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
local ms
if given >= 0 then
  ms = math.min(given, cap)
else
  ms = math.min(tonumber(ARGV[2]) * 2 ^ math.min(streak - 1, 64), cap)
end
ms = math.floor(ms)
local paused = tonumber(redis.call('GET', KEYS[1]) or '0')
if now + ms > paused and ms > 0 then
  redis.call('SET', KEYS[1], now + ms, 'PX', ms)
  return ms
end
return math.max(0, paused - now)
"""


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


class RedisHostLimiter:
    """The :class:`~ingest.politeness.rules.Politeness` rules, shared in Redis (module doc).

    Waiting is polling: one script call takes a lease and records the start atomically, or
    says how long until the host could be ready (pause, interval: exactly; all leases taken or
    others first in the queue: a short poll). The waiter sleeps that long (at most
    ``MAX_SLEEP``) without holding any slot of the process, then asks again. Within one
    process at most ``per_host`` waiters per host ask (a local semaphore), and ``total`` bounds
    the process's downloads overall.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        total: int,
        per_host: int,
        delay: float = 0.0,
        lease_ttl: float = 60.0 + LEASE_MARGIN,
        max_backoff: float = 3600.0,
        backoff_base: float = BACKOFF_BASE,
        prefix: str = KEY_PREFIX,
        max_wait: float | None = None,
    ) -> None:
        self.redis = redis
        self.total = asyncio.Semaphore(total)
        self.per_host = per_host
        self.delay = delay
        self.lease_ttl = lease_ttl
        self.max_backoff = max_backoff
        self.backoff_base = backoff_base
        self.prefix = prefix
        self.max_wait = max_wait
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._acquire: AsyncScript = redis.register_script(_ACQUIRE)
        self._release: AsyncScript = redis.register_script(_RELEASE)
        self._penalize: AsyncScript = redis.register_script(_PENALIZE)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, lease_ttl: float | None = None
    ) -> RedisHostLimiter:
        """From ``broker_url`` and the politeness settings; ``lease_ttl`` for tests."""
        if not settings.broker_url:
            raise ValueError("RedisHostLimiter needs settings.broker_url")
        client = aioredis.Redis.from_url(
            settings.broker_url, socket_connect_timeout=5.0, socket_timeout=10.0
        )
        return cls(
            client,
            total=settings.fetch_concurrency,
            per_host=settings.per_host_concurrency,
            delay=settings.per_host_delay,
            lease_ttl=settings.total_timeout + LEASE_MARGIN if lease_ttl is None else lease_ttl,
            max_backoff=settings.host_max_backoff,
            max_wait=settings.total_timeout,
        )

    def keys(self, url: str) -> dict[str, str]:
        return host_keys(host_of(url), self.prefix)

    async def _call(self, script: AsyncScript, keys: list[str], args: list[Any]) -> Any:
        try:
            return await script(keys=keys, args=args)
        except RedisError as exc:
            raise BrokerUnavailable(
                f"politeness state unreachable: {type(exc).__name__}: {exc}"
            ) from exc

    async def _try_acquire(self, keys: dict[str, str], token: str) -> float:
        """0.0 when a lease was taken, else seconds to wait before trying again."""
        granted, wait_ms = await self._call(
            self._acquire,
            [
                keys["leases"],
                keys["last"],
                keys["crawl"],
                keys["pause"],
                keys["queue"],
                keys["waiters"],
            ],
            [
                token,
                self.per_host,
                _ms(self.delay),
                max(1, _ms(self.lease_ttl)),
                _ms(LEASE_POLL),
                _ms(LAST_TTL_MIN),
                _ms(WAITER_TTL),
            ],
        )
        return 0.0 if int(granted) else max(int(wait_ms), 1) / 1000

    async def _give_back(
        self, host: str, keys: dict[str, str], token: str, *, success: bool
    ) -> None:
        """Release a lease (or a place in the queue); a success resets the penalty streak."""
        try:
            await self._call(
                self._release,
                [keys["leases"], keys["queue"], keys["waiters"], keys["streak"]],
                [token, int(success)],
            )
        except BrokerUnavailable as exc:  # the lease (or the place) expires by itself
            log.warning("could not release a lease of %s: %s", host, exc)

    @asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[None]:
        host = host_of(url)
        keys = host_keys(host, self.prefix)
        token = uuid.uuid4().hex
        local = self._hosts.get(host)
        if local is None:
            local = self._hosts[host] = asyncio.Semaphore(self.per_host)
        async with local:
            waited = 0.0
            try:
                while True:
                    await self.total.acquire()
                    try:
                        wait = await self._try_acquire(keys, token)
                    except BaseException:
                        self.total.release()
                        raise
                    if wait == 0.0:
                        break
                    self.total.release()
                    check_wait(host, wait, self.max_wait)
                    # A little jitter so that waiters of several processes do not ask in
                    # lockstep; never longer than MAX_SLEEP, to keep the place in the queue.
                    pause = min(wait, MAX_SLEEP) * (1 + 0.1 * random.random())
                    waited += pause
                    await asyncio.sleep(pause)
                if waited:
                    metrics.record_throttle_wait(host, waited)
            except BaseException:  # cancelled, or Redis failed: leave the queue
                await self._give_back(host, keys, token, success=False)
                raise
            success = False
            try:
                yield
                success = True
            finally:
                self.total.release()
                await self._give_back(host, keys, token, success=success)

    async def penalize(self, url: str, seconds: float | None = None) -> float:
        keys = self.keys(url)
        paused_ms = await self._call(
            self._penalize,
            [keys["pause"], keys["streak"]],
            [
                -1 if seconds is None else _ms(seconds),
                _ms(self.backoff_base),
                _ms(self.max_backoff),
                max(1, _ms(2 * self.max_backoff)),
            ],
        )
        return int(paused_ms) / 1000

    async def set_crawl_delay(self, url: str, seconds: float) -> None:
        key = self.keys(url)["crawl"]
        seconds = min(max(0.0, float(seconds)), self.max_backoff)
        try:
            if seconds <= self.delay:
                await self.redis.delete(key)
            else:
                await self.redis.set(key, _ms(seconds), px=_ms(CRAWL_DELAY_TTL))
        except RedisError as exc:
            raise BrokerUnavailable(
                f"politeness state unreachable: {type(exc).__name__}: {exc}"
            ) from exc

    async def aclose(self) -> None:
        await self.redis.aclose()
