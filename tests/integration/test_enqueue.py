"""Messages really arrive on the real Redis, in the shape the worker side expects."""

from __future__ import annotations

import pytest

from ingest.enqueue import CeleryEnqueuer
from schemas.messages import ExtractMessage
from schemas.queue import ENTITIES_TASK
from schemas.settings import load_settings
from tests.support.queues import read_queue


def hashes(n: int) -> list[str]:
    return [f"{i:064x}" for i in range(n)]


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
