"""Queue messages: versioned JSON batches, refused with a reason when malformed; an
unreachable broker is a transient error (the real Redis is in tests/integration)."""

from __future__ import annotations

import json

import pytest

from ingest.enqueue import CeleryEnqueuer
from schemas.errors import BrokerUnavailable, InvalidMessage
from schemas.messages import ExtractMessage, batches
from schemas.settings import load_settings


def hashes(n: int) -> list[str]:
    return [f"{i:064x}" for i in range(n)]


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


def test_an_unreachable_broker_is_a_transient_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSINGEST_BROKER_URL", "redis://127.0.0.1:1/0")
    enqueuer = CeleryEnqueuer.from_settings(load_settings())
    try:
        with pytest.raises(BrokerUnavailable):
            enqueuer.send(hashes(1))
    finally:
        enqueuer.close()
