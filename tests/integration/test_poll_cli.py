"""`newsingest poll` and `sweep` as cron runs them: the real executable, server and Redis."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.cli import EXE, cli
from tests.support.factories import PARAGRAPHS, article_page, rss
from tests.support.httpserver import LoopbackServer
from tests.support.queues import read_queue

pytestmark = pytest.mark.integration


def cron_env(tmp_path: Path, broker: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")}
    env["NEWSINGEST_DATABASE_URL"] = f"sqlite:///{tmp_path / 'news.db'}"
    env["NEWSINGEST_ALLOWED_NETWORKS"] = "127.0.0.0/8"
    env["NEWSINGEST_CONCURRENCY"] = "1"
    if broker:
        env["NEWSINGEST_BROKER_URL"] = broker
    return env


@pytest.fixture
def site(http_server: LoopbackServer) -> LoopbackServer:
    items = []
    for i in range(3):
        http_server.add(f"/a{i}.html", article_page(f"Story {i}", PARAGRAPHS))
        items.append((f"s{i}", http_server.url(f"/a{i}.html")))
    http_server.add("/feed.xml", rss(items), content_type="application/rss+xml")
    return http_server


def test_poll_summary_and_messages_on_redis(
    tmp_path: Path, site: LoopbackServer, redis_url: str
) -> None:
    assert cli(cron_env(tmp_path), "init", cwd=tmp_path).returncode == 0
    assert (
        cli(cron_env(tmp_path), "feeds", "add", site.url("/feed.xml"), cwd=tmp_path).returncode == 0
    )
    run = cli(cron_env(tmp_path, redis_url), "poll", "--inline", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "feeds: 1 polled, 0 not modified, 0 failed" in run.stdout
    assert "articles: 3 new, 0 duplicate" in run.stdout
    assert "3 enqueued" in run.stdout
    assert f"feed {site.url('/feed.xml')}: 3 entries" in run.stderr  # plain lines, no TTY
    tasks = read_queue(redis_url)
    assert sum(len(t["args"][0]["url_hashes"]) for t in tasks) == 3


def test_broker_down_exits_3_and_a_later_poll_takes_over(
    tmp_path: Path, site: LoopbackServer, redis_url: str
) -> None:
    cli(cron_env(tmp_path), "init", cwd=tmp_path)
    cli(cron_env(tmp_path), "feeds", "add", site.url("/feed.xml"), cwd=tmp_path)
    # The broker also holds the per-host politeness state: with it down nothing is fetched,
    # nothing is recorded against the feed, and the run stops with exit 3.
    run = cli(cron_env(tmp_path, "redis://127.0.0.1:1/0"), "poll", "--inline", cwd=tmp_path)
    assert run.returncode == 3, run.stdout + run.stderr
    assert "broker unavailable" in run.stderr
    assert site.requests_for("/feed.xml") == []
    listed = cli(cron_env(tmp_path), "feeds", "list", cwd=tmp_path)
    assert "broker" not in listed.stdout  # no failure recorded on the feed
    # The feed is still due: the next run with the broker back does the whole job.
    again = cli(cron_env(tmp_path, redis_url), "poll", "--inline", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "articles: 3 new" in again.stdout
    assert sum(len(t["args"][0]["url_hashes"]) for t in read_queue(redis_url)) == 3


def test_poll_of_an_unknown_feed_is_bad_input(tmp_path: Path, redis_url: str) -> None:
    cli(cron_env(tmp_path), "init", cwd=tmp_path)
    run = cli(
        cron_env(tmp_path, redis_url),
        "poll",
        "--feed",
        "https://not-subscribed.example/rss",
        cwd=tmp_path,
    )
    assert run.returncode == 1
    assert "no active subscribed feed" in run.stderr


def test_two_cron_runs_at_once_poll_each_feed_once(
    tmp_path: Path, http_server: LoopbackServer, test_model: str
) -> None:
    items = []
    for i in range(4):
        http_server.add(f"/p{i}.html", article_page(f"Story {i}", PARAGRAPHS), delay=0.3)
        items.append((f"s{i}", http_server.url(f"/p{i}.html")))
    http_server.add("/feed.xml", rss(items), content_type="application/rss+xml", delay=1.0)
    cli(cron_env(tmp_path), "init", cwd=tmp_path)
    cli(cron_env(tmp_path), "feeds", "add", http_server.url("/feed.xml"), cwd=tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")}
    env |= {
        "NEWSINGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'news.db'}",
        "NEWSINGEST_ALLOWED_NETWORKS": "127.0.0.0/8",
        "NEWSINGEST_CONCURRENCY": "1",
        "NEWSINGEST_SPACY_MODEL": test_model,
    }
    assert EXE
    procs = [
        subprocess.Popen(
            [EXE, "poll"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert len(http_server.requests_for("/feed.xml")) == 1
    for i in range(4):
        assert len(http_server.requests_for(f"/p{i}.html")) == 1
    joined = "\n".join(outs)
    assert "1 locked by another run" in joined or "feeds: 0 polled" in joined


def test_passwords_never_appear_in_errors(tmp_path: Path, test_model: str) -> None:
    cli(cron_env(tmp_path), "init", cwd=tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")}
    for key, value in {
        "DATABASE_URL": "postgresql://news:s3cret-pw@127.0.0.1:1/news",
        "BROKER_URL": "redis://:hunter2-pw@127.0.0.1:1/0",
        "SPACY_MODEL": test_model,
    }.items():
        env[f"NEWSINGEST_{key}"] = value
    for args in (["poll"], ["config"], ["init"], ["sweep"], ["dlq", "list"]):
        run = cli(env, *args, cwd=tmp_path, timeout=60)
        shown = run.stdout + run.stderr
        assert "s3cret-pw" not in shown, args
        assert "hunter2-pw" not in shown, args
    env["NEWSINGEST_DATABASE_URL"] = f"sqlite:///{tmp_path / 'news.db'}"
    run = cli(env, "sweep", "--older-than", "0", cwd=tmp_path, timeout=60)
    assert "hunter2-pw" not in run.stdout + run.stderr
