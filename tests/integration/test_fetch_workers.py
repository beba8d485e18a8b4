"""Fetching scaled out (issue 8): schedulers hand out due feeds once, fetch workers on the
fetch queue poll them, and politeness towards each host holds across all fetch processes.

Real processes throughout: `newsingest poll` in enqueue mode, `newsingest worker -Q fetch`
(Celery prefork) on PostgreSQL + Redis, a loopback HTTP cluster of several hosts.
"""

from __future__ import annotations

import subprocess
import threading
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from schemas.db import make_engine, upgrade
from schemas.models import Article, ArticleStatus, Feed
from schemas.queue import FETCH_QUEUE, POLL_TASK
from tests.support.cli import EXE, cli, service_env
from tests.support.factories import PARAGRAPHS, article_page, rss
from tests.support.httpserver import LoopbackCluster
from tests.support.queues import read_queue
from tests.support.workerproc import celery_worker, wait_for

pytestmark = [pytest.mark.integration]

FEED = Feed.__table__  # type: ignore[attr-defined]
ARTICLE = Article.__table__  # type: ignore[attr-defined]


def add_feeds(database_url: str, urls: list[str]) -> None:
    upgrade(database_url)
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(sa.insert(FEED), [{"url": u} for u in urls])
    engine.dispose()


@pytest.mark.timeout(120)
def test_concurrent_schedulers_hand_out_each_due_feed_once(
    postgres_url: str, redis_url: str
) -> None:
    n = 300
    add_feeds(postgres_url, [f"https://feeds{i % 7}.example/f{i}.xml" for i in range(n)])
    env = service_env(database_url=postgres_url, broker_url=redis_url)
    runs: list[subprocess.CompletedProcess[str]] = []

    def one() -> None:
        runs.append(cli(env, "poll"))

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.returncode for r in runs] == [0] * 4, [r.stderr[-2000:] for r in runs]
    handed = [int(r.stdout.split("feeds: ")[1].split()[0]) for r in runs]
    # No fetch worker runs here: every run that handed feeds out says nobody will poll them.
    warned = [r for r in runs if "no worker consumes the fetch queue" in r.stderr]
    assert len(warned) == sum(1 for h in handed if h), [r.stderr[-500:] for r in runs]
    assert sum(handed) == n, handed
    tasks = read_queue(redis_url, FETCH_QUEUE)
    assert {t["task"] for t in tasks} == {POLL_TASK}
    ids = Counter(t["args"][0] for t in tasks)
    assert len(ids) == n
    assert set(ids.values()) == {1}
    # Nothing is due any more: a fifth pass hands out nothing.
    again = cli(env, "poll")
    assert "feeds: 0 handed" in again.stdout, again.stdout + again.stderr


def loopback_site(
    cluster: LoopbackCluster, tag: str, hosts: range, feeds: int, pages: int, delay: float
) -> list[str]:
    """``feeds`` RSS feeds on each of ``hosts`` (cluster members), each listing ``pages``
    article pages of its own host that answer after ``delay`` seconds; the feed URLs."""
    urls = []
    for h in hosts:
        for f in range(feeds):
            items = []
            for i in range(pages):
                path = f"/{tag}{h}/f{f}/a{i}.html"
                cluster.add(path, article_page(f"Story {h}-{f}-{i}", PARAGRAPHS), delay=delay)
                items.append((f"{tag}{h}-{f}-{i}", cluster.url(path, h)))
            feed = f"/{tag}{h}/feed{f}.xml"
            cluster.add(feed, rss(items), content_type="application/rss+xml")
            urls.append(cluster.url(feed, h))
    return urls


def fetch_with_two_workers(
    database_url: str, redis_url: str, tmp_path: Path, concurrency: int, settled: int
) -> str:
    """`newsingest poll` hands every feed to two `worker -Q fetch` processes; returns the
    poll's output once ``settled`` articles are queued or waiting for a retry."""
    env = service_env(
        database_url=database_url,
        broker_url=redis_url,
        allowed_networks="127.0.0.0/8",
        per_host_concurrency="2",
        respect_robots="false",
    )
    workers = ("-Q", "fetch", "--concurrency", str(concurrency))
    with (
        celery_worker(env, *workers, cwd=tmp_path) as w1,
        celery_worker(env, *workers, cwd=tmp_path) as w2,
    ):
        run = cli(env, "poll")
        assert run.returncode == 0, run.stderr
        assert "no worker consumes" not in run.stderr  # two fetch workers do
        engine = make_engine(database_url)

        def done() -> bool:
            with engine.connect() as conn:
                count = conn.execute(
                    sa.select(sa.func.count()).where(
                        ARTICLE.c.status.in_([ArticleStatus.QUEUED, ArticleStatus.RETRY])
                    )
                ).scalar_one()
            return bool(count == settled)

        try:
            assert wait_for(done, timeout=150), w1.output[-3000:] + w2.output[-3000:]
        finally:
            engine.dispose()
    return run.stdout


@pytest.mark.timeout(240)
def test_two_fetch_workers_share_the_per_host_limit(
    http_cluster: LoopbackCluster, postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    hosts = http_cluster.hosts[:3]
    urls = loopback_site(http_cluster, "h", range(3), feeds=3, pages=6, delay=0.15)
    expected = 3 * 3 * 6
    add_feeds(postgres_url, urls)
    out = fetch_with_two_workers(postgres_url, redis_url, tmp_path, 3, settled=expected)
    assert f"feeds: {len(urls)} handed" in out
    engine = make_engine(postgres_url)
    with engine.connect() as conn:
        polled = conn.execute(
            sa.select(sa.func.count()).where(FEED.c.last_success_at.is_not(None))
        ).scalar_one()
        queued = conn.execute(
            sa.select(sa.func.count()).where(ARTICLE.c.status == ArticleStatus.QUEUED)
        ).scalar_one()
    engine.dispose()
    assert polled == len(urls)
    assert queued == expected
    # Both worker processes took part, and no host ever saw more than 2 requests at once.
    for host in hosts:
        assert http_cluster.max_concurrency(host) <= 2, host
    assert max(http_cluster.max_concurrency(h) for h in hosts) == 2
    # Every page was downloaded exactly once.
    pages = Counter(
        (r.server_address, r.path) for r in http_cluster.requests if r.path.endswith(".html")
    )
    assert len(pages) == expected
    assert set(pages.values()) == {1}
    # The entity stage got every article.
    sent = sum(len(t["args"][0]["url_hashes"]) for t in read_queue(redis_url))
    assert sent == expected


@pytest.mark.timeout(90)
def test_scheduler_service_enqueues_due_feeds_and_stops_on_sigterm(
    postgres_url: str, redis_url: str
) -> None:
    import signal
    import time

    n = 25
    add_feeds(postgres_url, [f"https://s{i % 3}.example/f{i}.xml" for i in range(n)])
    env = service_env(database_url=postgres_url, broker_url=redis_url, scheduler_interval="0.5")
    assert EXE
    procs = [
        subprocess.Popen(
            [EXE, "scheduler"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        assert wait_for(lambda: len(read_queue(redis_url, FETCH_QUEUE)) >= n, timeout=40)
        time.sleep(2)  # several more passes of both schedulers: nothing is due any more
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        outs = [p.communicate(timeout=30) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    ids = Counter(t["args"][0] for t in read_queue(redis_url, FETCH_QUEUE))
    assert len(ids) == n
    assert set(ids.values()) == {1}
    assert all("scheduler stopped after" in err for _, err in outs), outs


@pytest.mark.timeout(240)
def test_a_429_from_one_host_pauses_it_for_both_fetch_workers(
    http_cluster: LoopbackCluster, postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    busy = 0  # the cluster member whose page answers 429 (the other one never does)
    urls = loopback_site(http_cluster, "q", range(2), feeds=2, pages=8, delay=0.2)
    # One page of the busy host answers 429 with Retry-After: 3 (every time it is asked).
    http_cluster.add(
        "/q0/f0/a2.html", b"slow down", status=429, headers={"Retry-After": "3"}, delay=0.2
    )
    add_feeds(postgres_url, urls)
    fetch_with_two_workers(postgres_url, redis_url, tmp_path, 2, settled=32)
    busy_ip = http_cluster.hosts[busy]
    records = sorted(
        (r for r in http_cluster.requests if r.path.endswith(".html")), key=lambda r: r.started
    )
    refused = [r for r in records if r.status == 429]
    assert len(refused) == 1
    answered = refused[0].finished
    after = [r.started for r in records if r.server_address == busy_ip and r.started > answered]
    # The pause exists once the refused worker has read the 429 and recorded it in Redis
    # (about a millisecond on loopback): a request the other slot sent in that instant is
    # not a violation, and there can be at most one (the host has two slots).
    recording = 0.05
    assert len([t for t in after if t <= answered + recording]) <= 1
    paused = [t for t in after if t > answered + recording]
    # Nobody, in either worker process, asked the busy host again during its pause...
    assert paused
    assert min(paused) - answered >= 2.5
    assert http_cluster.max_concurrency(busy_ip) == 2  # both slots had been in use
    # (that other hosts are not paused is asserted in tests/integration/test_politeness.py)
