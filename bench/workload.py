"""The corpus pages a run uses: which are articles, in which language, in a fixed shuffle."""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench._corpus import unpack
from bench.common import ARCHIVE, CACHE, SCAN_VERSION, Log, Model, Plan, cores

# --------------------------------------------------------------------------- the corpus


@dataclass(frozen=True, slots=True)
class Page:
    key: str
    path: Path

    def read(self) -> bytes:
        return self.path.read_bytes()


@dataclass(frozen=True, slots=True)
class Scanned:
    """One corpus page through ``extract_article`` with the default options."""

    ok: bool
    language: str | None
    text: str


def corpus_pages() -> list[Page]:
    here = unpack(ARCHIVE) / "trafilatura_eval" / "tests"
    data: dict[str, dict[str, Any]] = json.loads((here / "evaldata.json").read_text("utf-8"))
    pages = []
    for key in sorted(data):
        path = here / "cache" / data[key]["file"]
        if not path.is_file():
            path = here / "eval" / data[key]["file"]
        if path.is_file():
            pages.append(Page(key, path))
    return pages


def _scan_one(key: str, path: str) -> tuple[str, bool, str | None, str]:
    """Pool worker: extract one page like the fetcher does (module level, so it pickles)."""
    from ingest.extract import DEFAULT_OPTIONS, decode_html, extract_article
    from schemas.errors import NotAnArticle
    from workers.nlp import detect_language

    try:
        art = extract_article(
            decode_html(Path(path).read_bytes(), None), url=None, options=DEFAULT_OPTIONS
        )
    except NotAnArticle:
        return key, False, None, ""
    return key, True, art.language or detect_language(art.text), art.text


def _scan_fingerprint() -> str:
    import trafilatura

    from ingest.extract import DEFAULT_OPTIONS

    archive = unpack(ARCHIVE)
    marker = archive / ".unpacked"
    stamp = marker.stat().st_mtime_ns if marker.exists() else 0
    return f"v{SCAN_VERSION} trafilatura {trafilatura.__version__} {DEFAULT_OPTIONS!r} {stamp}"


def scan_corpus(
    pages: Sequence[Page],
    covers: Callable[[str | None], bool],
    want: tuple[int, int] | None,
    log: Log,
) -> dict[str, Scanned]:
    """Extract pages in the given order (cached in .cache/bench/scan.json): until ``want`` =
    (articles, articles in a covered language) are known, in this process; or all of them
    when ``want`` is None, with one process per core."""
    CACHE.mkdir(parents=True, exist_ok=True)
    cache_file = CACHE / "scan.json"
    fingerprint = _scan_fingerprint()
    known: dict[str, Scanned] = {}
    if cache_file.is_file():
        with contextlib.suppress(ValueError, KeyError, TypeError):
            raw = json.loads(cache_file.read_text("utf-8"))
            if raw["fingerprint"] == fingerprint:
                known = {k: Scanned(v[0], v[1], v[2]) for k, v in raw["pages"].items()}

    def enough() -> bool:
        if want is None:
            return False
        ok = [s for s in known.values() if s.ok]
        return len(ok) >= want[0] and sum(1 for s in ok if covers(s.language)) >= want[1]

    todo = [p for p in pages if p.key not in known]
    if todo and not enough():
        log(f"scanning the corpus ({len(todo)} pages not cached yet) ...")
        with contextlib.ExitStack() as stack:
            mapper: Callable[..., Iterator[tuple[str, bool, str | None, str]]] = map
            if want is None:  # all of it: one process per core
                import multiprocessing

                mapper = stack.enter_context(
                    ProcessPoolExecutor(cores(), mp_context=multiprocessing.get_context("spawn"))
                ).map
            chunk = max(8, 4 * cores())
            for start in range(0, len(todo), chunk):
                part = todo[start : start + chunk]
                for key, ok, language, text in mapper(
                    _scan_one, [p.key for p in part], [str(p.path) for p in part]
                ):
                    known[key] = Scanned(ok, language, text)
                if enough():
                    break
        tmp = cache_file.with_suffix(".tmp")
        tmp.write_text(
            json.dumps(
                {
                    "fingerprint": fingerprint,
                    "pages": {k: [s.ok, s.language, s.text] for k, s in known.items()},
                }
            ),
            "utf-8",
        )
        tmp.replace(cache_file)
    return known


@dataclass
class Workload:
    """The article pages (those that extract to an article), in a fixed shuffle (seed 0);
    article ``i`` of any row is page ``i`` (cycled past the end)."""

    model: Model
    pages: list[Page]
    scanned: dict[str, Scanned]
    corpus_size: int

    def page(self, index: int) -> Page:
        return self.pages[index % len(self.pages)]

    def text(self, index: int) -> tuple[str, str | None]:
        """(text, language) of article ``index`` as the fetcher stored it."""
        found = self.scanned[self.page(index).key]
        return found.text, found.language

    def covered(self, index: int) -> bool:
        return bool(self.model.pipeline.covers(self.text(index)[1]))

    def covered_texts(self) -> list[tuple[str, str | None]]:
        """Texts that go through NER (a covered language); all of them, marked with the
        model's language, if the model covers none."""
        found = [self.text(i) for i in range(len(self.pages)) if self.covered(i)]
        if found:
            return found
        language = sorted(self.model.pipeline.languages)[0]
        return [(self.text(i)[0], language) for i in range(len(self.pages))]


def build_workload(model: Model, plan: Plan, log: Log) -> Workload:
    pages = corpus_pages()
    random.Random(0).shuffle(pages)
    want = (max(plan.articles, plan.bound_pages + 4), 4) if plan.smoke else None
    known = scan_corpus(pages, model.pipeline.covers, want, log)
    articles = [p for p in pages if p.key in known and known[p.key].ok]
    if not articles:
        raise SystemExit("no corpus page extracts to an article")
    return Workload(model, articles, known, len(pages))
