"""A small newsroom for the web tests: feeds (one hostile), articles with entities, a dead
letter; an app over it; and a real uvicorn process on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from schemas.models import DeadLetter, Feed, utcnow
from tests.support.readside import add_article, add_feed, database

TOKEN = "test-token-0123456789abcdef"  # noqa: S105 - a test token
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
DEAD_LETTER = DeadLetter.__table__  # type: ignore[attr-defined]
FEED = Feed.__table__  # type: ignore[attr-defined]


@dataclass
class Newsroom:
    url: str
    feed_id: int
    hostile_feed_id: int
    article_id: int
    hostile_article_id: int
    letter_id: int
    entity_id: int


def build_newsroom(url: str) -> Newsroom:
    """Feeds, articles over the last days, entities, a failing feed and an open dead letter."""
    now = utcnow()
    with database(url) as engine, engine.begin() as conn:
        feed = add_feed(conn, "https://news.example/rss.xml")
        hostile = add_feed(conn, "https://evil.example/feed.xml")
        conn.execute(
            sa.update(FEED)
            .where(FEED.c.id == hostile)
            .values(
                title=HOSTILE,
                consecutive_failures=3,
                last_error=HOSTILE,
                active=False,
                deactivated_reason="410 Gone " + HOSTILE,
            )
        )
        first = add_article(
            conn,
            "Merkel meets Macron in Berlin",
            "Angela Merkel met Emmanuel Macron in Berlin on Monday. Merkel said the talks "
            "with Macron were good. Siemens was not there.",
            published=now - timedelta(hours=2),
            feed_id=feed,
            entities=[("PERSON", "Angela Merkel", 2), ("PERSON", "Emmanuel Macron", 2),
                      ("GPE", "Berlin", 1), ("ORG", "Siemens", 1)],
        )  # fmt: skip
        for i in range(30):
            add_article(
                conn,
                f"Berlin report number {i}",
                f"Berlin again: report {i} about the city and its mayor.",
                published=now - timedelta(hours=3 + i * 3),
                feed_id=feed,
                entities=[("GPE", "Berlin", 1)],
            )
        bad = add_article(
            conn,
            "Hostile " + HOSTILE,
            "Text with markup " + HOSTILE + " and Berlin in it.",
            published=now - timedelta(hours=1),
            feed_id=hostile,
            site="<b>evil</b>",
            entities=[("GPE", "Berlin", 1), ("ORG", HOSTILE, 1)],
        )
        letter = int(
            conn.execute(
                sa.insert(DEAD_LETTER).values(
                    stage="entities",
                    key="ab" * 32,
                    message=json.dumps({"v": 1, "url_hashes": ["ab" * 32]}),
                    error="PermanentError: model crashed " + HOSTILE,
                    attempts=3,
                )
            ).inserted_primary_key[0]
        )
        berlin = conn.execute(sa.text("SELECT id FROM entity WHERE name = 'Berlin'")).scalar()
    return Newsroom(url, feed, hostile, first, bad, letter, int(berlin))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def uvicorn_server(
    url: str, *, token: str | None = TOKEN, extra_env: dict[str, str] | None = None
) -> Iterator[str]:
    """``newsingest serve`` in its own process on a free loopback port; yields its base URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")}
    env.update({"NEWSINGEST_DATABASE_URL": url, "NEWSINGEST_LOG_LEVEL": "WARNING"})
    if token:
        env["NEWSINGEST_API_TOKEN"] = token
    env.update(extra_env or {})
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsingest", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parents[2],
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read().decode() if proc.stdout else ""
                raise RuntimeError(f"serve exited {proc.returncode}: {out}")
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("serve did not answer /healthz within 30 s")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()


class RecordingEnqueuer:
    """Stands in for the entity queue: remembers what replay sent."""

    def __init__(self) -> None:
        self.sent: list[list[str]] = []

    def send(self, url_hashes: list[str]) -> int:
        self.sent.append(list(url_hashes))
        return len(url_hashes)


def bearer(token: str = TOKEN) -> dict[str, Any]:
    return {"Authorization": f"Bearer {token}"}
