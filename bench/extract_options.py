"""Extraction quality on trafilatura's own corpus: our changes, and trafilatura's options.

    python -m bench.extract_options [--limit N] [--speed-pages N] [--runs N] [--workers N]
    python -m bench.extract_options --options [...]   # trafilatura's option combinations

Without ``--options`` it prints the table of issue 20 (:mod:`bench.extract_quality`): each
of our changes on top of trafilatura's defaults, with metadata accuracy, both halves of the
corpus, and the not-article set of :mod:`bench.nonarticles`. With ``--options``, the
comparison of trafilatura's option combinations described below.

The corpus (``news-pages-trafilatura-eval.tar.xz``, unpacked into ``.cache/corpus/``) is
trafilatura's evaluation set: per page, ``with`` snippets that must appear in the extracted
text and ``without`` snippets (boilerplate) that must not. Scoring follows trafilatura's
``tests/eval_common.py``: whitespace-normalised substring match; a ``with`` found is a true
positive, missing a false negative; a ``without`` found is a false positive, absent a true
negative; pooled precision = tp/(tp+fp), recall = tp/(tp+fn), F1, accuracy = (tp+tn)/all.

Every page goes through :func:`ingest.extract.extract_article` itself (metadata included),
with ``min_words=0`` so that the scores measure extraction alone; a page it rejects scores as
empty text (all its ``with`` snippets missed). The ``rejected`` column then applies the
default ``min_words`` (or ``--min-words``) to the same results: the share of pages our
pipeline would drop as "not an article". Every page of this corpus has content to find, so
that share is a false-rejection rate.

Speed is wall time of single-process extraction from memory over a fixed subset
(``--speed-pages``), the median of ``--runs`` interleaved runs; the quality run uses a process
pool. Metadata accuracy (title, date, author) is measured against the corpus' ground truth,
on the pages that have a non-empty value for the field.

The winner: the best F1; any combination within ``F1_TIE`` of it counts as a tie, and the
fastest of the tied ones wins. The result is printed and written to bench/extract_options.md
(not committed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench._corpus import unpack
from bench.extract_metadata import metadata_rows
from ingest.extract import DEFAULT_OPTIONS, ExtractedArticle, ExtractOptions, extract_article
from schemas.errors import NotAnArticle

ARCHIVE = "news-pages-trafilatura-eval.tar.xz"
OUTPUT = Path(__file__).resolve().parent / "extract_options.md"
#: F1 differences below this are noise (one snippet moves pooled F1 by about 0.0002).
F1_TIE = 0.002
MIN_WORDS_GRID = (0, 10, 25, 50, 100)

COMBINATIONS: dict[str, ExtractOptions] = {
    "default (balanced, fallback, tables)": ExtractOptions(),
    "favor_precision": ExtractOptions(favor_precision=True),
    "favor_recall": ExtractOptions(favor_recall=True),
    "fast": ExtractOptions(fast=True),
    "fast + favor_precision": ExtractOptions(fast=True, favor_precision=True),
    "fast + favor_recall": ExtractOptions(fast=True, favor_recall=True),
    "include_tables off": ExtractOptions(include_tables=False),
    "fast + include_tables off": ExtractOptions(fast=True, include_tables=False),
}


# --------------------------------------------------------------------------- corpus


@dataclass(frozen=True, slots=True)
class Page:
    key: str  # the evaldata key: the page's URL (a few are labels such as "hard::x.html")
    html: bytes
    with_: tuple[str, ...]
    without: tuple[str, ...]
    # ground truth: None = not annotated, "" = annotated as absent
    title: str | None
    date: str | None
    author: str | None
    file: str = ""  # the page's file name: fixes its half (bench.nonarticles.half_of)


def eval_dir() -> Path:
    return unpack(ARCHIVE) / "trafilatura_eval" / "tests"


def load_pages(limit: int | None = None) -> list[Page]:
    """The annotated pages, sorted by key; ``limit`` takes a fixed random sample (seed 0)."""
    here = eval_dir()
    data: dict[str, dict[str, Any]] = json.loads((here / "evaldata.json").read_text("utf-8"))
    keys = sorted(data)
    if limit is not None and limit < len(keys):
        keys = sorted(random.Random(0).sample(keys, limit))
    pages = []
    for key in keys:
        item = data[key]
        path = here / "cache" / item["file"]
        if not path.is_file():
            path = here / "eval" / item["file"]
        if not path.is_file():
            raise SystemExit(f"{key}: {item['file']} not found under {here}")
        pages.append(
            Page(
                key=key,
                html=path.read_bytes(),
                with_=tuple(item["with"]),
                without=tuple(item["without"]),
                title=item.get("title"),
                date=item.get("date"),
                author=item.get("author"),
                file=item["file"],
            )
        )
    return pages


def page_url(key: str) -> str | None:
    return key if key.startswith(("http://", "https://")) else None


# --------------------------------------------------------------------------- one page


@dataclass(frozen=True, slots=True)
class PageResult:
    key: str
    counts: tuple[int, int, int, int]  # tp, fp, fn, tn
    reason: str | None  # NotAnArticle reason at min_words=0, None if extracted
    word_count: int
    title: str | None
    authors: tuple[str, ...]
    day: str | None  # published_at as YYYY-MM-DD (UTC)
    source: str | None
    local_day: str | None = None  # published_day: the day as the page states it
    text: str | None = None  # the extracted text (kept for rows derived by cleaning it)


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def count(page: Page, text: str | None) -> tuple[int, int, int, int]:
    found = norm(text) if text else ""
    tp = sum(1 for snippet in page.with_ if text and norm(snippet) in found)
    fp = sum(1 for snippet in page.without if text and norm(snippet) in found)
    return tp, fp, len(page.with_) - tp, len(page.without) - fp


def run_page(page: Page, options: ExtractOptions) -> PageResult:
    article: ExtractedArticle | None = None
    reason = None
    try:
        article = extract_article(page.html, url=page_url(page.key), options=options)
    except NotAnArticle as exc:
        reason = exc.reason
    if article is None:
        return PageResult(page.key, count(page, None), reason, 0, None, (), None, None)
    return PageResult(
        key=page.key,
        counts=count(page, article.text),
        reason=None,
        word_count=article.word_count,
        title=article.title,
        authors=article.authors,
        day=article.published_at.date().isoformat() if article.published_at else None,
        source=article.published_source,
        local_day=article.published_day.isoformat() if article.published_day else None,
        text=article.text,
    )


# the worker processes' copy of the corpus, loaded once by _init_worker
_PAGES: dict[str, Page] = {}


def _init_worker(limit: int | None) -> None:
    _PAGES.update((page.key, page) for page in load_pages(limit))


def _run_key(job: tuple[str, ExtractOptions]) -> PageResult:
    key, options = job
    return run_page(_PAGES[key], options)


# --------------------------------------------------------------------------- scores


@dataclass(slots=True)
class Scores:
    name: str
    options: ExtractOptions
    results: list[PageResult]
    pages_per_second: float = 0.0
    runs: list[float] = field(default_factory=list)

    def totals(self, min_words: int = 0) -> tuple[int, int, int, int]:
        """Pooled counts; with ``min_words`` pages below it count as rejected (empty)."""
        tp = fp = fn = tn = 0
        for r in self.results:
            a, b, c, d = r.counts
            if r.reason is None and r.word_count < min_words:
                a, b, c, d = 0, 0, a + c, b + d
            tp, fp, fn, tn = tp + a, fp + b, fn + c, tn + d
        return tp, fp, fn, tn

    def metrics(self, min_words: int = 0) -> tuple[float, float, float, float]:
        """precision, recall, F1, accuracy."""
        tp, fp, fn, tn = self.totals(min_words)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
        accuracy = (tp + tn) / (tp + fp + fn + tn) if tp + fp + fn + tn else 0.0
        return precision, recall, f1, accuracy

    def rejected(self, min_words: int) -> float:
        bad = sum(1 for r in self.results if r.reason is not None or r.word_count < min_words)
        return bad / len(self.results) if self.results else 0.0

    def reasons(self, min_words: int) -> Counter[str]:
        return Counter(
            r.reason or "too_short"
            for r in self.results
            if r.reason is not None or r.word_count < min_words
        )


def pick_winner(scores: Sequence[Scores]) -> Scores:
    best_f1 = max(s.metrics()[2] for s in scores)
    tied = [s for s in scores if s.metrics()[2] >= best_f1 - F1_TIE]
    return max(tied, key=lambda s: (s.pages_per_second, s.metrics()[2]))


def quality(pages: Sequence[Page], limit: int | None, workers: int) -> list[Scores]:
    scores = []
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(limit,)) as pool:
        for name, options in COMBINATIONS.items():
            started = time.perf_counter()
            opts = replace(options, min_words=0)
            results = list(pool.map(_run_key, [(p.key, opts) for p in pages], chunksize=8))
            scores.append(Scores(name, options, results))
            precision, recall, f1, _ = scores[-1].metrics()
            print(
                f"  {name}: P={precision:.4f} R={recall:.4f} F1={f1:.4f} "
                f"({time.perf_counter() - started:.0f} s)",
                file=sys.stderr,
            )
    return scores


def speed(scores: Sequence[Scores], pages: Sequence[Page], runs: int) -> None:
    for page in pages[:5]:  # warm-up: imports, caches
        run_page(page, DEFAULT_OPTIONS)
    for _ in range(runs):
        for s in scores:
            opts = replace(s.options, min_words=0)
            started = time.perf_counter()
            for page in pages:
                with contextlib.suppress(NotAnArticle):
                    extract_article(page.html, url=page_url(page.key), options=opts)
            s.runs.append(time.perf_counter() - started)
    for s in scores:
        s.pages_per_second = len(pages) / statistics.median(s.runs)


def report(
    scores: Sequence[Scores],
    pages: Sequence[Page],
    min_words: int,
    speed_pages: int,
    runs: int,
    elapsed: float,
) -> str:
    winner = pick_winner(scores)
    best = max(scores, key=lambda s: s.metrics()[2])
    lines = [
        f"# trafilatura options on the evaluation corpus ({len(pages)} annotated pages)",
        "",
        f"Scored with `ingest.extract.extract_article` (min_words=0). `rejected`: share of pages "
        f"refused at min_words={min_words}; `F1@min_words`: F1 counting those as empty. Speed: "
        f"1 process, {speed_pages} pages from memory, median of {runs} runs.",
        "",
        "| options | precision | recall | F1 | accuracy | pages/s | rejected | F1@min_words |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in scores:
        precision, recall, f1, accuracy = s.metrics()
        mark = " **(winner)**" if s is winner else ""
        lines.append(
            f"| {s.name}{mark} | {precision:.4f} | {recall:.4f} | {f1:.4f} | {accuracy:.4f} | "
            f"{s.pages_per_second:.1f} | {s.rejected(min_words):.1%} | "
            f"{s.metrics(min_words)[2]:.4f} |"
        )
    lines += [
        "",
        f"Winner: **{winner.name}** (best F1 {best.metrics()[2]:.4f} by {best.name}; "
        f"combinations within {F1_TIE} F1 of it are tied and the fastest of those wins).",
        f"Current `ExtractOptions()` default: {DEFAULT_OPTIONS}.",
        "",
        "Rejections of the winner by min_words: "
        + ", ".join(f"{n}: {winner.rejected(n):.1%}" for n in MIN_WORDS_GRID)
        + f"; reasons at {min_words}: {dict(winner.reasons(min_words))}.",
        "",
        "## Metadata of the winner against the ground truth",
        "",
        "exact: casefolded, whitespace-normalised equality (author: the same set of names, split "
        "on `; , & and und`; date: published_at's UTC day equals the annotated day). "
        "loose: title contained either way / date within a day / at least one author in common. "
        "spurious: a value where the annotation says there is none.",
        "",
        "| field | pages with a value | exact | loose | pages annotated empty | spurious |",
        "|---|---|---|---|---|---|",
        *metadata_rows(pages, winner.results),
        "",
        "Date sources of the winner: "
        + str(dict(Counter(r.source or "none" for r in winner.results if r.reason is None)))
        + ".",
        "",
        f"Total bench time: {elapsed:.0f} s.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--options" in args:
        args.remove("--options")
        return options_main(args)
    from bench.extract_quality import quality_main

    return quality_main(args)


def options_main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, help="score a fixed random sample of N pages")
    parser.add_argument("--speed-pages", type=int, default=150, help="pages timed (default 150)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs, median (default 3)")
    parser.add_argument("--workers", type=int, default=2, help="processes for scoring (default 2)")
    parser.add_argument("--min-words", type=int, default=DEFAULT_OPTIONS.min_words)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    pages = load_pages(args.limit)
    print(f"scoring {len(COMBINATIONS)} combinations on {len(pages)} pages", file=sys.stderr)
    scores = quality(pages, args.limit, args.workers)
    speed_pages = list(pages)
    random.Random(1).shuffle(speed_pages)
    speed_pages = speed_pages[: args.speed_pages]
    print(f"timing on {len(speed_pages)} pages x {args.runs} runs", file=sys.stderr)
    speed(scores, speed_pages, args.runs)
    text = report(
        scores, pages, args.min_words, len(speed_pages), args.runs, time.perf_counter() - started
    )
    print(text)
    args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
