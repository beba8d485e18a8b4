"""Extraction on the shared corpus: trafilatura's evaluation pages, a fixed sample."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from ingest.extract import extract_article
from schemas.errors import NotAnArticle


def _snippet_scores(pages_corpus: Path, sample: int) -> tuple[float, float, int]:
    """Pooled recall of `with` snippets and share of `without` snippets kept out."""
    here = pages_corpus / "tests"
    data: dict[str, dict[str, Any]] = json.loads((here / "evaldata.json").read_text("utf-8"))
    keys = sorted(random.Random(20240517).sample(sorted(data), sample))
    found = expected = leaked = boilerplate = rejected = 0
    for key in keys:
        item = data[key]
        path = here / "cache" / item["file"]
        if not path.is_file():
            path = here / "eval" / item["file"]
        url = key if key.startswith("http") else None
        try:
            text = re.sub(r"\s+", " ", extract_article(path.read_bytes(), url=url).text)
        except NotAnArticle:
            text, rejected = "", rejected + 1
        expected += len(item["with"])
        found += sum(1 for s in item["with"] if re.sub(r"\s+", " ", s).strip() in text)
        boilerplate += len(item["without"])
        leaked += sum(1 for s in item["without"] if re.sub(r"\s+", " ", s).strip() in text)
    return found / expected, 1 - leaked / boilerplate, rejected


@pytest.mark.corpus
def test_corpus_sample(pages_corpus: Path) -> None:
    # measured on this sample with the default options: see the assertion message
    recall, kept_out, rejected = _snippet_scores(pages_corpus, 100)
    summary = f"recall={recall:.3f} boilerplate kept out={kept_out:.3f} rejected={rejected}"
    assert recall >= 0.80, summary
    assert kept_out >= 0.80, summary  # extracting the whole page would fail this
    assert rejected <= 5, summary
