"""News text per language for speed measurements: the pages of trafilatura's evaluation set.

Main text extracted with trafilatura, language detected with py3langid (as the pipeline
does when a page declares none). No labels: only the words/s figures use it.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

from tools.ner_multi.data import CACHE

PAGES_TAR = Path("../shared/corpus/news-pages-trafilatura-eval.tar.xz")
OUT = CACHE / "news"


def extract(tar: Path = PAGES_TAR) -> dict[str, int]:
    """Write ``news/<lang>.json`` (a list of texts); pages per language."""
    import py3langid
    import trafilatura

    pages = CACHE / "pages"
    if not pages.exists():
        with tarfile.open(tar) as tf:
            tf.extractall(pages, filter="data")
    by_lang: dict[str, list[str]] = {}
    for html in sorted(pages.rglob("*.html")):
        text = trafilatura.extract(html.read_text(encoding="utf-8", errors="replace"))
        if not text or len(text.split()) < 50:
            continue
        lang, _ = py3langid.classify(text)
        by_lang.setdefault(lang, []).append(text)
    OUT.mkdir(parents=True, exist_ok=True)
    for lang, texts in by_lang.items():
        (OUT / f"{lang}.json").write_text(json.dumps(texts, ensure_ascii=False))
    return {lang: len(texts) for lang, texts in sorted(by_lang.items())}


def texts(lang: str) -> list[str]:
    path = OUT / f"{lang}.json"
    return list(json.loads(path.read_text())) if path.exists() else []
