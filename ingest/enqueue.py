"""Hand stored articles to the entity stage: Celery tasks sent by name to the entities queue.

The ingest side never imports the task code (nor spaCy): it sends ``ENTITIES_TASK`` by name
with an :class:`~schemas.messages.ExtractMessage` as its only argument.
"""

from __future__ import annotations

from typing import Any, Protocol

from schemas.messages import batches
from schemas.queue import ENTITIES_QUEUE, ENTITIES_TASK, make_app, send
from schemas.settings import Settings

BATCH_SIZE = 16


class Enqueuer(Protocol):
    """Hands stored articles (by URL hash) to the entity stage; returns how many it sent."""

    def send(self, url_hashes: list[str]) -> int: ...


class NoEnqueuer:
    """No broker configured: articles stay ``queued`` in the database."""

    def send(self, url_hashes: list[str]) -> int:
        return 0


class CeleryEnqueuer:
    """Sends one task per batch of up to ``batch_size`` articles."""

    def __init__(self, app: Any, *, batch_size: int = BATCH_SIZE) -> None:
        self.app = app
        self.batch_size = batch_size

    @classmethod
    def from_settings(cls, settings: Settings) -> CeleryEnqueuer:
        return cls(make_app(settings))

    def send(self, url_hashes: list[str]) -> int:
        sent = 0
        for message in batches(url_hashes, self.batch_size):
            send(self.app, ENTITIES_TASK, [message.model_dump(mode="json")], ENTITIES_QUEUE)
            sent += len(message.url_hashes)
        return sent

    def close(self) -> None:
        self.app.close()
