"""The extraction pool's warm-up: `Extractor.warm()` and the model preloaded in the forkserver.

Each case runs in a fresh interpreter: the forkserver is one per process and keeps the
environment and preload it started with, so in the pytest process the outcome would depend on
which test started it first.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import asyncio, json, multiprocessing, sys
from ingest.pool import Extractor, extract_page
from ingest.preload import SAMPLE_URL, sample_page
from newsingest.wiring import PRELOAD
from tests.integration.test_extractor_pool import loaded_pipelines, preloaded

model = sys.argv[1] or None
extractor = Extractor(2, model=model, preload=PRELOAD)  # as in-process mode builds it
asyncio.run(extractor.warm())
started = len(multiprocessing.active_children())  # before any task: warm() started them
pool = extractor.executor()
# In a pool process, before any task asked for it: is the pipeline already loaded?
loaded = pool.submit(loaded_pipelines).result()
warmed = pool.submit(preloaded).result()
article = pool.submit(extract_page, sample_page().encode(), "utf-8", SAMPLE_URL).result()
extractor.close()
print(json.dumps({"started": started, "preloaded": warmed, "loaded": loaded,
                  "words": article.word_count}))
"""


def loaded_pipelines() -> int:
    """In a pool process: how many spaCy pipelines it holds (without loading one)."""
    from workers.nlp import get_pipeline

    return int(get_pipeline.cache_info().currsize)


def preloaded() -> bool:
    """In a pool process: whether it was forked from the warmed forkserver (the preload
    modules are imported, so no task pays for them again)."""
    return all(name in sys.modules for name in ("ingest.preload", "newsingest.preload"))


def run(model: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, model],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_warm_pool_has_the_in_process_model_loaded_before_any_task(test_model: str) -> None:
    warm = run(test_model)
    assert warm["started"] >= 1  # warm() started the pool's processes, not a later task
    assert warm["preloaded"]
    assert warm["loaded"] == 1  # inherited from the forkserver, not loaded by a task
    assert warm["words"] > 20  # and the warm pool extracts pages


def test_without_a_model_the_pool_loads_none() -> None:
    cold = run("")
    assert cold["started"] >= 1
    assert cold["preloaded"]
    assert cold["loaded"] == 0
    assert cold["words"] > 20
