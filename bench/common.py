"""Plumbing every row shares: the plan, statistics, the model, results and the table."""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from bench._corpus import ROOT
from schemas.models import Article, ArticleStatus

if TYPE_CHECKING:  # the rows' plumbing imports this module
    from bench.site import Site
    from bench.workload import Workload

ARCHIVE = "news-pages-trafilatura-eval.tar.xz"
CACHE = ROOT / ".cache" / "bench"
SCAN_VERSION = 1
DEFAULT_REDIS = os.environ.get("NEWSINGEST_BENCH_REDIS", "redis://127.0.0.1:6379/14")
DEFAULT_POSTGRES = os.environ.get(
    "NEWSINGEST_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
ARTICLE: sa.Table = Article.__table__  # type: ignore[attr-defined]
DONE = (
    ArticleStatus.PROCESSED,
    ArticleStatus.SKIPPED,
    ArticleStatus.FAILED,
    ArticleStatus.NOT_ARTICLE,
    ArticleStatus.RETRY,
)
FAKE_BASE = "http://127.0.0.2:8000"  # the URL the bound passes to extract_article

Log = Callable[[str], None]


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Plan:
    """Sizes of every row; ``python -m bench --smoke`` shrinks them all."""

    smoke: bool = False
    repeats: int = 3
    feeds: int = 20
    items: int = 25  # per feed: feeds x items = the end-to-end articles
    e2e_repeats: int = 2
    bound_pages: int = 0  # a sample of the end-to-end articles; 0 = all of them
    scale_articles: int = 192  # 12 batches of 16: a 1-process run takes ~30 s (model 0.2.0)
    scale_repeats: int = 2
    fetch_pages: int = 2000
    fetch_hosts: int = 20
    fetch_delay: float = 0.1
    fetch_per_host: int = 4
    fetch_concurrency: int = 80
    store_articles: int = 1008
    store_entities: int = 20
    store_batch: int = 16
    memory_articles: int = 5000
    memory_chars: int = 1500  # each text cut to this: 5,000 full texts take ~8 min of NER
    memory_checkpoint: int = 1000
    memory_runs: int = 2  # in parallel, one process per core, each on its own database
    latency_entries: int = 30
    latency_rounds: int = 2  # rounds of entries against the same running service
    latency_gap: float = 0.8
    workers: int = 2
    read_articles: int = 200_000  # the read group's generated database (bench/read.py)
    read_repeats: int = 5
    read_store_repeats: int = 3

    @property
    def articles(self) -> int:
        return self.feeds * self.items


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in [0, 100]) of a non-empty sample."""
    data = sorted(values)
    if not data:
        return float("nan")
    pos = (len(data) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (pos - low)


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:  # pragma: no cover - not Linux
        return "?"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


# --------------------------------------------------------------------------- the model


@dataclass
class Model:
    name: str  # what the processes get as NEWSINGEST_SPACY_MODEL
    note: str | None  # set when we fell back to the rule-based pipeline
    pipeline: Any  # workers.nlp.NlpPipeline, loaded in this process


def choose_model(explicit: str | None, log: Log) -> Model:
    """``--model``, else NEWSINGEST_SPACY_MODEL, else the project's default (resolve_model);
    the rule-based fallback, said so, when that model is not installed."""
    from schemas.errors import ConfigError
    from schemas.settings import load_settings
    from workers.nlp import RULES_MODEL, load_pipeline, model_available, resolve_model

    wanted = explicit or os.environ.get("NEWSINGEST_SPACY_MODEL") or ""
    if not wanted:
        wanted = resolve_model(load_settings(_env_file=None))
    try:
        model_available(wanted)
        pipeline = load_pipeline(wanted)
    except ConfigError as exc:
        log(f"model {wanted!r} unavailable ({exc.message.split(' (')[0]}); using {RULES_MODEL}")
        note = (
            f"spaCy model `{wanted}` is not installed: FELL BACK to the rule-based "
            f"`{RULES_MODEL}` pipeline (far cheaper and weaker than a trained model)"
        )
        return Model(RULES_MODEL, note, load_pipeline(RULES_MODEL))
    return Model(wanted, None, pipeline)


# --------------------------------------------------------------------------- results


@dataclass
class Row:
    """One line of the table."""

    key: str  # stable name (the smoke test checks these)
    title: str
    measured: str
    size: str  # how many articles/pages
    runs: list[float]
    unit: str
    value: float  # the median, or the ratio the target applies to
    shown: str  # the median column as displayed
    target: str = "report"
    passed: bool | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Bench:
    plan: Plan
    workload: Workload
    workdir: Path
    postgres: str
    redis: str
    log: Log
    bases: list[str] = field(default_factory=list)  # the no-delay server's base URLs
    server_pid: int = 0
    site: Site | None = None
    rows: list[Row] = field(default_factory=list)
    bound: float | None = None  # articles/s of the whole machine (row 1 x cores)
    bound_cpu: float | None = None  # articles per CPU second of the bound's process

    @property
    def model(self) -> Model:
        return self.workload.model

    def env(self, **values: str) -> dict[str, str]:
        from bench.services import service_env

        return service_env(spacy_model=self.model.name, **values)

    def ratio(self, rate: float) -> float:
        return rate / self.bound if self.bound else float("nan")

    def cpu_ratio(self, per_cpu_second: float) -> float:
        """Articles per CPU second of the pipeline's processes over the bound's: 1 = no
        CPU spent beyond the plain loop's; independent of other users of the machine."""
        return per_cpu_second / self.bound_cpu if self.bound_cpu else float("nan")


def fmt(value: float, digits: int = 1) -> str:
    if value != value:  # NaN
        return "n/a"
    return f"{value:,.{digits}f}"


def runs_text(values: Sequence[float], digits: int = 1) -> str:
    return ", ".join(fmt(v, digits) for v in values)
