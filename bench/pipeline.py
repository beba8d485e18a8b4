"""The rows of ``python -m bench`` in the order they run, and the child processes of rows 1
and 7 (``python -m bench.pipeline memory|bound ...``).

Everything runs against real things: the trafilatura evaluation pages served over HTTP by
``python -m bench.origin`` in a subprocess on loopback addresses 127.0.0.2 and up, RSS feeds
generated for them (``bench.site``), the local PostgreSQL (a throwaway database per row),
Redis (database 14 by default, flushed before and after) and ``newsingest`` processes
(``bench.services``). Nothing is sent outside 127.0.0.0/8. The articles are the corpus pages
that trafilatura extracts to an article, in a fixed shuffle (``bench.workload``): article ``i``
of every row is page ``i``, so the articles of a row are distinct pages.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.common import CACHE, Bench, Log, Plan, choose_model, load_average
from bench.read_rows import row_read
from bench.row_bound import bound_child, row_bound
from bench.row_e2e import row_e2e_inprocess, row_e2e_redis
from bench.row_latency import row_latency
from bench.row_scaling import row_fetch, row_scaling
from bench.row_store import memory_child, row_memory, row_store
from bench.services import flush_redis
from bench.site import Site, hosts, http_server
from bench.workload import build_workload

# --------------------------------------------------------------------------- all rows


ROWS: list[tuple[str, Callable[[Bench], None]]] = [
    ("bound", row_bound),
    ("fetch", row_fetch),
    ("store", row_store),
    ("e2e_redis", row_e2e_redis),
    ("e2e_inprocess", row_e2e_inprocess),
    ("scaling", row_scaling),
    ("memory", row_memory),
    ("latency", row_latency),
    ("read", row_read),
]
OPT_IN = frozenset({"read"})
"""Rows that run only when named with ``--only`` (the read group generates a 200,000-article
database per backend on its first run); a run of only these skips the bound too."""
ROW_KEYS = (
    "bound",
    "e2e_redis",
    "e2e_inprocess",
    "worker_scaling",
    "fetch",
    "store_postgresql",
    "store_sqlite",
    "memory_rss",
    "memory_growth",
    "latency_p50",
    "latency_p95",
)


def run_all(
    plan: Plan,
    *,
    postgres: str,
    redis: str,
    model: str | None,
    log: Log,
    only: Sequence[str] = (),
    workdir: Path | None = None,
) -> Bench:
    chosen = choose_model(model, log)
    workload = build_workload(chosen, plan, log)
    log(
        f"{len(workload.pages)} distinct article pages, "
        f"{sum(workload.covered(i) for i in range(len(workload.pages)))} in a language of "
        f"{chosen.name} ({len(workload.scanned)} of {workload.corpus_size} corpus pages scanned)"
    )
    CACHE.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=CACHE)))
        bench = Bench(plan, workload, workdir, postgres, redis, log)
        bench.site = Site(workdir / "site", workload)
        for i in range(plan.articles):
            bench.site.page_path(i)
        server = stack.enter_context(
            http_server(bench.site.root, hosts(max(plan.feeds, 1)), delay=0.0)
        )
        bench.bases = server.bases
        bench.server_pid = server.pid
        flush_redis(redis)
        stack.callback(flush_redis, redis)
        read_only = bool(only) and set(only) <= OPT_IN
        for name, fn in ROWS:
            if only and name not in only and (name != "bound" or read_only):
                continue
            if not only and name in OPT_IN:
                continue
            started = time.monotonic()
            log(f"--- {name} (load {load_average()})")
            fn(bench)
            log(f"--- {name} took {time.monotonic() - started:.0f} s")
    return bench


def _child_main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline")
    sub = parser.add_subparsers(dest="command", required=True)
    mem = sub.add_parser("memory", help="the memory row's child process")
    mem.add_argument("--database", required=True)
    mem.add_argument("--model", required=True)
    mem.add_argument("--checkpoint", type=int, default=1000)
    mem.add_argument("--batch", type=int, default=16)
    bound = sub.add_parser("bound", help="one run of the bound")
    bound.add_argument("--model", required=True)
    bound.add_argument("--job", type=Path, required=True, help="JSON: pages and warm-up pages")
    args = parser.parse_args(argv)
    if args.command == "memory":
        result = memory_child(args.database, args.model, args.checkpoint, args.batch)
    else:
        job = json.loads(args.job.read_text("utf-8"))
        result = bound_child(
            args.model, [tuple(p) for p in job["pages"]], [tuple(p) for p in job["warmup"]]
        )
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_child_main())
