"""Prometheus metrics: counters move with real work, the endpoint serves them, and the
multiprocess mode sums what several processes counted."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY

from ingest.feedlist import add_feeds
from ingest.poll import NoEnqueuer, PollSummary, run_poll
from schemas import metrics, metrics_server
from schemas.db import make_engine, session_scope, upgrade
from schemas.settings import load_settings
from tests.support.factories import PARAGRAPHS, article_page, rss
from tests.support.httpserver import LoopbackServer

ROOT = Path(__file__).resolve().parents[2]


def sample(name: str, **labels: str) -> float:
    metrics.metrics()  # the objects exist (created on first use)
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scrape(port: int) -> str:
    # trust_env=False: never through a proxy from the environment; loopback only.
    with httpx.Client(trust_env=False, timeout=5) as client:
        resp = client.get(f"http://127.0.0.1:{port}/metrics")
    assert resp.status_code == 200
    return resp.text


def value(text: str, series: str) -> float:
    """The value of one exposition line, e.g. ``newsingest_polls_total{outcome="ok"}``."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{series} not in the scrape:\n{text}")


def test_record_poll_summary_counts_each_outcome_once() -> None:
    before = {o: sample("newsingest_polls_total", outcome=o) for o in metrics.POLL_OUTCOMES}
    art_before = {
        o: sample("newsingest_articles_total", outcome=o) for o in metrics.ARTICLE_OUTCOMES
    }
    runs = sample("newsingest_task_duration_seconds_count", task="poll")
    summary = PollSummary(
        feeds_polled=6,
        feeds_not_modified=1,
        feeds_failed=3,
        feeds_locked=2,
        articles_new=4,
        articles_duplicate=5,
        articles_not_article=1,
        articles_failed=2,
        articles_retry=3,
    )
    summary.feeds_deactivated = 1  # one of the three failures deactivated its feed
    metrics.record_poll_summary(summary, seconds=0.25)
    polls = {o: sample("newsingest_polls_total", outcome=o) - before[o] for o in before}
    assert polls == {"ok": 2, "not_modified": 1, "failed": 2, "deactivated": 1, "locked": 2}
    arts = {o: sample("newsingest_articles_total", outcome=o) - art_before[o] for o in art_before}
    assert arts == {
        "new": 4, "duplicate": 5, "not_article": 1, "failed": 2, "retry": 3,
        "processed": 0, "skipped": 0, "dead_lettered": 0,
    }  # fmt: skip
    assert sample("newsingest_task_duration_seconds_count", task="poll") == runs + 1


@pytest.mark.integration
def test_counters_move_when_a_poll_runs(
    http_server: LoopbackServer, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSINGEST_ALLOWED_NETWORKS", "127.0.0.0/8")
    monkeypatch.setenv("NEWSINGEST_RESPECT_ROBOTS", "false")
    settings = load_settings()
    http_server.add("/a1", article_page("Envoy goes to Moscow", PARAGRAPHS))
    http_server.add(
        "/rss", rss([("Envoy", http_server.url("/a1"))]), content_type="application/rss+xml"
    )
    http_server.add("/gone.xml", "missing", status=404)
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        with session_scope(engine) as s:
            add_feeds(s, [http_server.url("/rss"), http_server.url("/gone.xml")])
        ok = sample("newsingest_polls_total", outcome="ok")
        failed = sample("newsingest_polls_total", outcome="failed")
        new = sample("newsingest_articles_total", outcome="new")
        summary = asyncio.run(run_poll(settings, engine, NoEnqueuer(), processes=0))
        metrics.record_poll_summary(summary)
    finally:
        engine.dispose()
    assert (summary.feeds_polled, summary.feeds_failed, summary.articles_new) == (2, 1, 1)
    assert sample("newsingest_polls_total", outcome="ok") == ok + 1
    assert sample("newsingest_polls_total", outcome="failed") == failed + 1
    assert sample("newsingest_articles_total", outcome="new") == new + 1


@pytest.mark.integration
def test_entity_stage_counts_processed_skipped_and_words(sqlite_url: str, test_model: str) -> None:
    from ingest.articles import Candidate, claim, record_extracted
    from schemas.urls import url_hash
    from workers.entities import process_batch
    from workers.nlp import load_pipeline

    texts = {
        "https://news.example/en": ("Mr Putin met Steve Witkoff in Moscow today.", "en"),
        "https://news.example/de": ("Der Kanzler sprach heute in Berlin.", "de"),
    }
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        with engine.begin() as conn:
            cands = [Candidate(url=u, url_hash=url_hash(u), feed_id=None) for u in texts]
            claim(conn, cands, lock_ttl=600)
            for cand in cands:
                text, lang = texts[cand.url]
                record_extracted(
                    conn, cand.url_hash, {"text": text, "language": lang, "word_count": 1}
                )
        before = {
            "processed": sample("newsingest_articles_total", outcome="processed"),
            "skipped": sample("newsingest_articles_total", outcome="skipped"),
            "nlp": sample("newsingest_nlp_articles_total"),
            "words": sample("newsingest_nlp_words_total"),
        }
        outcome = process_batch(engine, load_pipeline(test_model), [c.url_hash for c in cands])
    finally:
        engine.dispose()
    assert (outcome.stats.processed, outcome.stats.skipped) == (1, 1)
    assert sample("newsingest_articles_total", outcome="processed") == before["processed"] + 1
    assert sample("newsingest_articles_total", outcome="skipped") == before["skipped"] + 1
    assert sample("newsingest_nlp_articles_total") == before["nlp"] + 1
    assert sample("newsingest_nlp_words_total") == before["words"] + 8  # the English text


def test_endpoint_serves_metrics_on_a_loopback_port() -> None:
    assert metrics_server.start_metrics_server(load_settings()) is None  # unset port: off
    metrics.record_throttle_wait("news.example", 0.5)
    metrics.record_host_penalty("news.example", 30.0)
    server = metrics_server.start_metrics_server(load_settings(metrics_port=0), addr="127.0.0.1")
    assert server is not None
    try:
        assert server.port > 0
        text = scrape(server.port)
    finally:
        server.close()
    assert 'newsingest_polls_total{outcome="deactivated"}' in text
    assert "# TYPE newsingest_task_duration_seconds histogram" in text
    assert value(text, 'newsingest_host_throttle_total{host="news.example",kind="penalty"}') >= 1
    assert value(text, 'newsingest_host_throttle_seconds_total{host="news.example"}') >= 30.5
    assert "newsingest_queue_depth" not in text  # no broker configured: no queue collector


SCRIPT = textwrap.dedent(
    """
    import os, sys
    from schemas import metrics, metrics_server
    from ingest.poll import PollSummary
    from schemas.settings import load_settings

    server = metrics_server.serve_metrics(load_settings(metrics_port=0), addr="127.0.0.1")
    children = []
    for n in (1, 2):
        pid = os.fork()
        if pid == 0:  # a worker child: counts in its own file, then exits like Celery's
            metrics.record_poll_summary(PollSummary(feeds_polled=n, articles_new=10 * n))
            metrics.record_nlp(n, 100 * n)
            with metrics.task_timer("child"):
                pass
            metrics.process_exit()
            os._exit(0)
        children.append(pid)
    for pid in children:
        assert os.waitpid(pid, 0)[1] == 0
    metrics.record_poll_summary(PollSummary(feeds_polled=4, feeds_failed=4))
    print("READY", server.port, os.environ["PROMETHEUS_MULTIPROC_DIR"], flush=True)
    sys.stdin.read()  # until the test closes stdin
    server.close()
    """
)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_multiprocess_mode_sums_every_process() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSINGEST_", "PROMETHEUS"))}
    with subprocess.Popen(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdin is not None
        assert proc.stdout is not None
        try:
            line = proc.stdout.readline().split()
            assert line[:1] == ["READY"], line
            port, folder = int(line[1]), Path(line[2])
            assert len(list(folder.glob("*.db"))) >= 3  # the parent's and each child's files
            text = scrape(port)
        finally:
            proc.stdin.close()
            proc.wait(timeout=30)
    assert proc.returncode == 0
    # Children polled 1 + 2 feeds (ok) and found 10 + 20 articles; the parent had 4 failures.
    assert value(text, 'newsingest_polls_total{outcome="ok"}') == 3
    assert value(text, 'newsingest_polls_total{outcome="failed"}') == 4
    assert value(text, 'newsingest_articles_total{outcome="new"}') == 30
    assert value(text, "newsingest_nlp_words_total") == 300
    assert value(text, 'newsingest_task_duration_seconds_count{task="child"}') == 2
    assert not folder.exists(), "the temporary multiprocess folder is removed at exit"


def test_enable_multiprocess_refuses_after_single_process_use() -> None:
    code = (
        "import os\n"
        "from schemas import metrics\n"
        "metrics.record_nlp(1, 1)\n"
        "try:\n"
        "    metrics.enable_multiprocess()\n"
        "except RuntimeError as exc:\n"
        "    print('refused', 'PROMETHEUS_MULTIPROC_DIR' in os.environ, exc)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSINGEST_", "PROMETHEUS"))}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.startswith("refused False"), done.stdout + done.stderr
