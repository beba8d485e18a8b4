"""In-process mode (no broker): the entity stage runs in the fetcher's own process pool, so
one machine does the whole job with every core busy and no Redis."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool

from schemas.messages import batches
from schemas.settings import Settings
from workers.nlp import resolve_model
from workers.process import run_entity_batch


class LocalEnqueuer:
    """Runs entity batches on the executor the caller provides (None: in this thread)."""

    def __init__(self, settings: Settings, executor: Callable[[], Executor | None]) -> None:
        self.settings = settings
        self.executor = executor
        self.model = resolve_model(settings)

    def send(self, url_hashes: list[str]) -> int:
        args = [
            (
                self.settings.database_url,
                self.model,
                list(m.url_hashes),
                self.settings.nlp_batch_size,
            )
            for m in batches(url_hashes, self.settings.nlp_batch_size)
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
