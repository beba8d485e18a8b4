"""Fault tests with real processes: Redis, PostgreSQL, `newsingest worker` (Celery prefork).

Each test breaks one thing in the middle of a run and checks the promise of docs/design.md
("At-least-once processing, exactly-once storage"): every article of the run ends up stored
exactly once -- one row per URL, status ``processed`` by the test model, and exactly the
mentions the model finds in its text (counts not doubled, no entity twice).

The expected mentions come from the test model itself, run in this process on the text the
fetcher stored (the same ``NlpPipeline.entities`` the worker calls). The stories only name
people by their full names, so no cross-article short-form merging can make the stored
mentions depend on the order in which batches were processed.

"In the middle of a batch" is made deterministic with PostgreSQL locks held by the test on
its own connection: ``SELECT ... FOR UPDATE`` on article rows (the worker blocks in
``store_results``, after the NLP step, inside its transaction) or ``LOCK TABLE mention IN
SHARE MODE`` (it blocks at ``DELETE FROM mention``, after its entity upserts). The test
waits until ``pg_stat_activity`` shows the worker waiting on that lock, then strikes.

Every test uses a private ``redis-server`` (never the shared one: another engineer's worker
on the shared Redis would consume these messages, and their fixtures flush it), its own
PostgreSQL database, and stops every process, proxy and server it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import importlib.util
import os
import re
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ingest.enqueue import CeleryEnqueuer
from ingest.poll import NoEnqueuer, PollSummary, run_poll
from schemas.db import make_engine, upgrade
from schemas.messages import ExtractMessage
from schemas.models import Feed, as_utc
from schemas.queue import ENTITIES_QUEUE, ENTITIES_TASK, make_app
from schemas.settings import Settings, load_settings
from schemas.urls import normalize_url, url_hash
from tests.conftest import need
from tests.support.cli import EXE, cli, service_env
from tests.support.factories import article_page, rss, subscribe
from tests.support.httpserver import LoopbackServer
from tests.support.redisproc import REDIS_SERVER, RedisServer
from tests.support.tcpproxy import TcpProxy
from tests.support.workerproc import WorkerProcess, wait_for
from workers.dead_letters import DEAD_LETTER
from workers.nlp import NlpPipeline, load_pipeline
from workers.store import ARTICLE, ENTITY, MENTION

pytestmark = pytest.mark.integration

MODEL = ("en_test_ner", "1.0.0")  # name and version of tests/support/nlpmodel.py's pipeline
Mentions = dict[str, list[tuple[str, str, int, int]]]  # url_hash -> (label, key, count, offset)


# --- the site: stories whose entities the test model finds ----------------------------------


def story(i: int, extra: str | None = None) -> str:
    """An article page; entity counts vary with ``i`` so that a doubled batch shows."""
    rounds = " ".join(
        f"Analysts in Kyiv followed round {k + 1} of dispatch {i} closely and said progress was "
        f"slow but real, with each side testing the other on every clause of the draft."
        for k in range(1 + i % 3)
    )
    closing = (
        "Emmanuel Macron told Bloomberg from Paris that Europe would back any agreement that "
        f"was reached in good faith, and that dispatch {i} changed nothing in that position."
        if i % 2
        else "Kirill Dmitriev said in Florida that the economic track of the plan was moving "
        f"faster than expected, a claim that dispatch {i} could not independently verify."
    )
    paragraphs = [
        f"Dispatch {i}: the envoy Steve Witkoff travelled from Paris to Moscow for talks at the "
        f"Kremlin, officials said on day {i + 1} of a visit that both sides described as "
        "constructive and long overdue, after weeks of delays and mutual accusations.",
        rounds,
        closing,
    ]
    if extra:
        paragraphs.append(extra)
    return article_page(f"Dispatch {i} from the talks", paragraphs)


def site(server: LoopbackServer, engine: Engine, prefix: str, n: int, **extra: str) -> str:
    """``n`` stories under ``/<prefix><i>.html`` and a subscribed feed listing them; the feed
    URL. ``extra`` maps a story number (as a string) to one more paragraph."""
    links = []
    for i in range(n):
        path = f"/{prefix}{i}.html"
        server.add(path, story(i, extra.get(str(i))))
        links.append((f"{prefix} {i}", server.url(path)))
    feed = f"/{prefix}-feed.xml"
    server.add(feed, rss(links), content_type="application/rss+xml")
    subscribe(engine, server.url(feed))
    return server.url(feed)


def hashes_of(server: LoopbackServer, prefix: str, n: int) -> list[str]:
    return [url_hash(normalize_url(server.url(f"/{prefix}{i}.html"))) for i in range(n)]


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def pg(postgres_url: str) -> Iterator[Engine]:
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    yield engine
    engine.dispose()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A private redis-server (no persistence) that a test may kill and restart."""
    need(REDIS_SERVER is not None, "redis-server binary not found on PATH")
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="module")
def reference(test_model: str) -> NlpPipeline:
    """The test model in this process: the clean reference for the expected mentions."""
    return load_pipeline(test_model)


# --- poll, send, observe ----------------------------------------------------------------------


def fetch_settings(database_url: str, broker_url: str) -> Settings:
    return load_settings(
        database_url=database_url,
        broker_url=broker_url,
        allowed_networks="127.0.0.0/8",
        read_timeout=5,
        total_timeout=10,
    )


def poll(settings: Settings, engine: Engine, feed_url: str, enqueuer: Any = None) -> PollSummary:
    """One run_poll of one feed (articles stay ``queued`` without an enqueuer)."""
    return asyncio.run(
        run_poll(
            settings,
            engine,
            enqueuer or NoEnqueuer(),
            processes=0,
            urls=[normalize_url(feed_url)],
        )
    )


@contextlib.contextmanager
def producer(settings: Settings) -> Iterator[Any]:
    app = make_app(settings)
    try:
        yield app
    finally:
        app.close()


def send(app: Any, hashes: list[str]) -> None:
    """One extract message, exactly as the fetcher sends it."""
    message = ExtractMessage(url_hashes=tuple(hashes))
    app.send_task(ENTITIES_TASK, args=[message.model_dump(mode="json")], queue=ENTITIES_QUEUE)


def statuses(engine: Engine) -> Counter[str]:
    with engine.connect() as conn:
        return Counter(conn.execute(sa.select(ARTICLE.c.status)).scalars())


def status_of(engine: Engine, hashes: list[str]) -> list[str]:
    with engine.connect() as conn:
        found = dict(
            conn.execute(
                sa.select(ARTICLE.c.url_hash, ARTICLE.c.status).where(
                    ARTICLE.c.url_hash.in_(hashes)
                )
            ).all()
        )
    return [found.get(h, "missing") for h in hashes]


def all_processed(engine: Engine, hashes: list[str]) -> bool:
    return set(status_of(engine, hashes)) == {"processed"}


def dead_letters(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(DEAD_LETTER).order_by(DEAD_LETTER.c.id)).all())


def lock_waiters(engine: Engine) -> int:
    """Backends of this database waiting for a lock (the blocked worker transactions)."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        )


def redis_queue(url: str) -> tuple[int, int]:
    """(messages waiting in the extract queue, messages delivered but not acknowledged)."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        return int(client.llen(ENTITIES_QUEUE)), int(client.hlen("unacked"))
    finally:
        client.close()


class Blocker:
    """A transaction on its own connection that holds PostgreSQL locks until released."""

    def __init__(self, engine: Engine, statement: Any) -> None:
        self.conn: sa.Connection | None = engine.connect()
        self.trans = self.conn.begin()
        result = self.conn.execute(statement)
        if result.returns_rows:
            result.all()

    @classmethod
    def rows(cls, engine: Engine, hashes: list[str]) -> Blocker:
        """SELECT ... FOR UPDATE on these articles: store_results waits for them."""
        stmt = sa.select(ARTICLE.c.id).where(ARTICLE.c.url_hash.in_(hashes)).with_for_update()
        return cls(engine, stmt)

    @classmethod
    def mention_table(cls, engine: Engine) -> Blocker:
        """No writes to mention: store_results waits at its DELETE (entities already upserted)."""
        return cls(engine, sa.text("LOCK TABLE mention IN SHARE MODE"))

    def release(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            self.trans.rollback()
            conn.close()

    def __enter__(self) -> Blocker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


# --- expected and stored results -------------------------------------------------------------


def expected_mentions(engine: Engine, nlp: NlpPipeline, hashes: list[str]) -> Mentions:
    """What the model finds in each stored text: the result of a clean run."""
    with engine.connect() as conn:
        texts = dict(
            conn.execute(
                sa.select(ARTICLE.c.url_hash, ARTICLE.c.text).where(ARTICLE.c.url_hash.in_(hashes))
            ).all()
        )
    assert set(texts) == set(hashes), "an article of the run was not stored by the fetcher"
    order = sorted(texts)
    found = nlp.entities([texts[h] for h in order])
    expected = {
        h: sorted((e.label, e.key, e.count, e.first_offset) for e in ents)
        for h, ents in zip(order, found, strict=True)
    }
    assert all(expected.values()), "every story must have entities"
    return expected


def stored_mentions(engine: Engine) -> Mentions:
    stmt = sa.select(
        ARTICLE.c.url_hash, ENTITY.c.label, ENTITY.c.key, MENTION.c.count, MENTION.c.first_offset
    ).select_from(
        MENTION.join(ARTICLE, ARTICLE.c.id == MENTION.c.article_id).join(
            ENTITY, ENTITY.c.id == MENTION.c.entity_id
        )
    )
    out: Mentions = {}
    with engine.connect() as conn:
        for row in conn.execute(stmt):
            out.setdefault(row.url_hash, []).append(
                (row.label, row.key, row.count, row.first_offset)
            )
    return {h: sorted(v) for h, v in out.items()}


def assert_stored_exactly_once(engine: Engine, expected: Mentions) -> None:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                ARTICLE.c.url,
                ARTICLE.c.url_hash,
                ARTICLE.c.status,
                ARTICLE.c.status_reason,
                ARTICLE.c.nlp_model,
                ARTICLE.c.nlp_model_version,
            )
        ).all()
        entities = conn.execute(sa.select(ENTITY.c.label, ENTITY.c.key)).all()
    per_url = Counter(r.url for r in rows)
    assert [u for u, n in per_url.items() if n > 1] == [], "an article stored twice"
    assert {r.url_hash for r in rows} == set(expected), "articles missing or unexpected"
    wrong = {
        r.url: (r.status, r.status_reason, r.nlp_model, r.nlp_model_version)
        for r in rows
        if r.status != "processed" or (r.nlp_model, r.nlp_model_version) != MODEL
    }
    assert wrong == {}, "articles not processed by the test model"
    stored = stored_mentions(engine)
    assert stored == expected, "mentions differ from a clean run (lost or doubled)"
    wanted = {(label, key) for ms in expected.values() for label, key, _, _ in ms}
    assert sorted(entities) == sorted(wanted), "entities differ from a clean run"


# --- worker processes -------------------------------------------------------------------------


def worker_env(database_url: str, broker_url: str, model: str, **values: str) -> dict[str, str]:
    return service_env(
        database_url=database_url, broker_url=broker_url, spacy_model=model, **values
    )


def stop_worker(worker: WorkerProcess) -> None:
    """Warm shutdown (SIGTERM, bounded), then SIGKILL to whatever is left of its group."""
    worker.stop(signal.SIGTERM, timeout=30)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(worker.proc.pid, signal.SIGKILL)


@contextlib.contextmanager
def workers(
    env: dict[str, str], count: int = 1, *, concurrency: int = 1, ready_timeout: float = 90
) -> Iterator[list[WorkerProcess]]:
    """``count`` `newsingest worker` processes started at once (each its own process group)."""
    assert EXE, "newsingest console script not installed"
    started: list[WorkerProcess] = []
    try:
        for _ in range(count):
            proc = subprocess.Popen(
                [EXE, "worker", "--concurrency", str(concurrency)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
            started.append(WorkerProcess(proc))
        deadline = time.monotonic() + ready_timeout
        for worker in started:
            while not worker.ready.wait(0.2):
                if worker.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"worker did not start:\n{worker.output[-3000:]}")
        yield started
    finally:
        for worker in started:
            stop_worker(worker)


def children(pid: int) -> list[int]:
    """Child processes of ``pid`` (the prefork pool of a worker), from /proc."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(p) for p in (task / "children").read_text().split()]
    return sorted(found)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def tail(*procs: WorkerProcess) -> str:
    return "\n---\n".join(w.output[-4000:] for w in procs)


# --- 1. a worker killed in the middle of a batch ---------------------------------------------


@pytest.mark.timeout(150)
def test_prefork_child_killed_mid_batch_the_message_comes_back(
    http_server: LoopbackServer,
    postgres_url: str,
    pg: Engine,
    redis_server: RedisServer,
    test_model: str,
    reference: NlpPipeline,
) -> None:
    """SIGKILL of the pool process blocked inside store_results: the message is rejected
    back to the queue (acks_late + reject_on_worker_lost) and processed by its replacement."""
    feed = site(http_server, pg, "k", 6)
    settings = fetch_settings(postgres_url, redis_server.url())
    assert poll(settings, pg, feed).articles_new == 6
    hashes = hashes_of(http_server, "k", 6)
    first, second = hashes[:3], hashes[3:]
    expected = expected_mentions(pg, reference, hashes)
    env = worker_env(postgres_url, redis_server.url(), test_model)

    with workers(env) as [worker], producer(settings) as app:
        with Blocker.rows(pg, second) as blocker:
            send(app, first)
            send(app, second)
            assert wait_for(lambda: all_processed(pg, first), timeout=60), tail(worker)
            assert wait_for(lambda: lock_waiters(pg) == 1, timeout=60), tail(worker)
            [child] = children(worker.proc.pid)
            assert status_of(pg, second) == ["queued"] * 3
            os.kill(child, signal.SIGKILL)
            assert wait_for(lambda: children(worker.proc.pid) not in ([], [child]), timeout=30), (
                tail(worker)
            )
            blocker.release()
        assert wait_for(lambda: all_processed(pg, hashes), timeout=60), (
            status_of(pg, hashes),
            tail(worker),
        )
        assert worker.proc.poll() is None
        assert re.search(r"WorkerLostError|signal 9", worker.output), tail(worker)
        assert wait_for(lambda: redis_queue(redis_server.url()) == (0, 0), timeout=30)
    assert_stored_exactly_once(pg, expected)
    assert dead_letters(pg) == []


@pytest.mark.timeout(180)
def test_whole_worker_killed_mid_batch_the_unacked_message_is_restored(
    http_server: LoopbackServer,
    postgres_url: str,
    pg: Engine,
    redis_server: RedisServer,
    test_model: str,
    reference: NlpPipeline,
) -> None:
    """SIGKILL to the worker's process group (main and pool) while a batch is blocked in its
    transaction; a new worker with a 5 s visibility timeout restores the unacked message."""
    feed = site(http_server, pg, "w", 4)
    settings = fetch_settings(postgres_url, redis_server.url())
    assert poll(settings, pg, feed).articles_new == 4
    hashes = hashes_of(http_server, "w", 4)
    expected = expected_mentions(pg, reference, hashes)
    env = worker_env(postgres_url, redis_server.url(), test_model)

    with Blocker.rows(pg, hashes) as blocker:
        with workers(env) as [first], producer(settings) as app:
            send(app, hashes)
            assert wait_for(lambda: lock_waiters(pg) == 1, timeout=60), tail(first)
            blocked_at = time.monotonic()
            group = [first.proc.pid, *children(first.proc.pid)]
            os.killpg(first.proc.pid, signal.SIGKILL)
            first.proc.wait(10)
            assert wait_for(lambda: not any(alive(p) for p in group), timeout=10)
        blocker.release()
    # Nothing was stored, and Redis holds the message as delivered but never acknowledged.
    assert status_of(pg, hashes) == ["queued"] * 4
    assert redis_queue(redis_server.url()) == (0, 1)

    # The restore happens when the new worker's consumer starts (kombu sweeps the unacked
    # index then, and after that only every ~100 s): start it once the timeout has passed.
    time.sleep(max(0.0, blocked_at + 6 - time.monotonic()))
    env2 = worker_env(postgres_url, redis_server.url(), test_model, visibility_timeout="5")
    with workers(env2) as [second]:
        assert wait_for(lambda: all_processed(pg, hashes), timeout=60), (
            status_of(pg, hashes),
            tail(second),
        )
        assert wait_for(lambda: redis_queue(redis_server.url()) == (0, 0), timeout=30)
        swept = cli(env2, "sweep", "--older-than", "0")
        assert swept.returncode == 0, swept.stderr
        assert "0 article(s) re-sent" in swept.stdout
    assert_stored_exactly_once(pg, expected)
    assert dead_letters(pg) == []


# --- 2. Redis restarted mid-run (its queue lost) ---------------------------------------------


@pytest.mark.timeout(180)
def test_redis_restart_loses_the_queue_sweep_resends_and_everyone_reconnects(
    http_server: LoopbackServer,
    postgres_url: str,
    pg: Engine,
    redis_server: RedisServer,
    test_model: str,
    reference: NlpPipeline,
) -> None:
    """Redis is SIGKILLed while one batch runs and two wait in its queue, and comes back
    empty (no persistence). The worker and the fetcher started before the restart reconnect
    by themselves; `newsingest sweep --older-than 0` re-sends what the queue lost."""
    feed_a = site(http_server, pg, "a", 6)
    feed_b = site(http_server, pg, "b", 3)
    hashes_a = hashes_of(http_server, "a", 6)
    hashes_b = hashes_of(http_server, "b", 3)
    url = redis_server.url()
    settings = fetch_settings(postgres_url, url)
    env = worker_env(postgres_url, url, test_model)
    enqueuer = CeleryEnqueuer(make_app(settings), batch_size=2)
    try:
        with workers(env) as [worker]:
            pid = worker.proc.pid
            with Blocker.mention_table(pg) as blocker:
                summary = poll(settings, pg, feed_a, enqueuer)
                assert summary.articles_enqueued == 6
                assert wait_for(lambda: lock_waiters(pg) == 1, timeout=60), tail(worker)
                assert redis_queue(url) == (2, 1)  # one batch running, two waiting
                redis_server.restart()  # SIGKILL + start on the same port: every key lost
                assert redis_queue(url) == (0, 0)
                blocker.release()
            expected = expected_mentions(pg, reference, hashes_a)
            # The running batch completes (the database is fine); the two queued are lost.
            assert wait_for(lambda: statuses(pg)["processed"] == 2, timeout=60), tail(worker)
            assert wait_for(lambda: worker.output.count("Connected to redis") >= 2, timeout=60), (
                tail(worker)
            )
            time.sleep(1)
            assert statuses(pg) == Counter(processed=2, queued=4)

            swept = cli(env, "sweep", "--older-than", "0")
            assert swept.returncode == 0, swept.stderr
            assert "4 article(s) re-sent" in swept.stdout
            assert wait_for(lambda: all_processed(pg, hashes_a), timeout=60), (
                status_of(pg, hashes_a),
                tail(worker),
            )

            # The fetcher's enqueuer, connected before the restart, sends again.
            summary = poll(settings, pg, feed_b, enqueuer)
            assert summary.articles_enqueued == 3
            expected |= expected_mentions(pg, reference, hashes_b)
            assert wait_for(lambda: all_processed(pg, hashes_b), timeout=60), tail(worker)
            assert worker.proc.pid == pid
            assert worker.proc.poll() is None  # the same worker process throughout
    finally:
        enqueuer.close()
    assert_stored_exactly_once(pg, expected)
    assert dead_letters(pg) == []


# --- 3. PostgreSQL unavailable for 20 seconds -------------------------------------------------

OUTAGE = 20.0


@pytest.mark.timeout(180)
def test_postgres_outage_of_20_seconds_is_retried_without_loss(
    http_server: LoopbackServer,
    postgres_url: str,
    pg: Engine,
    redis_server: RedisServer,
    test_model: str,
    reference: NlpPipeline,
) -> None:
    """The worker reaches PostgreSQL through a proxy that is paused for 20 s while a batch is
    inside its transaction and two more are queued: every task retries with backoff and the
    run completes with no loss and no dead letter."""
    url = sa.engine.make_url(postgres_url)
    feed = site(http_server, pg, "p", 6)
    hashes = hashes_of(http_server, "p", 6)
    settings = fetch_settings(postgres_url, redis_server.url())
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        env = worker_env(
            proxied,
            redis_server.url(),
            test_model,
            retry_backoff_base="1",
            retry_backoff_max="5",
            # With base 1 s and max 5 s, the default budget of 8 retries spans 16 to 48 s: it
            # could run out inside a 20 s outage. 12 retries span at least 26 s.
            task_max_retries="12",
        )
        enqueuer = CeleryEnqueuer(make_app(settings), batch_size=2)
        try:
            with workers(env) as [worker]:
                with Blocker.mention_table(pg) as blocker:
                    assert poll(settings, pg, feed, enqueuer).articles_enqueued == 6
                    expected = expected_mentions(pg, reference, hashes)
                    assert wait_for(lambda: lock_waiters(pg) == 1, timeout=60), tail(worker)
                    proxy.pause()  # cuts the blocked transaction's connection, refuses new ones
                    started = time.monotonic()
                    blocker.release()
                assert wait_for(lambda: lock_waiters(pg) == 0, timeout=10)
                time.sleep(max(0.0, started + OUTAGE / 2 - time.monotonic()))
                assert statuses(pg) == Counter(queued=6)  # nothing stored half-way
                assert dead_letters(pg) == []
                time.sleep(max(0.0, started + OUTAGE - time.monotonic()))
                retried = worker.output.count("Retry in")
                assert retried >= 3, tail(worker)  # each batch retried at least once
                assert dead_letters(pg) == []
                proxy.resume()
                assert wait_for(lambda: all_processed(pg, hashes), timeout=60), (
                    status_of(pg, hashes),
                    tail(worker),
                )
                assert wait_for(lambda: redis_queue(redis_server.url()) == (0, 0), timeout=30)
        finally:
            enqueuer.close()
    assert_stored_exactly_once(pg, expected)
    assert dead_letters(pg) == []


# --- 4. the same message delivered to two workers at once ------------------------------------


@pytest.mark.timeout(150)
def test_the_same_message_on_two_workers_at_once_stores_once(
    http_server: LoopbackServer,
    postgres_url: str,
    pg: Engine,
    redis_server: RedisServer,
    test_model: str,
    reference: NlpPipeline,
) -> None:
    """One message sent twice, taken by two workers (concurrency 1 each) at the same time:
    both run the model and meet at the row locks of store_results; the second finds the
    articles done. Then the same again without any lock (a free race)."""
    feed = site(http_server, pg, "d", 10)
    settings = fetch_settings(postgres_url, redis_server.url())
    assert poll(settings, pg, feed).articles_new == 10
    hashes = hashes_of(http_server, "d", 10)
    locked, free = hashes[:6], hashes[6:]
    expected = expected_mentions(pg, reference, hashes)
    env = worker_env(postgres_url, redis_server.url(), test_model)

    with workers(env, 2) as pair, producer(settings) as app:
        with Blocker.rows(pg, locked) as blocker:
            send(app, locked)
            send(app, locked)
            # Both workers hold one copy each, blocked at the same rows.
            assert wait_for(lambda: lock_waiters(pg) == 2, timeout=60), tail(*pair)
            blocker.release()
        assert wait_for(lambda: all_processed(pg, locked), timeout=60), tail(*pair)
        assert wait_for(lambda: sum(w.output.count("succeeded in") for w in pair) == 2, 30)
        results = "".join(w.output for w in pair)
        assert results.count("'processed': 6") == 1, tail(*pair)
        assert results.count("'already_done': 6") == 1, tail(*pair)

        send(app, free)
        send(app, free)
        assert wait_for(lambda: all_processed(pg, free), timeout=60), tail(*pair)
        assert wait_for(lambda: sum(w.output.count("succeeded in") for w in pair) == 4, 30)
        assert wait_for(lambda: redis_queue(redis_server.url()) == (0, 0), timeout=30)
    assert_stored_exactly_once(pg, expected)
    assert dead_letters(pg) == []


# --- 5. a poison message: a text that crashes the NLP step -----------------------------------

MARKER = "XYZZY"
POISON_FACTORY = "newsingest_test_poison"
POISON_MODULE = f'''"""A spaCy component that raises on a marker word, or kills its own
process ("kill"), as a model crashing in native code would (tests/integration/test_faults.py)."""

import os
import signal

from spacy.language import Language


class Poison:
    def __init__(self, marker: str, action: str) -> None:
        self.marker = marker
        self.action = action

    def __call__(self, doc):
        if self.marker in doc.text:
            if self.action == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise ValueError(f"poison marker {{self.marker!r}} in the text")
        return doc


@Language.factory(
    "{POISON_FACTORY}", default_config={{"marker": "{MARKER}", "action": "raise"}}
)
def make_poison(nlp, name, marker, action):
    return Poison(marker, action)
'''


def poison_plugin(root: Path) -> Path:
    """A directory to put on PYTHONPATH: the component's module and a dist-info whose
    ``spacy_factories`` entry point makes ``spacy.load`` import it in the worker."""
    root.mkdir()
    (root / f"{POISON_FACTORY}.py").write_text(POISON_MODULE, encoding="utf-8")
    info = root / f"{POISON_FACTORY}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {POISON_FACTORY.replace('_', '-')}\nVersion: 1.0\n",
        encoding="utf-8",
    )
    (info / "entry_points.txt").write_text(
        f"[spacy_factories]\n{POISON_FACTORY} = {POISON_FACTORY}:make_poison\n", encoding="utf-8"
    )
    return root


def build_poison_model(plugin: Path, test_model: str, target: Path, action: str = "raise") -> Path:
    """The test model with the poison component first (custom components stay enabled)."""
    import spacy
    from spacy.language import Language

    if not Language.has_factory(POISON_FACTORY):  # register it in this process too
        spec = importlib.util.spec_from_file_location(
            POISON_FACTORY, plugin / f"{POISON_FACTORY}.py"
        )
        assert spec is not None
        assert spec.loader is not None
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    nlp = spacy.load(test_model)
    nlp.add_pipe(
        POISON_FACTORY, name="poison", first=True, config={"marker": MARKER, "action": action}
    )
    assert (nlp.meta["name"], nlp.meta["version"]) == ("test_ner", "1.0.0")
    nlp.to_disk(target)
    return target


@pytest.mark.timeout(180)
def test_poison_text_is_dead_lettered_without_blocking_and_replayed_once_fixed(
    http_server: LoopbackServer,
    postgres_url: str,
    pg: Engine,
    redis_server: RedisServer,
    test_model: str,
    reference: NlpPipeline,
    tmp_path: Path,
) -> None:
    """A worker whose model raises on one article's text: that article (not its batch) is
    dead-lettered once with the reason, a good message sent after it is processed; once a
    fixed model is deployed, `newsingest dlq replay` processes it."""
    plugin = poison_plugin(tmp_path / "plugin")
    poisoned = build_poison_model(plugin, test_model, tmp_path / "poisoned")
    feed = site(
        http_server,
        pg,
        "x",
        4,
        **{"1": f"A leaked memo used the codename {MARKER} for the plan, officials confirmed."},
    )
    settings = fetch_settings(postgres_url, redis_server.url())
    assert poll(settings, pg, feed).articles_new == 4
    good0, poison, good1, good2 = hashes_of(http_server, "x", 4)
    expected = expected_mentions(pg, reference, [good0, poison, good1, good2])
    env = worker_env(postgres_url, redis_server.url(), str(poisoned))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(plugin), env.get("PYTHONPATH")]))

    with workers(env) as [worker], producer(settings) as app:
        send(app, [good0, poison, good1])
        send(app, [good2])  # sent after the poison: must not wait behind it
        assert wait_for(lambda: all_processed(pg, [good0, good1, good2]), timeout=60), (
            status_of(pg, [good0, poison, good1, good2]),
            tail(worker),
        )
        assert wait_for(lambda: len(dead_letters(pg)) == 1, timeout=30), tail(worker)
        assert wait_for(lambda: redis_queue(redis_server.url()) == (0, 0), timeout=30)
        time.sleep(2)  # room for a retry that must not happen
        output = worker.output
    [letter] = dead_letters(pg)
    assert letter.stage == "extract"
    assert letter.key == poison
    assert letter.error.startswith(f"nlp_failed: ValueError: poison marker '{MARKER}'")
    assert letter.attempts == 1
    assert letter.replayed_at is None
    assert ExtractMessage.from_json(letter.message).url_hashes == (poison,)
    with pg.connect() as conn:
        row = conn.execute(
            sa.select(ARTICLE.c.status, ARTICLE.c.status_reason).where(ARTICLE.c.url_hash == poison)
        ).one()
    assert tuple(row) == ("failed", "nlp_failed")
    assert "Retry in" not in output
    assert output.count("succeeded in") == 2, output[-4000:]

    # The cause is fixed: a worker with the model without the faulty component.
    env_fixed = worker_env(postgres_url, redis_server.url(), test_model)
    with workers(env_fixed) as [fixed]:
        replayed = cli(env_fixed, "dlq", "replay", "--all")
        assert replayed.returncode == 0, replayed.stderr
        assert "1 dead letter(s) replayed, 1 article(s) re-sent" in replayed.stdout
        assert wait_for(lambda: status_of(pg, [poison]) == ["processed"], timeout=60), tail(fixed)
    listed = cli(env_fixed, "dlq", "list")
    assert listed.returncode == 0, listed.stderr
    assert "0 dead letter(s)" in listed.stderr
    assert_stored_exactly_once(pg, expected)
    [letter] = dead_letters(pg)
    assert letter.replayed_at is not None


@pytest.mark.timeout(180)
def test_a_text_that_kills_the_worker_process_is_dead_lettered_after_three_deaths(
    http_server: LoopbackServer,
    postgres_url: str,
    pg: Engine,
    redis_server: RedisServer,
    test_model: str,
    tmp_path: Path,
) -> None:
    """A model that takes its process down (not a Python exception) on one article: the
    message comes back each time the worker is lost, the batch is then worked one article
    at a time, and after MAX_NLP_DELIVERIES deaths that article alone is dead-lettered
    (reason worker_lost); the others of its batch are processed; the queue drains."""
    from workers.entities import MAX_NLP_DELIVERIES

    plugin = poison_plugin(tmp_path / "plugin")
    killer = build_poison_model(plugin, test_model, tmp_path / "killer", action="kill")
    feed = site(
        http_server,
        pg,
        "k",
        3,
        **{"1": f"A leaked memo used the codename {MARKER} for the plan, officials confirmed."},
    )
    settings = fetch_settings(postgres_url, redis_server.url())
    assert poll(settings, pg, feed).articles_new == 3
    good0, poison, good1 = hashes_of(http_server, "k", 3)
    env = worker_env(postgres_url, redis_server.url(), str(killer))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(plugin), env.get("PYTHONPATH")]))
    with workers(env) as [worker], producer(settings) as app:
        send(app, [good0, poison, good1])
        assert wait_for(lambda: len(dead_letters(pg)) == 1, timeout=120), (
            status_of(pg, [good0, poison, good1]),
            tail(worker),
        )
        assert wait_for(lambda: all_processed(pg, [good0, good1]), timeout=60), tail(worker)
        assert wait_for(lambda: redis_queue(redis_server.url()) == (0, 0), timeout=30)
    [letter] = dead_letters(pg)
    assert letter.key == poison
    assert letter.error == f"worker_lost: the entity stage died {MAX_NLP_DELIVERIES} times"
    assert status_of(pg, [poison]) == ["failed"]


# --- 6. hostile origins -----------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_hostile_origins_each_end_with_a_reason_and_poll_finishes_in_time(
    http_server: LoopbackServer, postgres_url: str, pg: Engine, redis_server: RedisServer
) -> None:
    """`newsingest poll` against feeds and pages that time out, reset, answer 429/503 with
    Retry-After, redirect in loops, never end or inflate: every one gets its reason."""
    srv = http_server
    in_3h = email.utils.format_datetime(datetime.now(UTC) + timedelta(hours=3), usegmt=True)
    truncated = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n<html>"
    )
    # Article pages, all listed by one healthy feed.
    pages: dict[str, tuple[str, str]] = {}  # name -> (status, reason)

    def page(name: str, outcome: tuple[str, str], **route: Any) -> None:
        srv.add(f"/{name}", **route)
        pages[name] = outcome

    retry_429, retry_503 = ("retry", "http_429"), ("retry", "http_503")
    page("good.html", ("queued", ""), body=story(0))
    page("slow.html", ("retry", "timeout"), body=story(1), delay=60)
    page("trickle.html", ("retry", "timeout"), body=story(2), trickle=0.5, trickle_size=16)
    page("reset.html", ("retry", "connection"), reset=True)
    page("truncated.html", ("retry", "connection"), raw=truncated)
    page("busy.html", retry_429, body=b"slow down", status=429, headers={"Retry-After": "120"})
    page("down.html", retry_503, body=b"maintenance", status=503, headers={"Retry-After": in_3h})
    page("loop-a.html", ("failed", "redirect_loop"), status=302, redirect_to="/loop-b.html")
    srv.add("/loop-b.html", status=302, redirect_to="/loop-a.html")
    srv.add("/endless.html", endless=True)  # over the size cap, or out of time: both fine
    srv.gzip_bomb("/bomb.html", 200_000_000)
    pages["bomb.html"] = ("failed", "too_large")
    srv.add(
        "/feed.xml",
        rss([(name, srv.url(f"/{name}")) for name in [*pages, "endless.html"]]),
        content_type="application/rss+xml",
    )
    # Feeds that misbehave themselves.
    feeds: dict[str, str] = {
        "f-slow.xml": "timeout",
        "f-reset.xml": "connection",
        "f-truncated.xml": "connection",
        "f-429.xml": "http_429",
        "f-503.xml": "http_503",
        "f-loop-a.xml": "redirect_loop",
        "f-bomb.xml": "too_large",
    }
    endless_outcomes = {("failed", "too_large"), ("retry", "timeout")}
    rss_type = "application/rss+xml"
    srv.add("/f-slow.xml", rss([]), content_type=rss_type, delay=60)
    srv.add("/f-reset.xml", reset=True)
    srv.add("/f-truncated.xml", raw=truncated)
    srv.add("/f-429.xml", b"busy", status=429, headers={"Retry-After": "7200"})
    srv.add("/f-503.xml", b"down", status=503, headers={"Retry-After": in_3h})
    srv.add("/f-loop-a.xml", status=301, redirect_to="/f-loop-b.xml")
    srv.add("/f-loop-b.xml", status=301, redirect_to="/f-loop-a.xml")
    srv.add("/f-endless.xml", content_type=rss_type, endless=True)
    srv.gzip_bomb("/f-bomb.xml", 200_000_000, content_type=rss_type)
    subscribe(
        pg,
        srv.url("/feed.xml"),
        srv.url("/f-endless.xml"),
        *(srv.url(f"/{name}") for name in feeds),
    )

    env = service_env(
        database_url=postgres_url,
        broker_url=redis_server.url(),
        allowed_networks="127.0.0.0/8",
        total_timeout="5",
        # Every origin here is one loopback host, and a 429/503 pauses a host for everyone
        # (tests/integration/test_politeness.py): keep the pause short so each request meets its own
        # misbehaviour instead of "host_paused".
        host_max_backoff="0.2",
    )
    started = time.monotonic()
    run = cli(env, "poll", "--all", "--inline", timeout=90)
    elapsed = time.monotonic() - started
    assert run.returncode == 0, run.stderr[-3000:]
    assert elapsed < 60, f"poll took {elapsed:.1f}s"
    assert "feeds: 9 polled, 0 not modified, 8 failed," in run.stdout, run.stdout
    assert "articles: 1 new" in run.stdout, run.stdout
    assert "1 enqueued" in run.stdout, run.stdout
    assert redis_queue(redis_server.url()) == (1, 0)

    now = datetime.now(UTC)
    with pg.connect() as conn:
        articles = {
            r.url.rsplit("/", 1)[-1]: (r.status, (r.status_reason or "").split(":")[0])
            for r in conn.execute(
                sa.select(ARTICLE.c.url, ARTICLE.c.status, ARTICLE.c.status_reason)
            )
        }
        feed_rows = {
            r.url.rsplit("/", 1)[-1]: r
            for r in conn.execute(sa.select(Feed.__table__))  # type: ignore[attr-defined]
        }
    assert articles.pop("endless.html") in endless_outcomes
    assert articles == pages
    outcomes = {name: (row.last_error or "").split(":")[0] for name, row in feed_rows.items()}
    assert outcomes.pop("f-endless.xml") in {"too_large", "timeout"}
    assert outcomes == {"feed.xml": "", **feeds}
    for name in [*feeds, "f-endless.xml"]:
        assert feed_rows[name].consecutive_failures == 1, name
    assert feed_rows["f-429.xml"].last_status == 429
    assert feed_rows["f-503.xml"].last_status == 503

    def next_poll_in(name: str) -> float:
        return (as_utc(feed_rows[name].next_poll_at) - now).total_seconds()

    # Retry-After (delta-seconds and HTTP date) pushes the next poll past the usual backoff.
    assert next_poll_in("f-429.xml") > 7000
    assert next_poll_in("f-503.xml") > 3 * 3600 - 120
    assert srv.errors == []
