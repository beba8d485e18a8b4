"""Row 1: the bound, extraction + NER in one process per core, no I/O."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench._corpus import ROOT
from bench.common import FAKE_BASE, Bench, Row, fmt, median, runs_text
from bench.site import Proc

# --------------------------------------------------------------------------- row 1: bound


def bound_child(
    model: str, pages: list[tuple[str, str]], warmup: list[tuple[str, str]]
) -> dict[str, Any]:
    """One run of the bound in a fresh process (no cache left by an earlier run): a plain
    loop doing what the pipeline does per article, minus the I/O."""
    from ingest.extract import DEFAULT_OPTIONS, decode_html, extract_article
    from schemas.errors import NotAnArticle
    from workers.nlp import detect_language, load_pipeline

    pipeline = load_pipeline(model)
    bodies = [(url, Path(path).read_bytes()) for url, path in pages]
    # Warm-up on other pages, untimed: imports, py3langid's model, and dateparser's tables
    # for its ~200 locales (built on the first date it is handed; ~5 s of CPU).
    if warmup:
        from htmldate.extractors import _external_date

        _external_date("no date in 999 here")
    for url, path in warmup:
        with contextlib.suppress(NotAnArticle):
            art = extract_article(decode_html(Path(path).read_bytes(), None), url=url)
            pipeline.entities([art.text])
            detect_language(art.text)
    batch = 16
    done = ner = 0
    started = time.perf_counter()
    cpu_started = time.process_time()
    for start in range(0, len(bodies), batch):
        texts = []
        languages: list[str | None] = []
        for url, body in bodies[start : start + batch]:
            try:
                art = extract_article(decode_html(body, None), url=url, options=DEFAULT_OPTIONS)
            except NotAnArticle:
                continue
            language = art.language or detect_language(art.text)
            if pipeline.covers(language):
                texts.append(art.text)
                languages.append(language)
            done += 1
        pipeline.entities(texts, batch_size=batch, languages=languages)
        ner += len(texts)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    return {
        "articles": done,
        "ner": ner,
        "seconds": elapsed,
        "rate": done / elapsed,
        "cpu_rate": done / cpu,
    }


def row_bound(b: Bench) -> None:
    """trafilatura + NER in one plain loop over pages in memory: articles/s on one core."""
    # A systematic sample of the end-to-end articles (every k-th), so that the bound does the
    # same mix of pages; warm-up pages are pages no row uses.
    pool = min(b.plan.articles, len(b.workload.pages))
    step = max(1, -(-pool // b.plan.bound_pages)) if b.plan.bound_pages else 1
    indices = list(range(0, pool, step))
    count = len(indices)
    pages = [(f"{FAKE_BASE}/a/{i:05d}.html", str(b.workload.page(i).path)) for i in indices]
    spare = len(b.workload.pages) - pool
    warmup = [
        (f"{FAKE_BASE}/a/{i:05d}.html", str(b.workload.page(i).path))
        for i in range(len(b.workload.pages) - min(3, spare), len(b.workload.pages))
    ]
    job = b.workdir / "bound.json"
    if b.plan.smoke:
        warmup = []  # a smoke run measures nothing: save the warm-up's seconds
    job.write_text(json.dumps({"pages": pages, "warmup": warmup}), "utf-8")
    runs: list[float] = []
    cpu_runs: list[float] = []
    ner = 0
    for r in range(b.plan.repeats):
        result = run_child(b, ["bound", "--model", b.model.name, "--job", str(job)], 600)
        runs.append(float(result["rate"]))
        cpu_runs.append(float(result["cpu_rate"]))
        ner = int(result["ner"])
        b.log(
            f"bound run {r + 1}: {runs[-1]:.2f} articles/s on one core "
            f"({cpu_runs[-1]:.2f} per CPU second)"
        )
    per_core = median(runs)
    b.bound = per_core * b.plan.workers
    b.bound_cpu = median(cpu_runs)
    b.rows.append(
        Row(
            key="bound",
            title="Bound: trafilatura + NER, one process",
            measured="plain loop, a fresh process per run: decode_html + extract_article + "
            "language + NlpPipeline.entities (batches of 16, articles in a covered language), "
            "pages read from memory; untimed warm-up on other pages first",
            size=f"{count} pages: one in {step} of the end-to-end articles ({ner} through NER)"
            if step > 1
            else f"{count} pages: the end-to-end articles ({ner} through NER)",
            runs=runs,
            unit="articles/s per core",
            value=per_core,
            shown=f"{fmt(per_core, 2)} articles/s per core; x {b.plan.workers} cores = "
            f"**{fmt(b.bound, 2)} articles/s** (the bound)",
            notes=[
                f"per CPU second of the process (what a core would do with no other user): "
                f"{runs_text(cpu_runs, 2)}; median {fmt(b.bound_cpu, 2)}"
            ],
        )
    )


def run_child(b: Bench, args: Sequence[str], timeout: float) -> dict[str, Any]:
    """``python -m bench.pipeline ARGS`` in the scratch directory; its last line as JSON."""
    env = b.env()
    env["PYTHONPATH"] = str(ROOT)
    with Proc([sys.executable, "-m", "bench.pipeline", *args], env, b.workdir) as proc:
        code = proc.wait(timeout)
        proc.stop()  # joins the reader: every line is in
        if code != 0 or not proc.lines:
            raise RuntimeError(f"{args[0]} child exited {code}:\n{proc.output[-3000:]}")
        result: dict[str, Any] = json.loads(proc.lines[-1])
        return result
