"""Issue 20's table: each of our extraction changes, measured on top of trafilatura's own.

    python -m bench.extract_options [--limit N] [--speed-pages N] [--runs N] [--workers N]

Rows, each :func:`ingest.extract.extract_article` over the annotated pages of
``news-pages-trafilatura-eval`` (``min_words=0``; a refused page scores as empty text;
the cleaning rows reuse the first row's extraction, see :func:`rows`):
trafilatura's defaults as the pipeline used them before (no cleaning, trafilatura's own
metadata, no not-article checks); then each cleaning rule of
:data:`ingest.extract.clean.DEFAULT_RULES` added in turn; then the metadata from JSON-LD,
headings and bylines; then the not-article checks, which makes the default options. A last
row shows the rule left out (``headline``).

Columns: snippet precision / recall / F1 on all pages and F1 (recall) on each half (the
half is fixed by a hash of the page's file name, :func:`bench.nonarticles.half_of`; numbers
were tuned on ``tune`` and are reported on ``report``); title, date and author exact (as in
the options table; date by the day the page states, and by the UTC day of the stored
instant); the share of pages refused (``min_words`` default included).

Then the not-article set (:mod:`bench.nonarticles`): per kind, the share refused, on each
half, by the final options, and the articles among the 990 refused, with their reasons.
Speed: the first and the final row, one process over ``--speed-pages`` pages from memory,
median of ``--runs`` interleaved runs (``bench.extract_speed`` compares against older code).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

from bench import nonarticles
from bench.extract_metadata import _names, _text
from bench.extract_options import (
    Page,
    PageResult,
    Scores,
    _init_worker,
    _run_key,
    count,
    eval_dir,
    load_pages,
    speed,
)
from ingest.extract import DEFAULT_OPTIONS, ExtractOptions, count_words, extract_article
from ingest.extract.clean import DEFAULT_RULES, RULES, clean_text
from schemas.errors import NotAnArticle

OUTPUT = Path(__file__).resolve().parent / "extract_quality.md"
BEFORE = "trafilatura defaults (before)"
FINAL = "+ not-article checks = defaults (final)"


METADATA = "+ metadata: JSON-LD, headings, bylines"
LEFT_OUT = "(left out) + clean: headline"


def rows() -> dict[str, ExtractOptions]:
    """Every row's options. Only :data:`BEFORE`, :data:`METADATA` and :data:`FINAL` are
    extracted; the cleaning rows apply :func:`clean_text` to the ``BEFORE`` row's text (what
    ``extract_article`` does with those options: trafilatura's text and title, cleaned),
    and ``LEFT_OUT`` applies the headline rule to the final row's text."""
    plain = ExtractOptions(cleaning=(), structured_metadata=False, detect_not_article=False)
    out = {BEFORE: plain}
    added: list[str] = []
    for rule in DEFAULT_RULES:
        added.append(rule)
        out[f"+ clean: {rule}"] = replace(plain, cleaning=tuple(added))
    out[METADATA] = replace(DEFAULT_OPTIONS, detect_not_article=False)
    out[FINAL] = DEFAULT_OPTIONS
    out[LEFT_OUT] = replace(DEFAULT_OPTIONS, cleaning=RULES)
    return out


def _cleaned(
    pages: Sequence[Page], base: Sequence[PageResult], rules: tuple[str, ...]
) -> list[PageResult]:
    by_key = {p.key: p for p in pages}
    out = []
    for r in base:
        if r.reason is not None or r.text is None:
            out.append(r)
            continue
        text = clean_text(r.text, title=r.title, rules=rules)
        out.append(
            replace(r, counts=count(by_key[r.key], text), word_count=count_words(text), text=text)
        )
    return out


def _half_metrics(s: Scores, pages: Sequence[Page], half: str) -> tuple[float, float]:
    keys = {p.key for p in pages if nonarticles.half_of(p.file) == half}
    part = Scores(s.name, s.options, [r for r in s.results if r.key in keys])
    _, recall, f1, _ = part.metrics()
    return f1, recall


def _exact(pages: Sequence[Page], results: Sequence[PageResult]) -> tuple[float, ...]:
    by_key = {r.key: r for r in results}

    def rate(field: str, same: object) -> float:
        annotated = [p for p in pages if getattr(p, field)]
        hits = sum(1 for p in annotated if same(p, by_key[p.key]))  # type: ignore[operator]
        return hits / len(annotated) if annotated else 0.0

    return (
        rate("title", lambda p, r: _text(r.title) == _text(p.title)),
        rate("date", lambda p, r: (r.local_day or r.day) == p.date),
        rate("date", lambda p, r: r.day == p.date),
        rate("author", lambda p, r: _names(r.authors) == _names(p.author)),
    )


def run_rows(
    pages: Sequence[Page], limit: int | None, workers: int
) -> tuple[list[Scores], dict[str, Counter[tuple[str, str]]], dict[str, Counter[str]]]:
    """The rows' scores, and the not-article set scored with the final options:
    (refused, all) counts per (kind, half), and the reasons given."""
    scores = []
    made = nonarticles.build((p.file, p.key, p.html, p.with_) for p in pages if p.file)
    extracted = {BEFORE, METADATA, FINAL}
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(limit,)) as pool:
        results: dict[str, list[PageResult]] = {}
        for name, options in rows().items():
            started = time.perf_counter()
            if name in extracted:
                opts = replace(options, min_words=0)
                jobs_ = [(p.key, opts) for p in pages]
                results[name] = list(pool.map(_run_key, jobs_, chunksize=8))
            elif name == LEFT_OUT:
                results[name] = _cleaned(pages, results[FINAL], ("headline",))
            else:
                results[name] = _cleaned(pages, results[BEFORE], options.cleaning)
            scores.append(Scores(name, options, results[name]))
            precision, recall, f1, _ = scores[-1].metrics()
            print(
                f"  {name}: P={precision:.4f} R={recall:.4f} F1={f1:.4f} "
                f"({time.perf_counter() - started:.0f} s)",
                file=sys.stderr,
            )
        jobs = [(str(m.path), m.url) for m in made]
        verdicts = list(pool.map(_refusal, jobs, chunksize=8))
    counts: dict[str, Counter[tuple[str, str]]] = {"refused": Counter(), "all": Counter()}
    reasons: dict[str, Counter[str]] = {}
    for m, reason in zip(made, verdicts, strict=True):
        counts["all"][(m.kind, m.half)] += 1
        if reason is not None:
            counts["refused"][(m.kind, m.half)] += 1
            reasons.setdefault(m.kind, Counter())[reason] += 1
    return scores, counts, reasons


def _refusal(job: tuple[str, str]) -> str | None:
    path, url = job
    try:
        extract_article(Path(path).read_bytes(), url=url)
    except NotAnArticle as exc:
        return exc.reason
    return None


def report(
    scores: Sequence[Scores],
    pages: Sequence[Page],
    counts: dict[str, Counter[tuple[str, str]]],
    reasons: dict[str, Counter[str]],
    speed_note: str,
) -> str:
    min_words = DEFAULT_OPTIONS.min_words
    lines = [
        f"# Extraction quality, issue 20 ({len(pages)} annotated pages)",
        "",
        "| change | precision | recall | F1 | F1 (R) tune | F1 (R) report | title | date "
        "(page's day / UTC day) | author | refused |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in scores:
        precision, recall, f1, _ = s.metrics()
        tune, rep = _half_metrics(s, pages, "tune"), _half_metrics(s, pages, "report")
        title, day, utc_day, author = _exact(pages, s.results)
        lines.append(
            f"| {s.name} | {precision:.4f} | {recall:.4f} | **{f1:.4f}** | "
            f"{tune[0]:.4f} ({tune[1]:.4f}) | {rep[0]:.4f} ({rep[1]:.4f}) | {title:.1%} | "
            f"{day:.1%} / {utc_day:.1%} | {author:.1%} | {s.rejected(min_words):.1%} |"
        )
    final = next(s for s in scores if s.name == FINAL)
    lines += [
        "",
        f"Refused by the final options (min_words={min_words}): "
        f"{sum(final.reasons(min_words).values())} of {len(final.results)} "
        f"{dict(final.reasons(min_words))}; date sources: "
        + str(dict(Counter(r.source or "none" for r in final.results if r.reason is None))),
        "",
        "## Not-article set (bench/nonarticles.py), refused by the final options",
        "",
        "| kind | tune | report | reasons |",
        "|---|---|---|---|",
    ]
    for kind in nonarticles.KINDS:
        cells = []
        for half in ("tune", "report"):
            n, k = counts["all"][(kind, half)], counts["refused"][(kind, half)]
            cells.append(f"{k}/{n} = {k / n:.1%}" if n else "-")
        lines.append(f"| {kind} | {cells[0]} | {cells[1]} | {dict(reasons.get(kind, {}))} |")
    for half in ("tune", "report"):
        n = sum(v for (_, h), v in counts["all"].items() if h == half)
        k = sum(v for (_, h), v in counts["refused"].items() if h == half)
        if n:
            lines.append(f"| **all, {half}** | {k}/{n} = **{k / n:.1%}** | | |")
    lines += ["", speed_note, ""]
    return "\n".join(lines)


def quality_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, help="score a fixed random sample of N pages")
    parser.add_argument("--speed-pages", type=int, default=150)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    eval_dir()
    pages = load_pages(args.limit)
    print(f"scoring {len(rows())} rows on {len(pages)} pages", file=sys.stderr)
    scores, counts, reasons = run_rows(pages, args.limit, args.workers)
    timed = [s for s in scores if s.name in {BEFORE, FINAL}]
    speed_pages = list(pages)
    random.Random(1).shuffle(speed_pages)
    speed_pages = speed_pages[: args.speed_pages]
    note = f"Total bench time {time.perf_counter() - started:.0f} s."
    if args.runs:
        speed(timed, speed_pages, args.runs)
        before, final = timed
        note = (
            f"Speed, 1 process, {len(speed_pages)} pages from memory, median of {args.runs} "
            f"interleaved runs: before {before.pages_per_second:.1f} pages/s, final "
            f"{final.pages_per_second:.1f} pages/s (final/before time x "
            f"{before.pages_per_second / max(final.pages_per_second, 1e-9):.3f}). {note}"
        )
    text = report(scores, pages, counts, reasons, note)
    print(text)
    args.output.write_text(text, encoding="utf-8")
    return 0
