"""Messages really arrive on the real Redis, in the shape the worker side expects."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import redis

from ingest.enqueue import CeleryEnqueuer
from schemas.errors import BrokerUnavailable, InvalidMessage
from schemas.messages import ExtractMessage, batches
from schemas.queue import ENTITIES_QUEUE, ENTITIES_TASK
from schemas.settings import load_settings


def hashes(n: int) -> list[str]:
    return [f"{i:064x}" for i in range(n)]


def read_queue(url: str, queue: str = ENTITIES_QUEUE) -> list[dict[str, Any]]:
    """Decode the kombu envelopes Celery left on the Redis list ``queue``."""
    client = redis.Redis.from_url(url)
    try:
        raw = client.lrange(queue, 0, -1)
    finally:
        client.close()
    out = []
    for item in reversed(raw):  # LPUSH: oldest last
        envelope = json.loads(item)
        body = envelope["body"]
        if envelope["properties"].get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args, kwargs, _embed = json.loads(body)
        out.append({"task": envelope["headers"]["task"], "args": args, "kwargs": kwargs})
    return out


def test_messages_are_versioned_json_batches() -> None:
    msgs = batches(hashes(40), size=16)
    assert [len(m.url_hashes) for m in msgs] == [16, 16, 8]
    data = json.loads(msgs[0].to_json())
    assert data["v"] == 1
    assert ExtractMessage.from_json(msgs[0].to_json()) == msgs[0]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("{not json", "invalid_json"),
        ('{"v": 2, "url_hashes": ["' + "0" * 64 + '"]}', "bad_version"),
        ('{"v": 1, "url_hashes": []}', "invalid_schema"),
        ('{"v": 1, "url_hashes": ["nothex"]}', "invalid_schema"),
        ('{"v": 1, "url_hashes": ["' + "0" * 64 + '"], "extra": 1}', "invalid_schema"),
        ("[1, 2]", "invalid_schema"),
    ],
)
def test_invalid_messages_are_refused_with_a_reason(payload: str, reason: str) -> None:
    with pytest.raises(InvalidMessage) as info:
        ExtractMessage.from_json(payload)
    assert info.value.reason == reason


@pytest.mark.integration
def test_tasks_arrive_on_the_extract_queue_by_name(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSINGEST_BROKER_URL", redis_url)
    enqueuer = CeleryEnqueuer.from_settings(load_settings())
    try:
        assert enqueuer.send(hashes(20)) == 20
    finally:
        enqueuer.close()
    tasks = read_queue(redis_url)
    assert [t["task"] for t in tasks] == [ENTITIES_TASK, ENTITIES_TASK]
    got = [h for t in tasks for h in ExtractMessage.model_validate(t["args"][0]).url_hashes]
    assert got == hashes(20)


def test_an_unreachable_broker_is_a_transient_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSINGEST_BROKER_URL", "redis://127.0.0.1:1/0")
    enqueuer = CeleryEnqueuer.from_settings(load_settings())
    try:
        with pytest.raises(BrokerUnavailable):
            enqueuer.send(hashes(1))
    finally:
        enqueuer.close()
