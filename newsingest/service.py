"""The long-running service (`newsingest run`): poll due feeds forever, sleeping until the next
feed is due; re-send articles whose entity message was lost; stop cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine

from ingest import http
from ingest.articles import queued_older_than
from ingest.poll import PollSummary, Reporter, run_poll
from ingest.schedule import next_due
from newsingest.wiring import make_enqueuer, make_extractor
from schemas.metrics import record_poll_summary
from schemas.models import utcnow
from schemas.settings import Settings


async def serve(
    s: Settings,
    bound: Engine,
    *,
    max_wait: float,
    reporter: Reporter,
    on_summary: Callable[[PollSummary], Any],
    on_ready: Callable[[float], Any],
) -> int:
    """Poll cycles until a signal arrives; returns how many completed."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    extractor = make_extractor(s)
    enqueuer = make_enqueuer(s, extractor)
    cycles = 0
    try:
        # A service warms its extraction pool (and, in-process, the model) before the
        # first poll, so that no page waits on it; a one-off `poll` overlaps the two.
        warmed = await extractor.warm()
        http.warm_up()
        on_ready(warmed)
        while not stop.is_set():
            started = time.monotonic()
            poll = asyncio.ensure_future(
                run_poll(s, bound, enqueuer, reporter=reporter, extractor=extractor)
            )
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({poll, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if not poll.done():
                poll.cancel()
                await asyncio.gather(poll, return_exceptions=True)
                break
            stopper.cancel()
            on_summary(poll.result())
            record_poll_summary(poll.result(), seconds=time.monotonic() - started)
            cycles += 1
            with bound.begin() as conn:
                # Articles stored but never processed (a lost message): send them again.
                stale = queued_older_than(conn, timedelta(seconds=max(900, s.lock_ttl)))
                soonest = next_due(conn)
            if stale:
                await asyncio.to_thread(enqueuer.send, stale)
            wait = max_wait
            if soonest is not None:
                wait = min(max_wait, max(1.0, (soonest - utcnow()).total_seconds()))
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)
    finally:
        await asyncio.to_thread(extractor.close)
    return cycles
