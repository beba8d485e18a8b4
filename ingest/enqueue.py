"""Hand stored articles to the entity stage: Celery tasks sent by name to the extract queue.

The ingest side never imports the task code (nor spaCy): it sends ``EXTRACT_TASK`` by name
with an :class:`~schemas.messages.ExtractMessage` as its only argument.
"""

from __future__ import annotations

from typing import Any

from schemas.errors import BrokerUnavailable
from schemas.messages import EXTRACT_QUEUE, EXTRACT_TASK, batches
from schemas.settings import Settings

BATCH_SIZE = 16


class CeleryEnqueuer:
    """Sends one task per batch of up to ``batch_size`` articles."""

    def __init__(self, app: Any, *, batch_size: int = BATCH_SIZE) -> None:
        self.app = app
        self.batch_size = batch_size

    @classmethod
    def from_settings(cls, settings: Settings) -> CeleryEnqueuer:
        from workers.app import make_app

        return cls(make_app(settings))

    def send(self, url_hashes: list[str]) -> int:
        from kombu.exceptions import OperationalError

        sent = 0
        try:
            for message in batches(url_hashes, self.batch_size):
                self.app.send_task(
                    EXTRACT_TASK,
                    args=[message.model_dump(mode="json")],
                    queue=EXTRACT_QUEUE,
                    retry=True,
                    retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5},
                )
                sent += len(message.url_hashes)
        except OperationalError as exc:
            raise BrokerUnavailable(f"cannot send to the broker: {exc}") from exc
        return sent

    def close(self) -> None:
        self.app.close()
