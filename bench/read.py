"""The read side's benchmark (issue 16): search, entities top, export, and the store with the
search index maintained, on PostgreSQL and SQLite.

    python -m bench.read [--articles 200000] [--repeats 5] [--postgres URL] [--output FILE]
    python -m bench --only read          (the same as rows 9 and 10 of the main table)

The database: ``--articles`` articles generated from the corpus pages (trafilatura's
evaluation set: the text of their paragraphs, language detected), each a window of 3-8
consecutive paragraphs of one page plus a paragraph of another page of its language, at most
~2,400 characters; a title from one of its sentences; published uniformly over the 60 days
before the generation time; 60 feeds (Zipf-like shares); 3-12 entities each, drawn Zipf-like
from the capitalised names found in the corpus (labels spread as in news: people, places,
organisations, some dates and numbers). PostgreSQL is loaded with COPY (the search trigger
fires per row; the GIN index is built after the load), SQLite with executemany in one
transaction (the FTS5 triggers fire per row). Both are cached (``.cache/bench/read-*`` and a
kept PostgreSQL database ``newsingest_bench_read_<n>_v<version>``), so re-runs start at once.

Measured, per backend, in this process through query/ (the code the CLI runs):
- 20 searches, 4 per class (common word, rare word, phrase, text + entity + date, no match),
  each the first page (20 rows, relevance order, with snippets), 1 warm-up + ``--repeats`` runs;
- ``entities top --since 24h`` (top_entities, 20 rows, with the previous period);
- ``newsingest export --format jsonl`` as a child process (the real CLI, stdout to /dev/null)
  over ~50,000 and all articles: articles/s including start-up, peak RSS from ``wait4``;
- the store row (bench row 6's method: workers.store.store_results, batches of 16, 20
  entities per article, 1,008 articles) on a fresh database with the search index maintained
  and without (triggers dropped), and the time to load those articles' texts, the write the
  index really costs (the store never rewrites title or text).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench.read_data import DEFAULT_POSTGRES, ROOT, Log, corpus, pick_queries, vocabulary
from bench.read_load import generate
from bench.read_measure import (
    Result,
    measure_export,
    measure_searches,
    measure_store,
    measure_top,
    percentile,
)

# --------------------------------------------------------------------------- run and report


def run(args: argparse.Namespace, log: Log) -> list[Result]:
    results = []
    bases = corpus(log)
    for backend in args.backends:
        url, gen = generate(backend, args.articles, args.postgres, log)
        if not gen.queries:
            gen.queries = pick_queries(bases, vocabulary(bases))
        result = Result(backend)
        measure_searches(url, gen, args.repeats, result, log)
        measure_top(url, gen, args.repeats, result)
        log(f"{backend} entities top --since 24h: {statistics.median(result.top):.1f} ms")
        for days in (15.0, None):  # ~a quarter of the 60 days, then everything
            result.exports.append(measure_export(url, gen, days))
            log(f"{backend} export: {result.exports[-1]}")
        if not args.skip_store:
            measure_store(backend, args.postgres, bases, max(1, args.store_repeats), result, log)
        results.append(result)
    return results


def render(
    results: Sequence[Result], args: argparse.Namespace, started: datetime, load: str
) -> str:
    def ok(flag: bool) -> str:
        return "pass" if flag else "**MISS**"

    lines = [
        f"`python -m bench.read --articles {args.articles} --repeats {args.repeats}` on "
        f"{started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores (shared), load average at start "
        f"{load}; {args.articles:,} generated articles per backend.",
        "",
        "| backend | measured | p50 | p95 | target | result |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        every = [t for samples in r.searches.values() for t in samples]
        per_query = [q[2] for q in r.per_query]
        p50, p95 = percentile(per_query, 0.5), percentile(per_query, 0.95)
        lines.append(
            f"| {r.backend} | search, all 20 queries (median of runs per query) | {p50:.1f} ms | "
            f"{p95:.1f} ms | p50 < 30 ms, p95 < 150 ms | {ok(p50 < 30 and p95 < 150)} |"
        )
        for cls, samples in r.searches.items():
            lines.append(
                f"| {r.backend} | search: {cls} (4 queries x {args.repeats} runs) | "
                f"{percentile(samples, 0.5):.1f} ms | {percentile(samples, 0.95):.1f} ms | | |"
            )
        del every
        top50, top95 = percentile(r.top, 0.5), percentile(r.top, 0.95)
        lines.append(
            f"| {r.backend} | entities top --since 24h | {top50:.1f} ms | {top95:.1f} ms | "
            f"< 200 ms | {ok(top50 < 200)} |"
        )
        for n, rate, rss, per_cpu in r.exports:
            lines.append(
                f"| {r.backend} | export --format jsonl, {n:,} articles (wall clock; the "
                f"export process alone: {per_cpu:,.0f} articles per CPU second) | "
                f"{rate:,.0f} articles/s | peak RSS {rss:.0f} MB | >= 5,000/s, < 250 MB | "
                f"{ok(rate >= 5000 and rss < 250)} |"
            )

        if r.store:
            ratio = r.store["store indexed"] / r.store["store plain"]
            load_ratio = r.store["load indexed"] / r.store["load plain"]
            lines.append(
                f"| {r.backend} | store row (row 6 method), index maintained / not | "
                f"{r.store['store indexed']:.0f} / {r.store['store plain']:.0f} articles/s | "
                f"ratio {ratio:.2f} | >= 0.80 | {ok(ratio >= 0.8)} |"
            )
            lines.append(
                f"| {r.backend} | loading the texts (the write the index costs), indexed / not | "
                f"{r.store['load indexed']:.0f} / {r.store['load plain']:.0f} articles/s | "
                f"ratio {load_ratio:.2f} | report | |"
            )
    lines += ["", "Queries (median ms, rows on the first page):", ""]
    for r in results:
        for cls, label, ms, rows in r.per_query:
            lines.append(f"- {r.backend}, {cls}: `{label}` {ms:.1f} ms, {rows} rows")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.read", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--articles", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--store-repeats", type=int, default=3)
    parser.add_argument("--skip-store", action="store_true")
    parser.add_argument("--generate-only", action="store_true", help="build the cached databases")
    parser.add_argument("--backends", nargs="+", default=["postgresql", "sqlite"])
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "read-results.md")
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    clock = time.monotonic()
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())

    def log(message: str) -> None:
        print(f"[{time.monotonic() - clock:7.1f}s] {message}", file=sys.stderr, flush=True)

    if args.generate_only:
        for backend in args.backends:
            generate(backend, args.articles, args.postgres, log)
        return 0
    text = render(run(args, log), args, started, load)
    print(text, end="")
    args.output.write_text(text, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
