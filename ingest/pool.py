"""The extraction pool: trafilatura off the event loop, in forkserver processes warmed once.

Every pool process is forked from the forkserver, so what the preload modules import and warm
is paid once per pool, not once per process. The composition root adds its own preload module
(in-process mode also loads the spaCy pipeline there); on its own the ingest side preloads
:mod:`ingest.preload`.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace

from ingest.extract import DEFAULT_OPTIONS, ExtractedArticle, decode_html, extract_article
from schemas.errors import FetchTransient

PRELOAD = ("ingest.preload",)
#: Read in the forkserver by the composition root's preload: the spaCy pipeline to load there.
PRELOAD_MODEL_ENV = "NEWSINGEST__PRELOAD_MODEL"


#: A page whose feed entry has a date: the feed's date is stored, so no page-date search.
FEED_DATED_OPTIONS = replace(DEFAULT_OPTIONS, page_date=False)


def extract_page(
    body: bytes, charset: str | None, url: str, page_date: bool = True
) -> ExtractedArticle:
    """Decode and extract one page; runs in a worker process (module level, so it pickles).
    ``page_date`` False: the entry's feed dates it (see ``ExtractOptions.page_date``)."""
    options = DEFAULT_OPTIONS if page_date else FEED_DATED_OPTIONS
    return extract_article(decode_html(body, charset), url=url, options=options)


def _quiet_worker() -> None:
    """Pool processes: trafilatura and htmldate log a warning for every page they discard;
    the outcome is recorded with its reason anyway."""
    for name in ("trafilatura", "htmldate", "courlan"):
        logging.getLogger(name).setLevel(logging.ERROR)


def forkserver_context(
    model: str | None = None, preload: Sequence[str] = PRELOAD
) -> multiprocessing.context.ForkServerContext:
    """The forkserver start method with the extraction stack imported and warmed up front.

    forkserver rather than fork: the parent runs threads (asyncio.to_thread, database pools)
    and forking a threaded process is unsafe. The preload list only takes effect when the
    forkserver starts (once per parent process), so it is set before every first use.
    ``model``: also load this spaCy pipeline there (in-process mode runs the entity stage in
    the pool), so that every pool process inherits it instead of loading its own copy.
    """
    ctx = multiprocessing.get_context("forkserver")
    assert isinstance(ctx, multiprocessing.context.ForkServerContext)
    # The forkserver is spawned with this process's environment when it first starts.
    if model:
        os.environ[PRELOAD_MODEL_ENV] = model
    else:
        os.environ.pop(PRELOAD_MODEL_ENV, None)
    ctx.set_forkserver_preload(list(preload))
    return ctx


def _ready() -> None:
    """No-op task: makes the pool start a process."""


class Extractor:
    """trafilatura off the event loop: a process pool, or a thread when ``processes`` is 0."""

    def __init__(
        self, processes: int, *, model: str | None = None, preload: Sequence[str] = PRELOAD
    ) -> None:
        self.processes = processes
        self.model = model  # preloaded in the forkserver (in-process mode's entity stage)
        self.preload = tuple(preload)
        self._pool: Executor | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the pool processes now (the forkserver's warm-up takes a second or two of
        CPU), so that it overlaps the feed downloads instead of delaying the first page."""
        pool = self._executor()
        if pool is not None:
            for _ in range(self.processes):
                pool.submit(_ready)

    async def warm(self) -> float:
        """Start the pool and wait until its processes answer (the forkserver has imported
        and warmed the extraction stack, and the model if any); the seconds it took.
        A long-running service does this before its first poll."""
        started = time.monotonic()
        pool = self._executor()
        if pool is not None:
            loop = asyncio.get_running_loop()
            await asyncio.gather(
                *(loop.run_in_executor(pool, _ready) for _ in range(self.processes))
            )
        return time.monotonic() - started

    def executor(self) -> Executor | None:
        """The process pool (made on first use), or None when extraction runs in threads."""
        return self._executor()

    def _executor(self) -> Executor | None:
        with self._lock:
            if self.processes and self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=self.processes,
                    mp_context=forkserver_context(self.model, self.preload),
                    initializer=_quiet_worker,
                )
            return self._pool

    async def extract(
        self, body: bytes, charset: str | None, url: str, *, page_date: bool = True
    ) -> ExtractedArticle:
        loop = asyncio.get_running_loop()
        pool = self._executor()
        if pool is None:
            return await asyncio.to_thread(extract_page, body, charset, url, page_date)
        try:
            return await loop.run_in_executor(pool, extract_page, body, charset, url, page_date)
        except BrokenProcessPool:
            # A worker died (killed, out of memory on a hostile page): replace the pool.
            self.close()
            raise FetchTransient("extraction process died", reason="extractor_died") from None

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
