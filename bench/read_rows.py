"""The read side's row group of ``python -m bench`` (``--only read``): bench/read.py's
measurements as rows of the main table, numbered 9 (PostgreSQL) and 10 (SQLite)."""

from __future__ import annotations

import argparse

from bench.common import Bench, Row
from bench.read_measure import Result, percentile

BACKENDS = {"postgresql": "9", "sqlite": "10"}
CLASSES = ("common word", "rare word", "phrase", "text + entity + date", "no match")
PARTS = (
    "search",
    *(f"search_{c}" for c in CLASSES),
    "top",
    "export_part",
    "export_all",
    "store",
    "store_load",
)
KEYS = tuple(f"read_{backend}_{part}" for backend in BACKENDS for part in PARTS)


def numbers() -> dict[str, str]:
    """Row key -> its number in the table (9a, 9b, ... then 10a, ...)."""
    return {
        f"read_{backend}_{part}": f"{number}{chr(ord('a') + i)}"
        for backend, number in BACKENDS.items()
        for i, part in enumerate(PARTS)
    }


def row_read(bench: Bench) -> None:
    from bench.read import run

    plan = bench.plan
    args = argparse.Namespace(
        backends=list(BACKENDS),
        articles=plan.read_articles,
        repeats=plan.read_repeats,
        store_repeats=plan.read_store_repeats,
        skip_store=False,
        postgres=bench.postgres,
    )
    for result in run(args, bench.log):
        bench.rows += rows_of(result, plan.read_articles, plan.read_repeats)


def _ms(samples: list[float]) -> str:
    return f"p50 {percentile(samples, 0.5):.1f} / p95 {percentile(samples, 0.95):.1f} ms"


def rows_of(r: Result, articles: int, repeats: int) -> list[Row]:
    b = r.backend
    size = f"{articles:,} generated"
    per_query = [q[2] for q in r.per_query]
    p50, p95 = percentile(per_query, 0.5), percentile(per_query, 0.95)
    rows = [
        Row(
            f"read_{b}_search",
            f"{b}: search",
            "first page (20 rows, relevance, snippets) of 20 queries, 4 per class; p50/p95 of "
            "the per-query medians",
            size,
            per_query,
            "ms",
            p50,
            _ms(per_query),
            "p50 < 30 ms, p95 < 150 ms",
            p50 < 30 and p95 < 150,
        )
    ]
    for cls in CLASSES:
        samples = r.searches.get(cls, [])
        if samples:
            rows.append(
                Row(
                    f"read_{b}_search_{cls}",
                    f"{b}: search: {cls}",
                    f"4 queries x {repeats} runs",
                    size,
                    samples,
                    "ms",
                    percentile(samples, 0.5),
                    _ms(samples),
                )
            )
    top50 = percentile(r.top, 0.5)
    rows.append(
        Row(
            f"read_{b}_top",
            f"{b}: entities top --since 24h",
            "top_entities, 20 rows, with the previous period",
            size,
            r.top,
            "ms",
            top50,
            _ms(r.top),
            "< 200 ms",
            top50 < 200,
        )
    )
    parts = ("export_part", "export_all")
    for part, (n, rate, rss, per_cpu) in zip(parts, r.exports, strict=False):
        rows.append(
            Row(
                f"read_{b}_{part}",
                f"{b}: export --format jsonl",
                "the CLI as a child process, stdout to /dev/null; wall clock incl. start-up",
                f"{n:,}",
                [rate],
                "articles/s",
                rate,
                f"{rate:,.0f}/s, peak RSS {rss:.0f} MB",
                ">= 5,000/s, < 250 MB",
                rate >= 5000 and rss < 250,
                [f"the export process alone: {per_cpu:,.0f} articles per CPU second"],
            )
        )
    if r.store:
        runs = r.store_runs
        ratio = r.store["store indexed"] / r.store["store plain"]
        rows.append(
            Row(
                f"read_{b}_store",
                f"{b}: store row with the search index",
                "row 6's method, index maintained / not (runs: indexed articles/s); ratio of "
                "the medians",
                "1,008",
                runs.get("store indexed", []),
                "articles/s",
                ratio,
                f"{r.store['store indexed']:.0f} / {r.store['store plain']:.0f}/s, "
                f"ratio {ratio:.2f}",
                ">= 0.80",
                ratio >= 0.8,
                [f"without the index: {_rates(runs.get('store plain', []))} articles/s"],
            )
        )
        load = r.store["load indexed"] / r.store["load plain"]
        rows.append(
            Row(
                f"read_{b}_store_load",
                f"{b}: loading the texts, indexed / not",
                "the write the index really costs (the store never rewrites title or text)",
                "1,008",
                runs.get("load indexed", []),
                "articles/s",
                load,
                f"{r.store['load indexed']:.0f} / {r.store['load plain']:.0f}/s, ratio {load:.2f}",
            )
        )
    return rows


def _rates(values: list[float]) -> str:
    return ", ".join(f"{v:.0f}" for v in values) or "-"
