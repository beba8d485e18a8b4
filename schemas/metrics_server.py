"""Serving the metrics: the ``/metrics`` endpoint and the queue depth read at scrape time.

Multiprocess mode. A Celery prefork worker (and in-process mode's entity stage) counts in
child processes, which a single in-memory registry of the parent cannot see. With a metrics
port, :func:`serve_metrics` switches the process to prometheus_client's multiprocess mode
*before any metric object exists*: it sets ``PROMETHEUS_MULTIPROC_DIR`` (a fresh temporary
folder, removed at exit, unless the variable is already set: then that folder is used and must
be emptied between runs), every process inherits the variable and writes its values to its own
``<type>_<pid>.db`` file there, and the HTTP endpoint, served by a thread of the parent, sums
all files with a ``MultiProcessCollector`` at each scrape. Counters of a child that exited
stay counted (files are kept); ``schemas.metrics.process_exit`` (wired to Celery's
``worker_process_shutdown``) calls ``mark_process_dead`` for the exiting child. In
multiprocess mode there are no ``process_*``/``python_*`` default metrics.

Without a metrics port nothing is served and the metrics are plain in-memory counters.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import start_http_server
from prometheus_client.multiprocess import MultiProcessCollector

from schemas.metrics import MULTIPROC_ENV, PREFIX, enable_multiprocess
from schemas.queue import ENTITIES_QUEUE, FETCH_QUEUE
from schemas.settings import Settings

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

log = logging.getLogger(__name__)

QUEUES = (ENTITIES_QUEUE, FETCH_QUEUE)
#: kombu's Redis transport: priority sub-queues are ``<queue>\x06\x16<priority>``.
KOMBU_PRIORITY_SEP = "\x06\x16"
KOMBU_PRIORITY_STEPS = (3, 6, 9)
KOMBU_UNACKED_KEY = "unacked"


# Queue depth, read from Redis at scrape time --------------------------------------------------


class QueueDepthCollector:
    """``newsingest_queue_depth{queue}``, ``newsingest_queue_unacked``, ``newsingest_broker_up``:
    LLEN of each Celery queue (priority sub-queues included) and HLEN of kombu's ``unacked``
    hash, read when Prometheus scrapes. A broker that does not answer within ``timeout``
    seconds gives ``newsingest_broker_up 0`` and no depth (never a stale number)."""

    def __init__(
        self, broker_url: str, queues: Iterable[str] = QUEUES, *, timeout: float = 1.0
    ) -> None:
        import redis

        self.queues = tuple(queues)
        self.client = redis.Redis.from_url(
            broker_url, socket_timeout=timeout, socket_connect_timeout=timeout
        )

    def read(self) -> tuple[dict[str, int], int]:
        """``({queue: depth}, unacked)``; raises redis.RedisError when Redis is unreachable."""
        return queue_depths(self.client, self.queues)

    def collect(self) -> Iterator[Metric]:
        import redis

        up = GaugeMetricFamily(f"{PREFIX}_broker_up", "1 if Redis answered this scrape.")
        try:
            depths, unacked = self.read()
        except redis.RedisError as exc:
            log.warning("queue depth: broker unreachable: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        depth = GaugeMetricFamily(
            f"{PREFIX}_queue_depth", "Messages waiting in a Celery queue.", labels=["queue"]
        )
        for queue, count in depths.items():
            depth.add_metric([queue], count)
        yield depth
        yield GaugeMetricFamily(
            f"{PREFIX}_queue_unacked",
            "Messages delivered to a worker and not yet acknowledged (all queues).",
            value=unacked,
        )

    def close(self) -> None:
        self.client.close()


def queue_depths(client: Any, queues: Iterable[str] = QUEUES) -> tuple[dict[str, int], int]:
    """LLEN of each queue (with kombu's priority sub-queues) and HLEN of ``unacked``."""
    names = tuple(queues)
    pipe = client.pipeline(transaction=False)
    for queue in names:
        pipe.llen(queue)
        for step in KOMBU_PRIORITY_STEPS:
            pipe.llen(f"{queue}{KOMBU_PRIORITY_SEP}{step}")
    pipe.hlen(KOMBU_UNACKED_KEY)
    replies = [int(r) for r in pipe.execute()]
    per = 1 + len(KOMBU_PRIORITY_STEPS)
    depths = {q: sum(replies[i * per : (i + 1) * per]) for i, q in enumerate(names)}
    return depths, replies[-1]


# Serving ---------------------------------------------------------------------------------------


class _Local:
    """This process's own registry as a collector of another registry (single-process mode)."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def build_registry(settings: Settings) -> tuple[CollectorRegistry, list[QueueDepthCollector]]:
    """What the endpoint serves: every process's files in multiprocess mode (else this
    process's metrics), plus the queue depth when a broker is configured."""
    registry = CollectorRegistry()
    path = os.environ.get(MULTIPROC_ENV)
    if path:
        MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Local())
    extra: list[QueueDepthCollector] = []
    if settings.broker_url:
        collector = QueueDepthCollector(settings.broker_url)
        registry.register(collector)
        extra.append(collector)
    return registry, extra


@dataclass
class MetricsServer:
    """A running ``/metrics`` endpoint (a daemon thread); ``close()`` stops it."""

    httpd: WSGIServer
    thread: threading.Thread
    collectors: list[QueueDepthCollector]

    @property
    def port(self) -> int:
        return int(self.httpd.server_port)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
        for collector in self.collectors:
            collector.close()


def start_metrics_server(
    settings: Settings,
    *,
    addr: str = "0.0.0.0",  # noqa: S104 - Prometheus scrapes from another host or container
    registry: CollectorRegistry | None = None,
) -> MetricsServer | None:
    """Serve metrics on ``settings.metrics_port`` (0 = any free port; see ``.port``).
    None, and nothing started, when the setting is unset."""
    if settings.metrics_port is None:
        return None
    collectors: list[QueueDepthCollector] = []
    if registry is None:
        registry, collectors = build_registry(settings)
    httpd, thread = start_http_server(settings.metrics_port, addr=addr, registry=registry)
    server = MetricsServer(httpd, thread, collectors)
    log.info("metrics on http://%s:%d/metrics", addr, server.port)
    return server


def serve_metrics(
    settings: Settings,
    *,
    addr: str = "0.0.0.0",  # noqa: S104 - Prometheus scrapes from another host or container
) -> MetricsServer | None:
    """For ``worker``, ``scheduler`` and ``run``: multiprocess mode, then the endpoint on
    ``NEWSINGEST_METRICS_PORT``. Call it early: before the Celery worker or the process pool
    starts and before anything is counted. No-op (None) when the port is unset."""
    if settings.metrics_port is None:
        return None
    enable_multiprocess()
    return start_metrics_server(settings, addr=addr)
