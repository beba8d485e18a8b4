"""In-process mode (no broker): the entity stage runs in the fetcher's own process pool, so
one machine does the whole job with every core busy and no Redis."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool

from schemas import metrics
from schemas.db import dispose_engines, get_engine, translate_errors
from schemas.errors import DatabaseUnavailable, backoff
from schemas.messages import batches
from schemas.settings import Settings
from workers.entities import process_batch
from workers.nlp import get_pipeline, resolve_model

log = logging.getLogger(__name__)
#: Task label of an in-process entity batch in ``newsingest_task_duration_seconds``.
INPROCESS_TASK = "newsingest.entity_batch_inprocess"
#: Tries of a batch whose database is unavailable before it is left for ``newsingest sweep``:
#: few, since a pool process waiting here holds up the poll.
INPROCESS_RETRIES = 3


def run_entity_batch(
    database_url: str,
    model: str,
    url_hashes: Sequence[str],
    batch_size: int,
    backoff_base: float,
    backoff_max: float,
    retries: int = INPROCESS_RETRIES,
) -> int:
    """One batch in a pool process (engine and model cached per process).

    An unavailable database is retried a few times with backoff; if it persists the articles
    stay ``queued`` for ``newsingest sweep`` (nothing is lost). Returns the articles handled.
    """
    for attempt in range(retries + 1):
        try:
            with metrics.task_timer(INPROCESS_TASK), translate_errors():
                outcome = process_batch(
                    get_engine(database_url),
                    get_pipeline(model),
                    url_hashes,
                    batch_size=batch_size,
                )
        except DatabaseUnavailable as exc:
            if attempt == retries:
                log.error("entity batch left queued after %d tries: %s", attempt + 1, exc)
                return 0
            metrics.record_retry(INPROCESS_TASK)
            dispose_engines()
            time.sleep(backoff(attempt, base=backoff_base, cap=backoff_max))
            continue
        stats = outcome.stats
        return stats.processed + stats.skipped + len(outcome.failed)
    return 0


class LocalEnqueuer:
    """Runs entity batches on the executor the caller provides (None: in this thread)."""

    def __init__(self, settings: Settings, executor: Callable[[], Executor | None]) -> None:
        self.settings = settings
        self.executor = executor
        self.model = resolve_model(settings)

    def send(self, url_hashes: list[str]) -> int:
        settings = self.settings
        args = [
            (
                settings.database_url,
                self.model,
                list(m.url_hashes),
                settings.nlp_batch_size,
                settings.retry_backoff_base,
                settings.retry_backoff_max,
            )
            for m in batches(url_hashes, settings.nlp_batch_size)
        ]
        pool = self.executor()
        if pool is None:
            return sum(run_entity_batch(*a) for a in args)
        futures = [pool.submit(run_entity_batch, *a) for a in args]
        done = 0
        for future in futures:
            try:
                done += future.result()
            except BrokenProcessPool:
                # A pool process died: its articles stay queued for `newsingest sweep`.
                continue
        return done
