"""The pipeline benchmarks: one command, one markdown table.

    python -m bench [--smoke] [--articles N] [--repeats R] [--e2e-repeats R]
                    [--only ROW ...] [--model M] [--postgres URL] [--redis URL] [--output FILE]
    python -m bench web [--articles N] [--clients C] [--seconds S]      (the HTTP API: bench/web.py)

Runs every row of the table on this machine against the real services: the corpus pages
served by a loopback HTTP server subprocess, PostgreSQL (throwaway databases, dropped),
Redis (database 14, flushed before and after) and real ``newsingest`` processes. Prints the
table and writes it to ``bench/results.md`` (an output: not committed by the run).

Each row says what it measured, on how many articles, every run and their median; ratios
are against the bound measured in the same invocation. ``--smoke`` shrinks every row to a few
dozen articles and one run, for the test that keeps this from rotting (no timing there).

The NER model is ``--model``, else ``NEWSINGEST_SPACY_MODEL``, else the project's default
(``workers.nlp.resolve_model``); if that is not installed, the rule-based fallback
(``workers.nlp.RULES_MODEL``), and the table header says so.
"""

from __future__ import annotations

import argparse
import platform
import shlex
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from bench import read_rows
from bench.common import (
    DEFAULT_POSTGRES,
    DEFAULT_REDIS,
    Bench,
    Plan,
    cores,
    load_average,
    runs_text,
)
from bench.pipeline import ROWS, run_all

OUTPUT = Path(__file__).resolve().parent / "results.md"
BUSY_LOAD = 1.5
SMOKE = Plan(
    smoke=True,
    repeats=1,
    feeds=4,
    items=6,
    e2e_repeats=1,
    bound_pages=4,
    scale_articles=32,
    fetch_pages=80,
    fetch_hosts=4,
    store_articles=48,
    memory_articles=64,
    memory_checkpoint=16,
    latency_entries=3,
    latency_gap=0.5,
    read_articles=2000,
    read_repeats=1,
    read_store_repeats=1,
)


def plan_from(args: argparse.Namespace) -> Plan:
    plan = SMOKE if args.smoke else Plan()
    if args.articles is not None:
        feeds = min(plan.feeds, max(1, args.articles))
        plan = replace(plan, feeds=feeds, items=max(1, args.articles // feeds))
    if args.repeats is not None:
        plan = replace(plan, repeats=args.repeats, e2e_repeats=min(args.repeats, plan.e2e_repeats))
    if args.e2e_repeats is not None:
        plan = replace(plan, e2e_repeats=args.e2e_repeats)
    return plan


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(bench: Bench, argv: Sequence[str], started: datetime, seconds: float, load: str) -> str:
    import spacy
    import trafilatura

    plan = bench.plan
    model = bench.model
    work = bench.workload
    ner = sum(work.covered(i) for i in range(plan.articles))
    pipeline = model.pipeline
    end_load = load_average()
    busy = max(float(load.split(" / ")[0]), float(end_load.split(" / ")[0])) > BUSY_LOAD
    lines = [
        "# newsingest benchmarks"
        + (" (SMOKE: tiny sizes, numbers meaningless)" if plan.smoke else ""),
        "",
        f"`python -m bench {shlex.join(argv)}`".replace("`python -m bench `", "`python -m bench`")
        + f" on {started:%Y-%m-%d %H:%M} UTC; {cores()} cores; Python "
        f"{platform.python_version()}; trafilatura {trafilatura.__version__}; spaCy "
        f"{spacy.__version__}; total runtime **{seconds / 60:.1f} min**.",
        "",
        f"- Load average (1 / 5 / 15 min) at start {load}, at end {end_load}."
        + (
            f" **The machine was busy (load > {BUSY_LOAD}): other work shared the cores, "
            "so throughput rows and ratios are pessimistic.**"
            if busy
            else ""
        ),
        f"- NER model: `{model.name}` ({pipeline.name} {pipeline.version}, languages "
        f"{', '.join(sorted(pipeline.languages))})."
        + (f" **{model.note}.**" if model.note else ""),
        f"- Articles: the {len(work.pages)} pages of trafilatura's evaluation corpus "
        f"({work.corpus_size} real pages, mostly German news) that extract to an article, "
        "in a fixed shuffle; article i of every row is page i, so within a row the articles "
        f"are distinct pages (cycled only past {len(work.pages)}) and trafilatura's caches see "
        "new pages, as in production. NER runs where the model covers the language, as in "
        f"the pipeline (the others are stored as skipped): {ner} of the {plan.articles} "
        "end-to-end articles. Served by `python -m bench.origin` (a lean asyncio static server "
        "in a subprocess: files kept in memory, ~0.1 ms of CPU per request, since it shares "
        f"the cores with the pipeline) on 127.0.0.2-{1 + max(plan.feeds, plan.fetch_hosts)}.",
        f"- Runs: {plan.repeats} per row, except the two slow end-to-end rows: "
        f"{plan.e2e_repeats} each with the warm service (plus one cold `poll --all` run, in "
        f"the row's notes), worker scaling: {min(plan.repeats, plan.scale_repeats)} "
        "per process count (to stay under 10 minutes), memory: "
        f"{plan.memory_runs} in parallel (one process per core, each on its own database), "
        f"latency: {plan.latency_rounds} rounds of {plan.latency_entries} entries against the "
        "same running service. Median of the runs; ratios use the bound measured in this "
        "same invocation.",
        "- CPU-normalised ratio (rows 2, 3): articles per CPU second of the pipeline's own "
        "processes (poll, its pool, workers, PostgreSQL, Redis; sampled from /proc) over the "
        "bound's articles per CPU second. It does not depend on what else runs on the "
        "machine: 1.0 = the pipeline spends no CPU beyond the plain loop's; the notes say "
        "where the CPU went, other users' processes included.",
        *(
            [
                f"- Read group (9: PostgreSQL, 10: SQLite): `bench/read.py` on "
                f"{plan.read_articles:,} generated articles per backend (cached databases); "
                f"searches {plan.read_repeats} runs each, the store comparison "
                f"{plan.read_store_repeats}; medians in ms unless said (bench/README.md)."
            ]
            if any(r.key.startswith("read_") for r in bench.rows)
            else []
        ),
        "",
        "| # | row | what was measured | articles | runs | median | target | result |",
        "|---|---|---|---|---|---|---|---|",
    ]
    numbers = {
        "bound": "1",
        "e2e_redis": "2",
        "e2e_inprocess": "3",
        "worker_scaling": "4",
        "fetch": "5",
        "store_postgresql": "6a",
        "store_sqlite": "6b",
        "memory_rss": "7a",
        "memory_growth": "7b",
        "latency_p50": "8a",
        "latency_p95": "8b",
    }
    numbers |= read_rows.numbers()
    rows = sorted(bench.rows, key=lambda r: list(numbers).index(r.key))
    for row in rows:
        result = "report" if row.passed is None else ("pass" if row.passed else "**MISS**")
        digits = 0 if row.unit in ("articles/s",) and row.key.startswith("store") else 2
        runs = runs_text(row.runs, digits)
        lines.append(
            "| "
            + " | ".join(
                cell(c)
                for c in (
                    numbers[row.key],
                    row.title,
                    row.measured,
                    row.size,
                    f"{runs} {row.unit}",
                    row.shown,
                    row.target,
                    result,
                )
            )
            + " |"
        )
    notes = [(numbers[r.key], n) for r in rows for n in r.notes]
    if notes:
        lines += ["", "Notes:", ""]
        lines += [f"- ({number}) {note}" for number, note in notes]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    if given[:1] == ["web"]:  # the HTTP API's benchmark (issue 17): its own options
        from bench.web import main as web_main

        return web_main(given[1:])
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one run (for tests)")
    parser.add_argument("--articles", type=int, help="end-to-end articles (default 20 feeds x 25)")
    parser.add_argument("--repeats", type=int, help="runs per row (default 3)")
    parser.add_argument(
        "--e2e-repeats", type=int, help="runs of the end-to-end rows 2 and 3 (default 2)"
    )
    parser.add_argument("--model", help="spaCy model (default: NEWSINGEST_SPACY_MODEL, project)")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="admin URL (creates DBs)")
    parser.add_argument("--redis", default=DEFAULT_REDIS, help="Redis URL (flushed!)")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="markdown file to write")
    parser.add_argument(
        "--only",
        action="append",
        choices=[name for name, _ in ROWS],
        help="run only these rows (the bound always runs); repeatable. `read`: the read "
        "side's group (search, entities top, export, store with the index: bench/read.py), "
        "run only when named, and without the bound when alone",
    )
    args_list = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(args_list)
    plan = plan_from(args)
    started = datetime.now(UTC)
    clock = time.monotonic()
    load = load_average()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - clock:6.1f}s] {message}", file=sys.stderr, flush=True)

    def terminated(signum: int, frame: FrameType | None) -> None:
        # SystemExit unwinds every `with`: servers, workers and child processes are stopped
        # and throwaway databases dropped, instead of outliving a bench killed by a timeout.
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminated)
    signal.signal(signal.SIGHUP, terminated)

    log(f"load average {load}")
    bench = run_all(
        plan,
        postgres=args.postgres,
        redis=args.redis,
        model=args.model,
        log=log,
        only=args.only or (),
    )
    text = render(bench, args_list, started, time.monotonic() - clock, load)
    print(text, end="")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, "utf-8")
    log(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
