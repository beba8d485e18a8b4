"""In-process mode: no broker, SQLite, the whole job in one process tree."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from schemas.db import make_engine
from schemas.models import Article, Entity
from tests.support.cli import EXE, cli, service_env
from tests.support.factories import PARAGRAPHS, article_page, rss
from tests.support.httpserver import LoopbackServer
from tests.support.workerproc import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def site(http_server: LoopbackServer) -> LoopbackServer:
    for i in range(8):
        http_server.add(f"/i{i}.html", article_page(f"Story {i}", PARAGRAPHS))
    http_server.add(
        "/feed.xml",
        rss([(f"s{i}", http_server.url(f"/i{i}.html")) for i in range(8)]),
        content_type="application/rss+xml",
    )
    return http_server


def env_for(tmp_path: Path, model: str) -> dict[str, str]:
    return service_env(
        database_url=f"sqlite:///{tmp_path / 'news.db'}",
        allowed_networks="127.0.0.0/8",
        spacy_model=model,
        concurrency="2",
    )


def processed(env: dict[str, str]) -> int:
    engine = make_engine(env["NEWSINGEST_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            stmt = sa.select(sa.func.count()).where(Article.status == "processed")  # type: ignore[arg-type]
            return int(conn.execute(stmt).scalar() or 0)
    except sa.exc.OperationalError:
        return 0
    finally:
        engine.dispose()


def test_poll_without_a_broker_stores_entities(
    tmp_path: Path, site: LoopbackServer, test_model: str
) -> None:
    env = env_for(tmp_path, test_model)
    assert cli(env, "init", cwd=tmp_path, timeout=180).returncode == 0
    assert (
        cli(env, "feeds", "add", site.url("/feed.xml"), cwd=tmp_path, timeout=180).returncode == 0
    )
    run = cli(env, "poll", cwd=tmp_path, timeout=180)
    assert run.returncode == 0, run.stderr
    assert "8 new" in run.stdout
    assert "8 with entities (in-process)" in run.stdout
    engine = make_engine(env["NEWSINGEST_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            statuses = conn.execute(sa.select(Article.status)).scalars().all()  # type: ignore[call-overload]
            keys = set(conn.execute(sa.select(Entity.key)).scalars())  # type: ignore[call-overload]
    finally:
        engine.dispose()
    assert statuses == ["processed"] * 8
    assert {"steve witkoff", "moscow", "pokrovsk", "kremlin"} <= keys


def test_poll_refuses_a_missing_model(tmp_path: Path) -> None:
    env = env_for(tmp_path, "en_core_web_absent")
    cli(env, "init", cwd=tmp_path, timeout=180)
    run = cli(env, "poll", cwd=tmp_path, timeout=180)
    assert run.returncode == 2
    assert "en_core_web_absent" in run.stderr
    assert "install" in run.stderr


def test_run_polls_until_sigterm_and_stops_cleanly(
    tmp_path: Path, site: LoopbackServer, test_model: str
) -> None:
    env = env_for(tmp_path, test_model)
    cli(env, "init", cwd=tmp_path, timeout=180)
    cli(env, "feeds", "add", site.url("/feed.xml"), cwd=tmp_path, timeout=180)
    proc = subprocess.Popen(
        [str(EXE), "run", "--max-wait", "1"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for(lambda: processed(env) == 8, timeout=120)
        time.sleep(1.5)  # the summary line is printed right after the last article
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "stopped after" in err
    assert "8 new" in out
    assert len(site.requests_for("/feed.xml")) == 1  # not due again within the run
