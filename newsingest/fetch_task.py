"""The fetch-queue task: poll one feed in a fetch worker process. It runs the ingest side inside
a Celery worker, so it lives here, where both sides may be seen; the app it registers on is the
workers' (``workers.tasks.app``), which then carries both tasks.

``newsingest poll`` (cron) and ``newsingest scheduler`` only claim due feeds and send one
``newsingest.poll_feed`` task per feed (``ingest.dispatch``); fetch workers on any number of
machines run them. Inside a task the poll is the same code as the in-process poll
(``ingest.poll.run_poll``): the per-feed lock, conditional GET, article claims, extraction
(here in the task's own process: the worker's prefork pool is the parallelism), and the
entity messages for the entity stage. Politeness towards each host is shared through Redis
by every fetch process on every machine (``ingest.politeness``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ingest.enqueue import CeleryEnqueuer
from ingest.poll import run_poll
from schemas import metrics
from schemas.db import get_engine, translate_errors
from schemas.errors import InvalidMessage, TransientError
from schemas.queue import POLL_TASK
from schemas.settings import get_settings
from workers import dead_letters
from workers.tasks import app, countdown

celery_app = app  # the workers' app, with this module's task registered on it

log = logging.getLogger(__name__)


def parse_feed_id(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw <= 0:
        raise InvalidMessage(f"poll_feed wants a positive feed id, got {raw!r}")
    return raw


@app.task(name=POLL_TASK, bind=True, max_retries=3)
def poll_feed(self: Any, raw_feed_id: Any) -> dict[str, int]:
    """Poll one feed; transient database/broker trouble retries (the feed lock and the
    article claims make a repeated poll harmless)."""
    settings = get_settings()
    engine = get_engine(settings.database_url)
    try:
        feed_id = parse_feed_id(raw_feed_id)
    except InvalidMessage as exc:
        with engine.begin() as conn:
            dead_letters.dead_letter(
                conn, stage="fetch", message=[raw_feed_id], error=str(exc), key=None
            )
        log.error("dead-lettered poll task: %s", exc)
        return {}
    enqueuer = CeleryEnqueuer(app)
    started = time.monotonic()
    try:
        with translate_errors():
            summary = asyncio.run(run_poll(settings, engine, enqueuer, ids=[feed_id], processes=0))
    except TransientError as exc:
        # Nothing half-done is lost: the feed's lock expires and its claim lease ends.
        log.warning("poll of feed %s failed, retrying: %s", feed_id, exc)
        raise self.retry(exc=exc, countdown=countdown(self.request.retries, settings)) from None
    metrics.record_poll_summary(summary, seconds=time.monotonic() - started)
    return summary.as_dict()
