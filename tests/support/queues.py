"""What the ingest side left on the real Redis queue, decoded."""

from __future__ import annotations

import base64
import json
from typing import Any

import redis

from schemas.queue import ENTITIES_QUEUE

__all__ = ["read_queue"]


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
