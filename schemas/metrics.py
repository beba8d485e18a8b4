"""Prometheus metrics of fetchers and workers (``prometheus_client``), all named ``newsingest_*``.

Metrics (``rate()`` of the counters gives throughput)::

    newsingest_polls_total{outcome}                 ok | not_modified | failed | locked |
                                                    deactivated (one per feed poll attempt;
                                                    a feed deactivated by a poll is counted
                                                    as deactivated, not also as failed)
    newsingest_articles_total{outcome}              fetch side: new | duplicate | not_article |
                                                    failed | retry; entity stage: processed |
                                                    skipped | dead_lettered
    newsingest_dead_letters_total{stage,reason}     dead-letter rows written (reason = slug)
    newsingest_task_duration_seconds{task}          histogram: Celery task, in-process entity
                                                    batch, a whole poll run
    newsingest_task_retries_total{task}             transient failures retried
    newsingest_nlp_articles_total                   articles run through the NER model
    newsingest_nlp_words_total                      their words (words/s = rate())
    newsingest_host_throttle_total{host,kind}       kind = wait (per-host delay made a request
                                                    wait) | penalty (429/503 backoff)
    newsingest_host_throttle_seconds_total{host}    seconds spent waiting for a host
    newsingest_queue_depth{queue}                   LLEN of the Celery queues (scrape time)
    newsingest_queue_unacked                        messages delivered but not acknowledged
    newsingest_broker_up                            1 if the last scrape reached Redis

Cardinality: ``host`` is one label value per fetched host, so the two host series grow with
the number of distinct sites (hundreds are fine; tens of thousands of one-off hosts are not:
aggregate with ``sum without (host)`` in recording rules, or drop the label at scrape time
with ``metric_relabel_configs``). Every other label takes a small fixed set of values.

Without a metrics port the metrics are plain in-memory counters of this process; with one,
``schemas.metrics_server.serve_metrics`` first switches every process to prometheus_client's
multiprocess mode (:func:`enable_multiprocess`) and serves their sum. Metric objects are
created on first use (:func:`metrics`), which is what lets the mode be chosen first.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, values
from prometheus_client.multiprocess import mark_process_dead

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
PREFIX = "newsingest"

POLL_OUTCOMES = ("ok", "not_modified", "failed", "locked", "deactivated")
FETCH_ARTICLE_OUTCOMES = ("new", "duplicate", "not_article", "failed", "retry")
WORKER_ARTICLE_OUTCOMES = ("processed", "skipped", "dead_lettered")
ARTICLE_OUTCOMES = FETCH_ARTICLE_OUTCOMES + WORKER_ARTICLE_OUTCOMES
THROTTLE_KINDS = ("wait", "penalty")
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


class Metrics:
    """The metric objects of this process (see the module docstring for the list)."""

    def __init__(self, registry: CollectorRegistry | None = REGISTRY) -> None:
        self.multiprocess = MULTIPROC_ENV in os.environ
        self.polls = Counter(
            f"{PREFIX}_polls", "Feed polls by outcome.", ["outcome"], registry=registry
        )
        self.articles = Counter(
            f"{PREFIX}_articles",
            "Articles by outcome (fetch side and entity stage).",
            ["outcome"],
            registry=registry,
        )
        self.dead_letters = Counter(
            f"{PREFIX}_dead_letters",
            "Dead-letter rows written, by stage and reason.",
            ["stage", "reason"],
            registry=registry,
        )
        self.task_duration = Histogram(
            f"{PREFIX}_task_duration_seconds",
            "Duration of tasks (Celery tasks, in-process entity batches, poll runs).",
            ["task"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.task_retries = Counter(
            f"{PREFIX}_task_retries", "Task runs retried after a transient failure.", ["task"],
            registry=registry,
        )  # fmt: skip
        self.nlp_articles = Counter(
            f"{PREFIX}_nlp_articles", "Articles run through the NER model.", registry=registry
        )
        self.nlp_words = Counter(
            f"{PREFIX}_nlp_words", "Words of the articles run through the NER model.",
            registry=registry,
        )  # fmt: skip
        self.host_throttle = Counter(
            f"{PREFIX}_host_throttle",
            "Per-host politeness events: wait (delay between requests), penalty (429/503).",
            ["host", "kind"],
            registry=registry,
        )
        self.host_throttle_seconds = Counter(
            f"{PREFIX}_host_throttle_seconds",
            "Seconds requests waited for their host's politeness delay or penalty.",
            ["host"],
            registry=registry,
        )
        # Known label values appear at 0 from the start, so rate() and absent() behave.
        for outcome in POLL_OUTCOMES:
            self.polls.labels(outcome)
        for outcome in ARTICLE_OUTCOMES:
            self.articles.labels(outcome)


_lock = threading.Lock()
_metrics: Metrics | None = None


def metrics() -> Metrics:
    """This process's metric objects, created on first use."""
    global _metrics
    with _lock:
        if _metrics is None:
            _metrics = Metrics()
        return _metrics


# Recording helpers ---------------------------------------------------------------------------


class PollCounts(Protocol):
    """What :func:`record_poll_summary` reads (``ingest.poll.PollSummary``)."""

    feeds_polled: int
    feeds_not_modified: int
    feeds_failed: int
    feeds_locked: int
    articles_new: int
    articles_duplicate: int
    articles_not_article: int
    articles_failed: int
    articles_retry: int


def record_poll_summary(summary: PollCounts, seconds: float | None = None) -> None:
    """Count one poll run's outcomes; ``seconds`` (the run's duration) is observed as
    ``newsingest_task_duration_seconds{task="poll"}`` when given."""
    m = metrics()
    deactivated = int(getattr(summary, "feeds_deactivated", 0))
    failed = summary.feeds_failed - deactivated
    ok = summary.feeds_polled - summary.feeds_not_modified - summary.feeds_failed
    for outcome, count in (
        ("ok", ok),
        ("not_modified", summary.feeds_not_modified),
        ("failed", failed),
        ("deactivated", deactivated),
        ("locked", summary.feeds_locked),
    ):
        if count > 0:
            m.polls.labels(outcome).inc(count)
    for outcome, count in (
        ("new", summary.articles_new),
        ("duplicate", summary.articles_duplicate),
        ("not_article", summary.articles_not_article),
        ("failed", summary.articles_failed),
        ("retry", summary.articles_retry),
    ):
        if count > 0:
            m.articles.labels(outcome).inc(count)
    if seconds is not None:
        m.task_duration.labels("poll").observe(seconds)


def record_articles(outcome: str, count: int = 1) -> None:
    """Count articles of the entity stage: processed, skipped or dead_lettered."""
    if count > 0:
        metrics().articles.labels(outcome).inc(count)


def record_dead_letter(stage: str, error: str, articles: int = 0) -> None:
    """One dead-letter row written (reason = the error's slug before ``:``) for ``articles``."""
    m = metrics()
    reason = error.split(":", 1)[0].strip()[:64] or "unknown"
    m.dead_letters.labels(stage, reason).inc()
    if articles > 0:
        m.articles.labels("dead_lettered").inc(articles)


def record_nlp(articles: int, words: int) -> None:
    """Articles (and their words) that went through the NER model."""
    m = metrics()
    if articles > 0:
        m.nlp_articles.inc(articles)
    if words > 0:
        m.nlp_words.inc(words)


def record_retry(task: str) -> None:
    metrics().task_retries.labels(task).inc()


def record_throttle_wait(host: str, seconds: float) -> None:
    """A request to ``host`` waited ``seconds`` for the per-host delay."""
    m = metrics()
    m.host_throttle.labels(host, "wait").inc()
    if seconds > 0:
        m.host_throttle_seconds.labels(host).inc(seconds)


def record_host_penalty(host: str, seconds: float = 0.0) -> None:
    """``host`` answered 429/503 and is paused for ``seconds`` (its Retry-After or backoff)."""
    m = metrics()
    m.host_throttle.labels(host, "penalty").inc()
    if seconds > 0:
        m.host_throttle_seconds.labels(host).inc(seconds)


@contextmanager
def task_timer(task: str) -> Iterator[None]:
    """Observe the duration of the block (also when it raises) under ``task``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        metrics().task_duration.labels(task).observe(time.perf_counter() - start)


def process_exit(pid: int | None = None) -> None:
    """A process that wrote multiprocess files is exiting (Celery ``worker_process_shutdown``):
    drop its live-gauge files. Counters and histograms stay counted. No-op otherwise."""
    path = os.environ.get(MULTIPROC_ENV)
    if path and os.path.isdir(path):
        mark_process_dead(os.getpid() if pid is None else pid, path)  # type: ignore[no-untyped-call]


def enable_multiprocess() -> str:
    """Switch this process (and the children it will start) to multiprocess mode; returns
    the folder. Must run before the first metric is used in this process."""
    with _lock:
        if _metrics is not None and not _metrics.multiprocess:
            raise RuntimeError("metrics already in use in single-process mode; enable first")
    path = os.environ.get(MULTIPROC_ENV)
    if not path:
        path = tempfile.mkdtemp(prefix="newsingest-metrics-")
        os.environ[MULTIPROC_ENV] = path
        owner = os.getpid()

        def cleanup() -> None:
            if os.getpid() == owner:  # not in a forked child that runs atexit handlers
                shutil.rmtree(path, ignore_errors=True)

        atexit.register(cleanup)
    os.makedirs(path, exist_ok=True)
    with _lock:
        # prometheus_client picks its value class when it is imported; pick again now.
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    return path
