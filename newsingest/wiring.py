"""The in-process wiring: which enqueuer the ingest side hands stored articles to, and what
the extraction pool preloads. The only place that sees both sides and chooses between them."""

from __future__ import annotations

from typing import Any

from ingest.enqueue import CeleryEnqueuer
from ingest.pool import Extractor
from schemas.settings import Settings

#: Imported by the extraction pool's forkserver before it forks (see newsingest.preload).
PRELOAD = ("newsingest.preload",)


def make_enqueuer(s: Settings, extractor: Extractor | None = None) -> Any:
    """Celery by name with a broker; else the entity stage in this process tree."""
    if s.broker_url is None:
        from workers.inprocess import LocalEnqueuer

        return LocalEnqueuer(s, extractor.executor if extractor is not None else lambda: None)
    return CeleryEnqueuer.from_settings(s)


def pool_model(s: Settings) -> str | None:
    """The model the extraction pool preloads: the entity stage runs there in-process."""
    if not s.in_process:
        return None
    from workers.nlp import resolve_model

    return resolve_model(s)


def make_extractor(s: Settings) -> Extractor:
    """The extraction pool, warmed with both sides' imports (and, in-process, the model)."""
    return Extractor(s.workers, model=pool_model(s), preload=PRELOAD)
