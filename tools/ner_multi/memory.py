"""Resident memory of one worker process with every bundled model loaded and used.

Run in a fresh process (``python -m tools.ner_multi memory``): RSS after importing spaCy,
after loading each model, and the peak after running every model on news text.
"""

from __future__ import annotations

import resource
import time
from pathlib import Path
from typing import Any

from tools.ner_multi import news


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(texts_per_lang: int = 40) -> dict[str, Any]:
    import spacy  # noqa: F401  (the import's own memory is the first figure)

    from workers.languages import installed, load_set
    from workers.nlp import BUNDLED_SET

    out: dict[str, Any] = {"after_import_mb": rss_mb(), "after_run_mb_by_lang": {}}
    t0 = time.perf_counter()
    models = load_set(BUNDLED_SET)
    out["load_all_s"] = time.perf_counter() - t0
    out["after_load_all_mb"] = rss_mb()
    out["languages"] = sorted(installed())
    for lang in sorted(models.pipelines):
        texts = news.texts(lang)[:texts_per_lang] or ["Berlin ist eine Stadt."]
        models.entities(texts, languages=[lang] * len(texts))
        out["after_run_mb_by_lang"][lang] = rss_mb()
    out["after_run_mb"] = rss_mb()
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out
