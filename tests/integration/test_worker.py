"""The whole pipeline with real processes: loopback site -> poll -> Redis -> Celery worker
processes -> PostgreSQL. And the worker's refusals."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ingest.enqueue import CeleryEnqueuer
from ingest.poll import run_poll
from schemas.db import make_engine, session_scope, upgrade
from schemas.models import Article, DeadLetter, Entity
from schemas.settings import load_settings
from tests.support.cli import cli, service_env
from tests.support.factories import PARAGRAPHS, article_page, rss, subscribe
from tests.support.httpserver import LoopbackServer
from tests.support.workerproc import celery_worker, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def pg(postgres_url: str) -> Any:
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    yield engine
    engine.dispose()


def statuses(engine: Any) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(Article.status)).scalars())  # type: ignore[call-overload]


def test_end_to_end_with_two_worker_processes(
    http_server: LoopbackServer,
    postgres_url: str,
    pg: Any,
    redis_url: str,
    test_model: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for i in range(12):
        http_server.add(f"/w{i}.html", article_page(f"Story {i}", PARAGRAPHS[i % 3 :]))
    items = [(f"s{i}", http_server.url(f"/w{i}.html")) for i in range(12)]
    http_server.add("/feed.xml", rss(items), content_type="application/rss+xml")
    subscribe(pg, http_server.url("/feed.xml"))
    env = service_env(
        database_url=postgres_url, broker_url=redis_url, spacy_model=test_model, nlp_batch_size="4"
    )
    with celery_worker(env, "--concurrency", "2") as worker:
        for key, value in env.items():
            if key.startswith("NEWSINGEST_"):
                monkeypatch.setenv(key, value)
        monkeypatch.setenv("NEWSINGEST_ALLOWED_NETWORKS", "127.0.0.0/8")
        settings = load_settings()
        enqueuer = CeleryEnqueuer.from_settings(settings)
        try:
            summary = asyncio.run(run_poll(settings, pg, enqueuer, processes=0))
        finally:
            enqueuer.close()
        assert summary.articles_enqueued == 12
        assert wait_for(lambda: statuses(pg).count("processed") == 12, timeout=90), (
            statuses(pg),
            worker.output[-3000:],
        )
        assert "en_test_ner" in worker.output or "ready" in worker.output
    with session_scope(pg) as s:
        keys = set(s.exec(sa.select(Entity.key)).scalars())  # type: ignore[call-overload]
        assert {"steve witkoff", "vladimir putin", "moscow", "kremlin"} <= keys
        assert "putin" not in keys  # the short form met its full name across articles
        models = set(s.exec(sa.select(Article.nlp_model, Article.nlp_model_version)).all())  # type: ignore[call-overload]
        assert models == {("en_test_ner", "1.0.0")}


def test_an_invalid_message_is_dead_lettered_and_does_not_block(
    http_server: LoopbackServer,
    postgres_url: str,
    pg: Any,
    redis_url: str,
    test_model: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    env = service_env(database_url=postgres_url, broker_url=redis_url, spacy_model=test_model)
    monkeypatch.setenv("NEWSINGEST_BROKER_URL", redis_url)
    from schemas.queue import make_app

    app = make_app(load_settings())
    with celery_worker(env, "--concurrency", "1"):
        app.send_task("newsingest.extract_entities", args=["{not json"], queue="entities")
        app.send_task(
            "newsingest.extract_entities", args=[{"v": 9, "url_hashes": []}], queue="entities"
        )
        assert wait_for(lambda: dead_letters(pg) == 2, timeout=60)
    app.close()
    with session_scope(pg) as s:
        errors = sorted(d.error.split(":")[0] for d in s.exec(sa.select(DeadLetter)).scalars())  # type: ignore[call-overload]
    assert errors == ["bad_version", "invalid_json"]

    listed = cli(env, "dlq", "list", timeout=60)
    assert listed.returncode == 0
    assert listed.stdout.count("extract") == 2
    replayed = cli(env, "dlq", "replay", "--all", timeout=60)
    assert replayed.returncode == 1  # still invalid: refused with the reason, kept open
    assert "message still invalid" in replayed.stderr


def dead_letters(engine: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(DeadLetter)).scalar())


def test_worker_refuses_a_missing_model(postgres_url: str, pg: Any, redis_url: str) -> None:
    env = service_env(
        database_url=postgres_url, broker_url=redis_url, spacy_model="en_core_web_absent"
    )
    run = cli(env, "worker", timeout=60)
    assert run.returncode == 2
    assert "en_core_web_absent" in run.stderr
    assert "install" in run.stderr


def test_worker_needs_a_broker(postgres_url: str, pg: Any) -> None:
    env = service_env(database_url=postgres_url)
    run = cli(env, "worker", timeout=60)
    assert run.returncode == 2
    assert "NEWSINGEST_BROKER_URL" in run.stderr


def test_dlq_replay_after_the_cause_is_fixed(
    postgres_url: str, pg: Any, redis_url: str, test_model: str
) -> None:
    """An article dead-lettered after its retries is processed once replayed."""
    from tests.support.factories import seed_extracted
    from workers import dead_letters

    [h] = seed_extracted(
        pg, ["Mr Putin met Steve Witkoff in Moscow on Tuesday to discuss the plan."]
    )
    with pg.begin() as conn:
        dead_letters.dead_letter(
            conn,
            stage="extract",
            key=h,
            message=json.dumps({"v": 1, "url_hashes": [h]}),
            error="retries_exhausted: OperationalError",
        )
        dead_letters.mark_failed(conn, [h], "retries_exhausted")
    assert statuses(pg) == ["failed"]
    env = service_env(database_url=postgres_url, broker_url=redis_url, spacy_model=test_model)
    with celery_worker(env, "--concurrency", "1") as worker:
        run = cli(env, "dlq", "replay", "1", timeout=60)
        assert run.returncode == 0, run.stderr
        assert "1 dead letter(s) replayed, 1 article(s) re-sent" in run.stdout
        assert wait_for(lambda: statuses(pg) == ["processed"], timeout=60), (
            statuses(pg),
            worker.output[-3000:],
        )
    listed = cli(env, "dlq", "list", timeout=60)
    assert "0 dead letter(s)" in listed.stderr
