"""Hand due feeds to fetch workers: the part of `newsingest poll` / `newsingest scheduler`
that runs when a broker is configured.

Each pass claims the due feeds in the database (:func:`ingest.schedule.claim_due`: one
conditional UPDATE moves ``next_poll_at`` a lease ahead and returns the rows it moved), then
sends one ``newsingest.poll_feed`` task per feed to the ``fetch`` queue. Two schedulers, on one
machine or several, never hand out the same feed twice: the second one's UPDATE finds the rows
already moved. Feeds whose task cannot be sent are released at once; a task that is lost after
sending (Redis lost its data) is covered by the lease: the feed is due again when it ends.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine

from ingest import schedule
from ingest.articles import queued_older_than
from schemas.db import translate_errors
from schemas.errors import BrokerUnavailable, DatabaseUnavailable
from schemas.models import utcnow
from schemas.queue import FETCH_QUEUE, POLL_TASK, make_app, send
from schemas.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class SchedulerPass:
    enqueued: int = 0
    swept: int = 0


class PollTaskSender:
    """Sends ``newsingest.poll_feed`` tasks by name (the scheduler never imports the workers)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    @classmethod
    def from_settings(cls, settings: Settings) -> PollTaskSender:
        return cls(make_app(settings))

    def send(self, feed_id: int) -> None:
        send(self.app, POLL_TASK, [feed_id], FETCH_QUEUE)

    def close(self) -> None:
        self.app.close()


def enqueue_due(
    settings: Settings,
    engine: Engine,
    sender: PollTaskSender,
    *,
    everything: bool = False,
    urls: list[str] | None = None,
    limit: int = 1000,
) -> int:
    """One scheduling pass: claim due feeds and send a poll task for each. Returns the count.

    ``everything`` / ``urls`` (``newsingest poll --all`` / ``--feed``) send those feeds
    whether due or not; they are still claimed, so a concurrent scheduler skips them.
    """
    now = utcnow()
    with engine.begin() as conn:
        if everything or urls is not None:
            wanted = schedule.due_feeds(conn, everything=True, urls=urls)
            # Due "now" for the claim: move next_poll_at back so claim_due takes them.
            schedule.release_claim(conn, [f.id for f in wanted], now=now)
        claimed = schedule.claim_due(conn, lease=settings.lock_ttl, limit=limit, now=now)
        if urls is not None:
            keep = {f.url for f in wanted}
            extra = [fid for fid, url in claimed if url not in keep]
            schedule.release_claim(conn, extra, now=now)
            claimed = [(fid, url) for fid, url in claimed if url in keep]
    sent = 0
    try:
        for feed_id, _url in claimed:
            sender.send(feed_id)
            sent += 1
    finally:
        unsent = [fid for fid, _ in claimed[sent:]]
        if unsent:
            with engine.begin() as conn:
                schedule.release_claim(conn, unsent)
    return sent


def sweep(settings: Settings, engine: Engine, enqueuer: Any) -> int:
    """Re-send articles stored but still unprocessed long after (a lost extract message)."""
    with engine.begin() as conn:
        stale = queued_older_than(conn, timedelta(seconds=max(900, settings.lock_ttl)))
    return int(enqueuer.send(stale)) if stale else 0


def run_scheduler(
    settings: Settings,
    engine: Engine,
    sender: PollTaskSender,
    enqueuer: Any,
    stop: threading.Event,
    *,
    on_pass: Any = None,
) -> int:
    """Enqueue due feeds every ``scheduler_interval`` seconds (sooner if a feed is due
    sooner) until ``stop`` is set; sweeps lost extract messages each pass. Returns passes."""
    passes = 0
    while not stop.is_set():
        result = SchedulerPass()
        try:
            with translate_errors():
                result.enqueued = enqueue_due(settings, engine, sender)
                result.swept = sweep(settings, engine, enqueuer)
        except (BrokerUnavailable, DatabaseUnavailable) as exc:
            log.warning("scheduler pass failed, will retry: %s", exc)
        passes += 1
        if on_pass is not None:
            on_pass(result)
        try:
            with translate_errors(), engine.begin() as conn:
                soonest = schedule.next_due(conn)
        except DatabaseUnavailable:
            soonest = None
        wait = settings.scheduler_interval
        if soonest is not None:
            wait = min(wait, max(0.5, (soonest - utcnow()).total_seconds()))
        stop.wait(wait)
    return passes
