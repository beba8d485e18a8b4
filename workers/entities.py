"""One batch of the entity stage, the same in a Celery worker and in in-process mode:
read the stored articles, pick those in a language the model covers, run NER, store.

An article the model raises on (:class:`NlpFailed`) is dead-lettered on its own; the rest of
its batch is stored. Database errors propagate: the caller retries the batch.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from schemas import metrics
from schemas.errors import PermanentError
from schemas.models import ArticleStatus
from workers import dead_letters, store
from workers.nlp import NlpPipeline, detect_language

log = logging.getLogger(__name__)
STAGE = "extract"
#: Deliveries of one article that may end with the worker process dead before it is
#: dead-lettered (a text that makes the model crash the process, not just raise).
MAX_NLP_DELIVERIES = 3


class NlpFailed(PermanentError):
    """The model raised on this text: permanent for this article (dead-lettered)."""

    reason = "nlp_failed"


@dataclass
class BatchOutcome:
    stats: store.StoreStats = field(default_factory=store.StoreStats)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (url_hash, error)


def process_batch(
    engine: Engine, pipeline: NlpPipeline, url_hashes: Sequence[str], *, batch_size: int = 16
) -> BatchOutcome:
    """Entities for the given articles; an article the model crashes on is dead-lettered."""
    outcome = BatchOutcome()
    with engine.connect() as conn:
        pending = store.load_pending(conn, url_hashes)
    todo = [a for a in pending.values() if not store.is_done(a, pipeline.name, pipeline.version)]
    outcome.stats.already_done = len(pending) - len(todo)
    outcome.stats.missing = len(set(url_hashes) - set(pending))
    results: list[store.ArticleResult] = []
    runnable: list[tuple[store.PendingArticle, str | None]] = []
    for article in todo:
        language = article.language or detect_language(article.text)
        if not article.text.strip():
            results.append(
                store.ArticleResult(article.url_hash, ArticleStatus.SKIPPED, reason="no_text")
            )
        elif not pipeline.covers(language):
            results.append(
                store.ArticleResult(
                    article.url_hash,
                    ArticleStatus.SKIPPED,
                    language=language,
                    reason=f"language_not_covered: {language or 'unknown'} "
                    f"(model covers {', '.join(sorted(pipeline.languages))})",
                )
            )
        else:
            runnable.append((article, language))
    failed: list[tuple[str, str]] = []
    if any(article.nlp_attempts for article, _ in runnable):
        # An earlier delivery died in the entity stage: go one article at a time, each
        # counted and stored on its own, so the one that kills the process is found.
        _one_by_one(engine, pipeline, runnable, outcome)
    elif runnable:
        with engine.begin() as conn:
            store.bump_nlp_attempts(conn, [a.id for a, _ in runnable])
        results += _run_nlp(pipeline, runnable, batch_size, failed)
    _store(engine, pipeline, results, failed, outcome)
    return outcome


def _one_by_one(
    engine: Engine,
    pipeline: NlpPipeline,
    runnable: list[tuple[store.PendingArticle, str | None]],
    outcome: BatchOutcome,
) -> None:
    for article, language in runnable:
        with engine.begin() as conn:
            count = store.bump_nlp_attempts(conn, [article.id]).get(article.id, 0)
        failed: list[tuple[str, str]] = []
        found: list[store.ArticleResult] = []
        if count > MAX_NLP_DELIVERIES:
            died = count - 1
            failed.append((article.url_hash, f"worker_lost: the entity stage died {died} times"))
        else:
            found = _run_nlp(pipeline, [(article, language)], 1, failed)
        _store(engine, pipeline, found, failed, outcome)


def _store(
    engine: Engine,
    pipeline: NlpPipeline,
    results: list[store.ArticleResult],
    failed: list[tuple[str, str]],
    outcome: BatchOutcome,
) -> None:
    """One transaction: results, and dead letters for the articles in ``failed``."""
    if not results and not failed:
        return
    processed = skipped = 0
    with engine.begin() as conn:
        if results:
            stats = store.store_results(
                conn, results, model=pipeline.name, version=pipeline.version
            )
            outcome.stats.processed += stats.processed
            outcome.stats.skipped += stats.skipped
            processed, skipped = stats.processed, stats.skipped
            outcome.stats.already_done += stats.already_done
            outcome.stats.entities += stats.entities
            outcome.stats.mentions += stats.mentions
        for url_hash, error in failed:
            dead_letters.dead_letter(
                conn,
                stage=STAGE,
                key=url_hash,
                message={"v": 1, "url_hashes": [url_hash]},
                error=error,
            )
        if failed:
            reasons = {error.split(":", 1)[0] for _, error in failed}
            dead_letters.mark_failed(conn, [h for h, _ in failed], "/".join(sorted(reasons)))
    outcome.failed += failed
    # Counted once the transaction is committed.
    metrics.record_articles("processed", processed)
    metrics.record_articles("skipped", skipped)
    for _, error in failed:
        metrics.record_dead_letter(STAGE, error, articles=1)


def _run_nlp(
    pipeline: NlpPipeline,
    runnable: list[tuple[store.PendingArticle, str | None]],
    batch_size: int,
    failed: list[tuple[str, str]],
) -> list[store.ArticleResult]:
    if not runnable:
        return []
    texts = [a.text for a, _ in runnable]
    languages = [language for _, language in runnable]
    try:
        found = pipeline.entities(texts, batch_size=batch_size, languages=languages)
    except Exception:  # find the article that breaks the model, below
        log.warning("NER failed on a batch of %d; retrying one by one", len(texts))
        found = []
        for article, language in runnable:
            try:
                found.append(pipeline.entities([article.text], languages=[language])[0])
            except Exception as exc:  # a model crash is this article's fault
                error = NlpFailed(f"{type(exc).__name__}: {exc}")
                failed.append((article.url_hash, str(error)))
                found.append(None)  # type: ignore[arg-type]
    done = [
        (article, language, ents)
        for (article, language), ents in zip(runnable, found, strict=True)
        if ents is not None
    ]
    metrics.record_nlp(len(done), sum(len(article.text.split()) for article, _, _ in done))
    return [
        store.ArticleResult(
            article.url_hash, ArticleStatus.PROCESSED, entities=tuple(ents), language=language
        )
        for article, language, ents in done
    ]
