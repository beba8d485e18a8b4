"""The queue contract both sides share: Celery app configuration, queue and task names, and
one ``send`` that owns the retry policy of publishing.

The ingest side sends tasks by name through :func:`send` and never imports the worker code
(nor spaCy); the workers register their tasks on an app made by :func:`make_app`.

Delivery: tasks are acknowledged after they finish (``task_acks_late``) and put back when the
worker running them dies (``task_reject_on_worker_lost``), which is safe because every task is
idempotent (keyed by the article's URL hash). Prefetch 1 keeps a slow batch from holding
others hostage; hard and soft time limits stop a stuck task; ``worker_max_memory_per_child``
recycles a process that grew too large (spaCy and lxml allocate a lot).
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu import Queue

from schemas.errors import BrokerUnavailable
from schemas.settings import Settings, get_settings

ENTITIES_QUEUE = "entities"
"""The entity stage: stored articles waiting for NER (``ENTITIES_TASK``)."""
ENTITIES_TASK = "newsingest.extract_entities"
FETCH_QUEUE = "fetch"
"""Feeds handed out by the scheduler, polled by fetch workers (``POLL_TASK``)."""
POLL_TASK = "newsingest.poll_feed"
"""Fetch-queue task: poll one feed (its id is the only argument, an int)."""
QUEUES = (ENTITIES_QUEUE, FETCH_QUEUE)

# Publishing retries a few times within about a second, then the caller sees
# BrokerUnavailable: the database still holds the work, so nothing is lost by giving up.
PUBLISH_RETRY_POLICY = {"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5}


def celery_config(settings: Settings) -> dict[str, Any]:
    return {
        "broker_url": settings.broker_url,
        "result_backend": None,
        "task_ignore_result": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_queues": tuple(Queue(name) for name in QUEUES),
        "task_default_queue": ENTITIES_QUEUE,
        "task_routes": {
            ENTITIES_TASK: {"queue": ENTITIES_QUEUE},
            POLL_TASK: {"queue": FETCH_QUEUE},
        },
        "task_create_missing_queues": False,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_soft_time_limit": settings.task_time_limit,
        "task_time_limit": settings.task_time_limit + 60,
        "worker_max_memory_per_child": settings.worker_max_memory_mb * 1024,  # KiB
        "worker_hijack_root_logger": False,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {
            "visibility_timeout": settings.visibility_timeout,
            # kombu scans for messages of dead workers every interval * throttle seconds;
            # its default (10 s * 10) would add up to 100 s to the visibility timeout.
            "unacked_restore_interval": 10,
            "unacked_restore_throttle": 1,
        },
        "timezone": "UTC",
        "enable_utc": True,
    }


def make_app(settings: Settings | None = None) -> Celery:
    settings = settings or get_settings()
    app = Celery("newsingest")
    app.conf.update(celery_config(settings))
    return app


def send(app: Any, task: str, args: list[Any], queue: str) -> None:
    """Publish ``task`` by name; broker trouble becomes :class:`BrokerUnavailable`."""
    from kombu.exceptions import OperationalError

    try:
        app.send_task(task, args=args, queue=queue, retry=True, retry_policy=PUBLISH_RETRY_POLICY)
    except OperationalError as exc:
        raise BrokerUnavailable(f"cannot send to the broker: {exc}") from exc


def consumers(app: Any, queue: str, *, timeout: float = 1.0) -> list[str] | None:
    """The workers consuming ``queue``, asked over the broker (waits ``timeout`` s for their
    replies); None when the broker cannot be asked."""
    try:
        replies = app.control.inspect(timeout=timeout).active_queues() or {}
    except Exception:  # kombu's connection errors are not one class
        return None
    return sorted(
        worker
        for worker, queues in replies.items()
        if any(q.get("name") == queue for q in queues or [])
    )
