"""The labelled non-article set, made from the corpus pages (bench/nonarticles.py): the
final extraction options refuse the non-articles of the reporting half (thresholds were
chosen on the other half) and refuse no more of the 990 articles than before (0.3 %).

Skips without ../shared/corpus outside CI (a failure under CI=true, see conftest.need).
"""

from __future__ import annotations

import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from bench import nonarticles
from ingest.extract import extract_article
from schemas.errors import NotAnArticle

pytestmark = [pytest.mark.corpus, pytest.mark.timeout(900)]

#: a floor under what the checks reach (93.2 % of the reporting half, bench/README.md), so
#: that a change that loses ground fails; issue 20 asks for 0.98, not reached yet
MIN_REFUSED = 0.92
#: the issue's target: no more than before the checks (3 of 990, all too_short)
MAX_ARTICLES_REFUSED = 0.0031


def _verdict(job: tuple[str, str]) -> str | None:
    path, url = job
    try:
        extract_article(Path(path).read_bytes(), url=url or None)
    except NotAnArticle as exc:
        return exc.reason
    return None


@pytest.fixture(scope="module")
def verdicts(pages_corpus: Path) -> dict[str, list[tuple[Any, str | None]]]:
    eval_dir = pages_corpus / "tests"
    pages = nonarticles.corpus_pages(eval_dir)
    made = [m for m in nonarticles.build(pages) if m.half == "report"]
    articles = []
    for name, url, _, _ in pages:
        path = eval_dir / "cache" / name
        articles.append((str(path if path.is_file() else eval_dir / "eval" / name), url))
    workers = max(1, min(4, os.cpu_count() or 1))
    with ProcessPoolExecutor(workers) as pool:
        refused_made = list(pool.map(_verdict, [(str(m.path), m.url) for m in made], chunksize=8))
        refused_articles = list(pool.map(_verdict, articles, chunksize=8))
    return {
        "made": list(zip(made, refused_made, strict=True)),
        "articles": [(None, r) for r in refused_articles],
    }


def test_the_set_covers_every_kind(verdicts: dict[str, list[tuple[Any, str | None]]]) -> None:
    kinds = Counter(m.kind for m, _ in verdicts["made"])
    assert set(kinds) == set(nonarticles.KINDS)
    assert sum(kinds.values()) > 350


def test_non_articles_of_the_reporting_half_are_refused(
    verdicts: dict[str, list[tuple[Any, str | None]]],
) -> None:
    made = verdicts["made"]
    refused = sum(1 for _, reason in made if reason is not None)
    missed = Counter(m.kind for m, reason in made if reason is None)
    assert refused / len(made) >= MIN_REFUSED, f"{refused}/{len(made)} refused; missed {missed}"


def test_corpus_articles_are_refused_no_more_than_before(
    verdicts: dict[str, list[tuple[Any, str | None]]],
) -> None:
    results = verdicts["articles"]
    assert len(results) == 990
    reasons = Counter(reason for _, reason in results if reason is not None)
    assert sum(reasons.values()) / len(results) <= MAX_ARTICLES_REFUSED, reasons
