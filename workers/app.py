"""The Celery app: Redis broker, JSON only, explicit queues, late acks. No spaCy import here.

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

from schemas.messages import EXTRACT_QUEUE, EXTRACT_TASK, FETCH_QUEUE
from schemas.settings import Settings, get_settings


def celery_config(settings: Settings) -> dict[str, Any]:
    return {
        "broker_url": settings.broker_url,
        "result_backend": None,
        "task_ignore_result": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_queues": (Queue(FETCH_QUEUE), Queue(EXTRACT_QUEUE)),
        "task_default_queue": EXTRACT_QUEUE,
        "task_routes": {EXTRACT_TASK: {"queue": EXTRACT_QUEUE}},
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
