"""Thin Celery tasks: validate the message -> NLP -> store; retry policy from schemas.errors.

Transient failures (database unavailable, broker hiccup) retry with exponential backoff and
jitter; invalid messages, and messages past their retry budget, go to the dead-letter table
with the reason. Resources (engine, spaCy pipeline) are made once per worker process, after
the fork.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from celery.signals import worker_process_init, worker_process_shutdown

from schemas import metrics
from schemas.db import dispose_engines, get_engine, translate_errors
from schemas.errors import DatabaseUnavailable, InvalidMessage, TransientError, backoff
from schemas.messages import ExtractMessage
from schemas.queue import ENTITIES_QUEUE, ENTITIES_TASK, make_app
from schemas.settings import Settings, get_settings
from workers import dead_letters
from workers.entities import STAGE, process_batch
from workers.nlp import NlpPipeline, get_pipeline, resolve_model, tune_allocator

log = logging.getLogger(__name__)
app = make_app()


def countdown(retries: int, settings: Settings) -> float:
    """Seconds before a task's next try (``schemas.errors.backoff`` with the retry settings)."""
    return backoff(retries, base=settings.retry_backoff_base, cap=settings.retry_backoff_max)


def pipeline() -> NlpPipeline:
    return get_pipeline(resolve_model(get_settings()))


@worker_process_init.connect
def _init_process(**_: Any) -> None:
    # Connections made before the fork must not be shared; load spaCy once, here.
    dispose_engines()
    # A fetch-only worker (newsingest worker -Q fetch) never loads spaCy.
    if ENTITIES_QUEUE in os.environ.get("NEWSINGEST_WORKER_QUEUES", ENTITIES_QUEUE).split(","):
        tune_allocator()
        pipeline()


@worker_process_shutdown.connect
def _shutdown_process(**_: Any) -> None:
    dispose_engines()
    metrics.process_exit()  # multiprocess metrics: this child's live files are done


def _dead_letter(message: Any, error: str, attempts: int, url_hashes: list[str]) -> None:
    with translate_errors(), get_engine().begin() as conn:
        key = url_hashes[0] if len(url_hashes) == 1 else None
        dead_letters.dead_letter(
            conn, stage=STAGE, message=message, error=error, key=key, attempts=attempts
        )
        if url_hashes:
            dead_letters.mark_failed(conn, url_hashes, error.split(":", 1)[0])
    metrics.record_dead_letter(STAGE, error, articles=len(url_hashes))


def _dead_letter_or_retry(
    task: Any, settings: Settings, message: Any, error: str, attempts: int, hashes: list[str]
) -> None:
    """Dead-letter; if the database is down for that too, keep the message by retrying
    (a message acknowledged without its dead letter would be lost)."""
    try:
        _dead_letter(message, error, attempts, hashes)
    except DatabaseUnavailable as exc:
        dispose_engines()
        metrics.record_retry(ENTITIES_TASK)
        raise task.retry(
            exc=exc, countdown=countdown(task.request.retries, settings), max_retries=None
        ) from None


@app.task(name=ENTITIES_TASK, bind=True, max_retries=None)
def extract_entities(self: Any, message: Any) -> dict[str, int]:
    """Entities for a batch of stored articles (an ExtractMessage as JSON or a dict)."""
    with metrics.task_timer(ENTITIES_TASK):
        return _extract_entities(self, message)


def _extract_entities(self: Any, message: Any) -> dict[str, int]:
    settings = get_settings()
    try:
        if isinstance(message, str | bytes):
            msg = ExtractMessage.from_json(message)
        else:
            msg = ExtractMessage.from_json(_json(message))
    except InvalidMessage as exc:
        log.error("dead-lettering an invalid message: %s", exc)
        _dead_letter_or_retry(self, settings, message, str(exc), 1, [])
        return {"dead_lettered": 1}
    try:
        with translate_errors():
            outcome = process_batch(
                get_engine(), pipeline(), msg.url_hashes, batch_size=settings.nlp_batch_size
            )
    except TransientError as exc:
        retries = self.request.retries
        if retries >= settings.task_max_retries:
            _dead_letter_or_retry(
                self,
                settings,
                msg.model_dump(mode="json"),
                f"retries_exhausted: {type(exc).__name__}: {str(exc).splitlines()[0][:500]}",
                retries + 1,
                list(msg.url_hashes),
            )
            return {"dead_lettered": len(msg.url_hashes)}
        dispose_engines()  # reconnect from scratch next time
        metrics.record_retry(ENTITIES_TASK)
        raise self.retry(exc=exc, countdown=countdown(retries, settings)) from None
    stats = outcome.stats
    return {
        "processed": stats.processed,
        "skipped": stats.skipped,
        "already_done": stats.already_done,
        "missing": stats.missing,
        "failed": len(outcome.failed),
    }


def _json(message: Any) -> str:
    import json

    try:
        return json.dumps(message)
    except (TypeError, ValueError) as exc:
        raise InvalidMessage(f"not JSON-serialisable: {exc}", reason="invalid_json") from None
