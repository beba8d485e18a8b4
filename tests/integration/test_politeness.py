"""Per-host politeness: the in-memory HostLimiter and the Redis one shared by processes.

The cross-process tests run real fetcher processes (``python -c WORKER``, driven by JSON lines
on stdin) against a real loopback HTTP cluster and a real Redis (database 14, flushed before
and after; database 15 belongs to the other integration tests). What the hosts saw is taken
from the server's own records, never from the clients.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any
from urllib import robotparser
from urllib.parse import urlsplit, urlunsplit

import pytest

from ingest import http
from ingest.fetch import fetch_page
from ingest.politeness import (
    HostLimiter,
    Politeness,
    RedisHostLimiter,
    host_keys,
    make_limiter,
    robots_crawl_delay,
)
from schemas.errors import FetchTransient
from schemas.settings import load_settings
from schemas.urls import host_of
from tests.conftest import REDIS_URL, ROOT, flushed_redis
from tests.support.httpserver import LoopbackCluster, Recorded

PAGE = "<html><body><p>a page</p></body></html>"
HOSTS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]


def _db14(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/14"))


POLITENESS_REDIS = os.environ.get("NEWSINGEST_TEST_REDIS_POLITENESS", _db14(REDIS_URL))


@pytest.fixture
def politeness_redis() -> Iterator[str]:
    """Redis database 14, flushed before and after (skip without Redis; fail under CI)."""
    with flushed_redis(POLITENESS_REDIS):
        yield POLITENESS_REDIS


@pytest.fixture
def cluster() -> Iterator[LoopbackCluster]:
    """Three loopback hosts; /page answers after 100 ms."""
    with LoopbackCluster(hosts=HOSTS) as servers:
        servers.add("/page", PAGE, delay=0.1)
        yield servers


# --- a fetcher process ----------------------------------------------------------------------

WORKER = r"""
import asyncio, json, sys, time

from ingest import http
from ingest.fetch import fetch_page
from ingest.politeness import RedisHostLimiter, make_limiter
from schemas.errors import NewsIngestError
from schemas.settings import load_settings


async def handle(state, cmd):
    op = cmd["op"]
    if op == "setup":
        settings = load_settings(**cmd["settings"])
        if cmd.get("lease_ttl") is not None:
            limiter = RedisHostLimiter.from_settings(settings, lease_ttl=cmd["lease_ttl"])
        else:
            limiter = make_limiter(settings)
        state.update(settings=settings, limiter=limiter, client=http.make_client(settings))
        return {"limiter": type(limiter).__name__}
    settings, limiter, client = state["settings"], state["limiter"], state["client"]
    if op == "fetch":
        async def one(url):
            t0 = time.monotonic()
            try:
                outcome = (await fetch_page(client, limiter, settings, url)).status
            except NewsIngestError as exc:
                outcome = exc.reason
            return {"url": url, "outcome": outcome, "t0": t0, "t1": time.monotonic()}
        return {"results": await asyncio.gather(*(one(url) for url in cmd["urls"]))}
    if op == "crawl_delay":
        await limiter.set_crawl_delay(cmd["url"], cmd["seconds"])
        return {}
    if op == "hold":  # take slots and never give them back (the process is then killed)
        held = state.setdefault("held", [])
        for _ in range(cmd["n"]):
            cm = limiter.slot(cmd["url"])
            await cm.__aenter__()
            held.append(cm)
        return {"held": len(held)}
    if op == "close":
        await client.aclose()
        await limiter.aclose()
        return {}
    raise ValueError(op)


def main():
    state = {}
    with asyncio.Runner() as runner:
        print(json.dumps({"ready": True}), flush=True)
        for line in sys.stdin:
            cmd = json.loads(line)
            if cmd["op"] == "exit":
                break
            try:
                reply = runner.run(handle(state, cmd))
            except Exception as exc:
                reply = {"error": repr(exc)}
            print(json.dumps(reply), flush=True)


main()
"""


class Worker:
    """One fetcher process with its own limiter and HTTP client."""

    def __init__(self, name: str) -> None:
        self.name = name
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")}
        # open for the process's lifetime; closed in stop()
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
        )
        assert self.recv() == {"ready": True}

    def send(self, **cmd: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def recv(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.stderr.seek(0)
            pytest.fail(f"worker {self.name} died:\n{self.stderr.read().decode()[-3000:]}")
        reply: dict[str, Any] = json.loads(line)
        assert "error" not in reply, f"worker {self.name}: {reply['error']}"
        return reply

    def call(self, **cmd: Any) -> dict[str, Any]:
        self.send(**cmd)
        return self.recv()

    def setup(self, broker_url: str | None, lease_ttl: float | None = None, **extra: Any) -> str:
        settings = {
            "broker_url": broker_url,
            "per_host_concurrency": 2,
            "fetch_concurrency": 32,
            "allowed_networks": "127.0.0.0/8",
            "total_timeout": 10.0,
            **extra,
        }
        return str(self.call(op="setup", settings=settings, lease_ttl=lease_ttl)["limiter"])

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send(op="close")
                self.recv()
                self.send(op="exit")
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired, pytest.fail.Exception):
                self.kill()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        self.stderr.close()


@pytest.fixture
def workers() -> Iterator[tuple[Worker, Worker]]:
    """Two independent fetcher processes, "A" and "B"."""
    started: list[Worker] = []
    try:
        for name in ("A", "B"):
            started.append(Worker(name))
        yield started[0], started[1]
    finally:
        for worker in started:
            worker.stop()


def fetch_both(a: Worker, b: Worker, urls_a: list[str], urls_b: list[str]) -> None:
    """Both processes fetch at the same time; every page must come back 200."""
    a.send(op="fetch", urls=urls_a)
    b.send(op="fetch", urls=urls_b)
    for worker in (a, b):
        results = worker.recv()["results"]
        assert {r["outcome"] for r in results} == {200}, results


def by_worker(records: list[Recorded], name: str) -> list[Recorded]:
    return [r for r in records if f"w={name}" in r.path]


def page_urls(cluster: LoopbackCluster, worker: str, per_host: int, hosts: range) -> list[str]:
    return [
        cluster.url(f"/page?w={worker}&i={i}", index) for i in range(per_host) for index in hosts
    ]


def lease_count(redis_url: str, url: str) -> int:
    """Live leases of the host. A lease's score is its expiry (ms, Redis clock); expired ones
    stay in the set until the next acquire prunes them, and hold no slot."""
    import redis

    with redis.Redis.from_url(redis_url) as client:
        seconds, micros = client.time()
        now_ms = seconds * 1000 + micros // 1000
        return int(client.zcount(host_keys(host_of(url))["leases"], f"({now_ms}", "+inf"))


def keys_expire(redis_url: str) -> list[bytes]:
    """Every politeness key in Redis has a TTL; the keys."""
    import redis

    with redis.Redis.from_url(redis_url) as client:
        keys = list(client.scan_iter("newsingest:host:*"))
        assert all(client.pttl(key) > 0 for key in keys), [(key, client.pttl(key)) for key in keys]
        return keys


def spacing(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise(times)]


def overlap(first: list[Recorded], second: list[Recorded]) -> bool:
    """Some request of ``second`` was in progress while ``first`` was being served."""
    start, end = min(r.started for r in first), max(r.finished for r in first)
    return any(start < r.started < end for r in second)


# --- (a) concurrency across processes -------------------------------------------------------


@pytest.mark.integration
def test_per_host_limit_holds_across_two_processes(
    politeness_redis: str, cluster: LoopbackCluster, workers: tuple[Worker, Worker]
) -> None:
    a, b = workers
    assert a.setup(politeness_redis) == b.setup(politeness_redis) == "RedisHostLimiter"
    fetch_both(
        a,
        b,
        page_urls(cluster, "A", 10, range(3)),
        page_urls(cluster, "B", 10, range(3)),
    )
    peaks = {host: cluster.max_concurrency(host) for host in HOSTS}
    print(f"max in-flight per host, shared Redis limiter: {peaks}")
    assert max(peaks.values()) <= 2, peaks  # the shared limit holds ...
    assert max(peaks.values()) > 1, peaks  # ... and is used (the measurement can see 2)
    for host in HOSTS:
        seen = [r for r in cluster.requests if r.server_address == host]
        assert len(seen) == 20
        # both processes were fetching from the host at the same time
        assert overlap(by_worker(seen, "A"), by_worker(seen, "B"))
    # No lease outlives its request, and nothing is left without a TTL.
    for server in cluster.servers:
        assert lease_count(politeness_redis, server.base_url) == 0
    keys_expire(politeness_redis)


@pytest.mark.integration
def test_without_redis_two_processes_exceed_the_per_host_limit(
    cluster: LoopbackCluster, workers: tuple[Worker, Worker]
) -> None:
    """The control: two in-memory limiters each allow 2, so a host sees more than 2."""
    a, b = workers
    assert a.setup(None) == b.setup(None) == "HostLimiter"
    fetch_both(
        a,
        b,
        page_urls(cluster, "A", 10, range(3)),
        page_urls(cluster, "B", 10, range(3)),
    )
    peaks = {host: cluster.max_concurrency(host) for host in HOSTS}
    print(f"max in-flight per host, two in-memory limiters: {peaks}")
    assert max(peaks.values()) > 2, peaks
    assert max(peaks.values()) <= 4, peaks


# --- (b) a 429 slows every process ---------------------------------------------------------


@pytest.mark.integration
def test_a_429_to_one_process_pauses_the_host_for_the_other(
    politeness_redis: str, cluster: LoopbackCluster, workers: tuple[Worker, Worker]
) -> None:
    a, b = workers
    a.setup(politeness_redis)
    b.setup(politeness_redis)
    cluster.add("/limited", "slow down", status=429, headers={"Retry-After": "2"})
    limited = cluster.url("/limited", 0)
    [answer] = a.call(op="fetch", urls=[limited])["results"]
    assert answer["outcome"] == "http_429"
    results = b.call(
        op="fetch", urls=[cluster.url("/page?w=B&h=0", 0), cluster.url("/page?w=B&h=1", 1)]
    )["results"]
    assert [r["outcome"] for r in results] == [200, 200]

    [told] = cluster.requests_for("/limited")
    [same_host] = cluster.servers[0].requests_for("/page")
    [other_host] = cluster.servers[1].requests_for("/page")
    # B's request to the host that answered 429 waited out (most of) the Retry-After ...
    assert same_host.started - told.finished >= 1.5
    assert results[0]["t1"] - results[0]["t0"] >= 1.5
    # ... while its request to another host went through first, unaffected.
    assert other_host.finished < same_host.started
    assert other_host.started < told.finished + 1.5


# --- (c) Crawl-delay set by one process spaces the other's requests ------------------------


@pytest.mark.integration
def test_crawl_delay_set_by_one_process_spaces_every_process(
    politeness_redis: str, cluster: LoopbackCluster, workers: tuple[Worker, Worker]
) -> None:
    a, b = workers
    a.setup(politeness_redis)
    b.setup(politeness_redis)
    a.call(op="crawl_delay", url=cluster.url("/", 2), seconds=0.4)
    fetch_both(
        a, b, page_urls(cluster, "A", 3, range(2, 3)), page_urls(cluster, "B", 3, range(2, 3))
    )
    starts = sorted(r.started for r in cluster.servers[2].requests)
    assert len(starts) == 6
    gaps = spacing(starts)
    print(f"gaps between request starts with Crawl-delay 0.4 s: {[round(g, 3) for g in gaps]}")
    assert min(gaps) >= 0.25, gaps
    seen = cluster.servers[2].requests
    assert by_worker(seen, "A")
    assert by_worker(seen, "B")
    keys = keys_expire(politeness_redis)
    assert {key.decode().rsplit(":", 1)[1] for key in keys} == {"crawl", "last"}


# --- (d) a crashed holder's lease expires ---------------------------------------------------


@pytest.mark.integration
def test_a_crashed_workers_leases_expire(
    politeness_redis: str, cluster: LoopbackCluster, workers: tuple[Worker, Worker]
) -> None:
    a, b = workers
    a.setup(politeness_redis, lease_ttl=1.5)
    b.setup(politeness_redis)
    url = cluster.url("/page?w=B", 0)
    sent = time.monotonic()
    assert a.call(op="hold", url=url, n=2) == {"held": 2}  # every slot of the host
    a.kill()  # no release, ever
    [result] = b.call(op="fetch", urls=[url])["results"]
    assert result["outcome"] == 200  # not blocked forever ...
    [seen] = cluster.servers[0].requests_for("/page")
    assert seen.started >= sent + 1.3  # ... but only once the leases ran out
    assert lease_count(politeness_redis, url) == 0


# --- (e) the same rules in memory and in Redis ----------------------------------------------


async def _redis_limiter(url: str, **kwargs: Any) -> RedisHostLimiter:
    from redis import asyncio as aioredis

    return RedisHostLimiter(aioredis.Redis.from_url(url), **kwargs)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
def kind(request: pytest.FixtureRequest) -> str:
    if request.param == "redis":
        request.getfixturevalue("politeness_redis")
    return str(request.param)


async def make(kind: str, **kwargs: Any) -> Politeness:
    if kind == "memory":
        return HostLimiter(**kwargs)
    return await _redis_limiter(POLITENESS_REDIS, **kwargs)


def test_penalties_double_cap_and_reset_after_a_success(kind: str) -> None:
    async def run() -> None:
        limiter = await make(kind, total=4, per_host=2, max_backoff=0.4, backoff_base=0.05)
        url, other = "http://a.example/x", "http://b.example/x"
        try:
            pauses = [await limiter.penalize(url) for _ in range(5)]
            assert pauses == pytest.approx([0.05, 0.1, 0.2, 0.4, 0.4], abs=0.03)
            order: list[str] = []

            async def enter(target: str) -> None:
                async with limiter.slot(target):
                    order.append(target)

            started = time.monotonic()
            await asyncio.gather(enter(url), enter(other))
            assert order == [other, url]  # the other host went first: it is not paused
            assert time.monotonic() - started >= 0.3  # url waited out its pause, then succeeded
            assert await limiter.penalize(url) == pytest.approx(0.05, abs=0.03)  # reset
            # Retry-After wins over the backoff, capped at max_backoff; a shorter one never
            # cuts a longer pause in force.
            assert await limiter.penalize(other, 10.0) == pytest.approx(0.4, abs=0.03)
            assert await limiter.penalize(other, 0.1) == pytest.approx(0.4, abs=0.05)
        finally:
            await limiter.aclose()

    asyncio.run(run())


def test_a_long_pause_fails_fast_instead_of_holding_the_worker(kind: str) -> None:
    async def run() -> None:
        limiter = await make(kind, total=4, per_host=2, max_backoff=3600.0, max_wait=1.0)
        url = "http://a.example/x"
        try:
            await limiter.penalize(url, 120.0)  # a 429 with Retry-After: 120
            started = time.monotonic()
            with pytest.raises(FetchTransient) as info:
                async with limiter.slot(url):
                    pytest.fail("a paused host got a request")
            assert time.monotonic() - started < 1.0
            assert info.value.reason == "host_paused"
            assert info.value.retry_after == pytest.approx(120.0, abs=2.0)
            async with limiter.slot("http://b.example/x"):  # other hosts are not affected
                pass
        finally:
            await limiter.aclose()

    asyncio.run(run())


def test_a_failed_request_does_not_reset_the_streak(kind: str) -> None:
    async def run() -> None:
        limiter = await make(kind, total=4, per_host=2, max_backoff=1.0, backoff_base=0.05)
        url = "http://a.example/x"
        try:
            assert await limiter.penalize(url) == pytest.approx(0.05, abs=0.03)
            with pytest.raises(FetchTransient):
                async with limiter.slot(url):
                    raise FetchTransient("HTTP 503", reason="http_503")
            assert await limiter.penalize(url) == pytest.approx(0.1, abs=0.03)
        finally:
            await limiter.aclose()

    asyncio.run(run())


def test_crawl_delay_spaces_starts_but_never_lowers_per_host_delay(kind: str) -> None:
    async def starts(limiter: Politeness, url: str, n: int) -> list[float]:
        out: list[float] = []

        async def one() -> None:
            async with limiter.slot(url):
                out.append(time.monotonic())

        await asyncio.gather(*(one() for _ in range(n)))
        return sorted(out)

    async def run() -> None:
        limiter = await make(kind, total=8, per_host=4, delay=0.1)
        url, other = "http://a.example/x", "http://b.example/x"
        try:
            await limiter.set_crawl_delay(url, 0.25)
            assert min(spacing(await starts(limiter, url, 4))) >= 0.2
            await limiter.set_crawl_delay(other, 0.01)  # below per_host_delay: 0.1 holds
            assert min(spacing(await starts(limiter, other, 4))) >= 0.08
        finally:
            await limiter.aclose()

    asyncio.run(run())


def test_local_fetch_page_429_pauses_only_that_host(http_cluster: LoopbackCluster) -> None:
    """Single-process mode: fetch_page penalizes the host in the in-memory limiter."""
    settings = load_settings(allowed_networks="127.0.0.0/8", total_timeout=10.0)
    http_cluster.add("/limited", "slow down", status=429, headers={"Retry-After": "1"})
    http_cluster.add("/page", PAGE)
    limiter = HostLimiter.from_settings(settings)
    assert isinstance(limiter, Politeness)

    async def run() -> None:
        async with http.make_client(settings) as client:
            await fetch_page(client, limiter, settings, http_cluster.url("/page?n=1", 0))
            with pytest.raises(FetchTransient) as caught:
                await fetch_page(client, limiter, settings, http_cluster.url("/limited", 0))
            assert caught.value.reason == "http_429"
            await asyncio.gather(
                fetch_page(client, limiter, settings, http_cluster.url("/page?n=2", 0)),
                fetch_page(client, limiter, settings, http_cluster.url("/page?n=3", 1)),
            )

    asyncio.run(run())
    [told] = http_cluster.requests_for("/limited")
    same_host = http_cluster.servers[0].requests_for("/page?n=2")[0]
    other_host = http_cluster.servers[1].requests_for("/page?n=3")[0]
    assert same_host.started - told.finished >= 0.8
    assert other_host.finished < same_host.started


def test_make_limiter_picks_redis_only_for_a_redis_broker() -> None:
    async def run() -> None:
        local = make_limiter(load_settings(broker_url=None))
        assert isinstance(local, HostLimiter)
        shared = make_limiter(load_settings(broker_url="redis://127.0.0.1:6379/14"))
        assert isinstance(shared, RedisHostLimiter)  # no connection until first use
        for limiter in (local, shared):
            assert isinstance(limiter, Politeness)
            await limiter.aclose()

    asyncio.run(run())


def test_robots_crawl_delay_reads_crawl_delay_and_request_rate() -> None:
    def delay(*lines: str) -> float | None:
        parser = robotparser.RobotFileParser()
        parser.parse(list(lines))
        return robots_crawl_delay(parser, "newsingest")

    assert delay("User-agent: *", "Disallow: /private") is None
    assert delay("User-agent: *", "Crawl-delay: 5") == 5.0
    assert delay("User-agent: *", "Crawl-delay: 5", "Request-rate: 1/10") == 10.0
    assert delay("User-agent: newsingest", "Crawl-delay: 3", "", "User-agent: *") == 3.0
