"""The pipeline benchmarks behind ``python -m bench``: what each row runs, and its plumbing.

Everything runs against real things: the trafilatura evaluation pages served over HTTP by
``python -m bench.origin`` in a subprocess (so the server never competes for the GIL of a
measured process, and spends as little of the shared CPU as it can) on loopback addresses
127.0.0.2 and up, RSS feeds generated for them, the
local PostgreSQL (a throwaway database per row, dropped afterwards), Redis (database 14 by
default, flushed before and after) and ``newsingest`` processes (``poll``, ``worker``,
``run``). Nothing is sent outside 127.0.0.0/8.

The articles are the corpus pages that trafilatura extracts to an article, in a fixed
shuffle: article ``i`` of every row is page ``i``, so the articles of a row are distinct pages
(trafilatura and htmldate cache by content: repeating a page in one process would flatter
it). NER runs on the articles in a language the model covers, as in the pipeline. The corpus
scan that finds the article pages and their languages is cached in ``.cache/bench/`` (the
first run pays it once, about 1-2 minutes).

``python -m bench.pipeline memory|bound ...`` are the child processes of those rows.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html as html_module
import itertools
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bench._corpus import ROOT, unpack
from schemas.db import make_engine, session_scope, upgrade
from schemas.models import Article, ArticleStatus
from schemas.urls import normalize_url, url_hash

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


# --------------------------------------------------------------------------- the site


def rss(title: str, items: Sequence[tuple[str, str, datetime]]) -> str:
    entries = "".join(
        f"<item><title>{html_module.escape(t)}</title><link>{html_module.escape(link)}</link>"
        f"<guid>{html_module.escape(link)}</guid>"
        f"<pubDate>{format_datetime(when, usegmt=True)}</pubDate></item>\n"
        for t, link, when in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{html_module.escape(title)}</title><link>http://127.0.0.1/</link>"
        f"<description>bench</description>\n{entries}</channel></rss>\n"
    )


class Site:
    """A routes directory for ``bench.origin``: ``a/NNNNN.html`` (hard links to corpus
    pages, cycled) and ``feeds/*.xml``."""

    def __init__(self, root: Path, workload: Workload) -> None:
        self.root = root
        self.workload = workload
        (root / "a").mkdir(parents=True, exist_ok=True)
        (root / "feeds").mkdir(parents=True, exist_ok=True)

    def page_path(self, index: int) -> str:
        path = f"a/{index:05d}.html"
        target = self.root / path
        if not target.exists():
            source = self.workload.page(index).path
            try:
                os.link(source, target)
            except OSError:
                target.write_bytes(source.read_bytes())
        return path

    def write_feed(self, name: str, title: str, items: Sequence[tuple[str, str, datetime]]) -> str:
        """Write (atomically: the server may be reading it) and return the feed's path."""
        path = f"feeds/{name}.xml"
        tmp = self.root / f"feeds/.{name}.tmp"
        tmp.write_text(rss(title, items), "utf-8")
        tmp.replace(self.root / path)
        return path


def hosts(n: int) -> list[str]:
    return [f"127.0.0.{2 + i}" for i in range(n)]


@dataclass
class FeedSet:
    urls: list[str]  # feed URLs
    articles: list[str]  # normalised article URLs, in feed order


def make_feeds(site: Site, bases: Sequence[str], feeds: int, items: int, tag: str) -> FeedSet:
    """``feeds`` RSS feeds of ``items`` articles; feed k and its pages on host k."""
    now = datetime.now(UTC).replace(microsecond=0)
    feed_urls: list[str] = []
    articles: list[str] = []
    for k in range(feeds):
        base = bases[k % len(bases)]
        entries = []
        for j in range(items):
            index = k * items + j
            link = f"{base}/{site.page_path(index)}"
            entries.append((f"Story {index}", link, now - timedelta(minutes=index)))
            articles.append(normalize_url(link))
        feed_urls.append(f"{base}/{site.write_feed(f'{tag}-{k:02d}', f'Feed {k}', entries)}")
    return FeedSet(feed_urls, articles)


# --------------------------------------------------------------------------- processes


class Proc:
    """A subprocess whose merged stdout/stderr is drained by a thread (never blocks on a
    full pipe); ``marked_at`` is the wall time the first line containing ``marker`` arrived."""

    def __init__(
        self, args: Sequence[str], env: dict[str, str], cwd: Path, marker: str | None = None
    ) -> None:
        self.marker = marker
        self.marked_at: float | None = None
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            list(args),
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if self.marker and self.marked_at is None and self.marker in line:
                self.marked_at = time.time()
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise RuntimeError(
                f"{self.proc.args!r} still running after {timeout:.0f}s:\n{self.output[-3000:]}"
            ) from None

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._reader.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode

    def __enter__(self) -> Proc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def http_server(root: Path, addresses: Sequence[str], delay: float = 0.0) -> Iterator[Server]:
    """``python -m bench.origin`` serving ``root`` on ``addresses``; yields base URLs."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.origin",
            "--hosts",
            ",".join(addresses),
            "--routes-dir",
            str(root),
            "--delay",
            str(delay),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    bases: list[str] = []
    other: list[str] = []
    drain: threading.Thread | None = None
    try:
        while len(bases) < len(addresses):
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("loopback server did not start:\n" + "".join(other))
            if line.startswith("READY "):
                bases.append(line.split()[1])
            else:
                other.append(line)
        drain = threading.Thread(target=proc.stdout.read, daemon=True)
        drain.start()
        yield Server(bases, proc.pid)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if drain is not None:
            drain.join(5)
        proc.stdout.close()


@dataclass(frozen=True)
class Server:
    bases: list[str]  # http://127.0.0.N:PORT, one per address
    pid: int


# --------------------------------------------------------------------------- CPU accounting

CLK_TCK = os.sysconf("SC_CLK_TCK")
#: The groups the pipeline's own CPU is counted in (the rest is the HTTP server, this bench
#: process and other users of the machine).
PIPELINE_GROUPS = ("poll", "poll pool", "workers", "workers pool", "PostgreSQL", "Redis")


def pid_cpu(pid: int) -> float:
    """User + system CPU seconds of one live process (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            data = stat.read()
    except OSError:
        return 0.0
    fields = data[data.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def process_tree(pid: int) -> list[int]:
    found = [pid]
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as children:
                for child in children.read().split():
                    found += process_tree(int(child))
    return found


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as comm:
            return comm.read().strip()
    except OSError:
        return ""


def _machine() -> tuple[float, float]:
    """(busy, idle) CPU seconds of the machine since boot."""
    with open("/proc/stat", encoding="ascii") as stat:
        user, nice, system, idle, iowait, irq, softirq, steal = (
            int(v) for v in stat.readline().split()[1:9]
        )
    return (user + nice + system + irq + softirq + steal) / CLK_TCK, (idle + iowait) / CLK_TCK


class CpuSampler:
    """Where the machine's CPU goes during a run, by group of processes: every process is
    sampled every 0.5 s (so processes that exit before the end, like a poll run's pool, are
    counted up to their last sample). ``roots`` name process trees (``poll``, ``workers``,
    ``HTTP server``); PostgreSQL and Redis are found by name; the rest is ``other``."""

    def __init__(self, roots: dict[str, int], *, sample: bool = True) -> None:
        self.roots = dict(roots)
        self.base: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.group: dict[int, str] = {}
        self.started = time.monotonic()
        self.machine = _machine()
        self.ended = self.started
        self.machine_end = self.machine
        self._first = True
        self.idle_trace: list[tuple[float, float]] = []  # (monotonic, machine idle seconds)
        self._stop = threading.Event()
        self._tick()
        # sample=False: no thread in this process (when this process is the one measured);
        # only processes alive at both ends are then counted by name.
        self._thread = threading.Thread(target=self._run, daemon=True)
        if sample:
            self._thread.start()

    def _classify(self, pid: int, roots: dict[str, int], trees: dict[str, set[int]]) -> str:
        if pid == os.getpid():
            return "bench"
        for name, members in trees.items():
            if pid in members:
                return name if pid == roots[name] else f"{name} pool"
        comm = _comm(pid)
        if comm == "postgres":
            return "PostgreSQL"
        if comm.startswith("redis-server"):
            return "Redis"
        return "other"

    def _tick(self) -> None:
        roots = dict(self.roots)  # the caller may add one meanwhile
        trees = {name: set(process_tree(root)) for name, root in roots.items()}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            value = pid_cpu(pid)
            if pid not in self.last:
                self.base[pid] = value if self._first else 0.0
            self.last[pid] = max(value, self.last.get(pid, 0.0))
            if self.group.get(pid, "other") == "other":
                self.group[pid] = self._classify(pid, roots, trees)
        self._first = False
        self.idle_trace.append((time.monotonic(), _machine()[1]))

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self._tick()

    def stop(self) -> CpuSampler:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        self._tick()
        self.ended = time.monotonic()
        self.machine_end = _machine()
        return self

    def seconds(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for pid, value in self.last.items():
            group = self.group.get(pid, "other")
            out[group] = out.get(group, 0.0) + value - self.base.get(pid, 0.0)
        return out

    def idle_timeline(self, since: float | None = None) -> str:
        """Idle cores, second by second (for the log: where the run left cores unused)."""
        trace = [(t, idle) for t, idle in self.idle_trace if since is None or t >= since]
        cells = []
        for (t0, i0), (t1, i1) in itertools.pairwise(trace[::2]):
            cells.append(f"{(i1 - i0) / max(t1 - t0, 1e-9):.1f}")
        return " ".join(cells)

    def pipeline(self) -> float:
        """CPU seconds of the pipeline's own processes (its groups, services included)."""
        found = self.seconds()
        return sum(found.get(g, 0.0) for g in PIPELINE_GROUPS)

    def share(self, group: str) -> float:
        """The fraction of the machine's CPU (all cores, over the run) ``group`` used;
        ``other`` is everything the named groups did not use (kernel time included)."""
        capacity = cores() * max(self.ended - self.started, 1e-9)
        found = self.seconds()
        if group == "other":
            busy = self.machine_end[0] - self.machine[0]
            return max(0.0, busy - sum(v for g, v in found.items() if g != "other")) / capacity
        return found.get(group, 0.0) / capacity

    def note(self, labels: dict[str, str]) -> str:
        wall = self.ended - self.started
        found = self.seconds()
        busy = self.machine_end[0] - self.machine[0]
        idle = self.machine_end[1] - self.machine[1]
        parts = [
            f"{labels.get(g, g)} {found[g]:.1f} s"
            for g in (*PIPELINE_GROUPS, "HTTP server", "bench", "other")
            if found.get(g, 0.0) >= 0.05
        ]
        unattributed = busy - sum(found.values())
        parts.append(f"unattributed (kernel) {max(0.0, unattributed):.1f} s")
        parts.append(f"idle {idle:.1f} s")
        return (
            f"CPU over the run ({cores()} cores x {wall:.0f} s = {cores() * wall:.0f} s): "
            + ", ".join(parts)
        )


GROUP_LABELS = {
    "poll": "fetcher (`newsingest run`/`poll`) main process",
    "poll pool": "its pool processes",
    "workers": "Celery worker main process",
    "workers pool": "its prefork children",
    "bench": "this bench process",
    "other": "**other users' processes**",
}


def newsingest_exe() -> str:
    from tests.support.cli import EXE

    if not EXE:
        raise SystemExit("the newsingest console script is not installed in this venv")
    return EXE


def service_env(**values: str) -> dict[str, str]:
    from tests.support.cli import service_env as env

    # No stray .env: the processes run in a scratch directory (cwd), see Bench.workdir.
    return env(log_level="INFO", **values)


@contextlib.contextmanager
def celery_worker(env: dict[str, str], concurrency: int, cwd: Path) -> Iterator[Any]:
    from tests.support.workerproc import celery_worker as worker

    with worker(env, "--concurrency", str(concurrency), cwd=cwd, ready_timeout=120) as proc:
        time.sleep(1.0)  # the children load the model in worker_process_init
        yield proc


# --------------------------------------------------------------------------- services


@contextlib.contextmanager
def pg_database(admin_url: str, tag: str) -> Iterator[str]:
    """A throwaway PostgreSQL database with the schema, dropped afterwards."""
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"newsingest_bench_{tag}_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = sa.engine.make_url(admin_url).set(database=name).render_as_string(False)
        try:
            upgrade(url)
            yield url
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        client.flushdb()
    finally:
        client.close()


@contextlib.contextmanager
def engine_for(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def add_feeds(engine: Engine, urls: Sequence[str], poll_interval: int = 900) -> None:
    from ingest.feedlist import add_feeds as add

    with session_scope(engine) as session:
        result = add(session, list(urls), poll_interval=poll_interval)
        if result.invalid or len(result.added) != len(urls):
            raise RuntimeError(f"feeds not added: {result}")


def reset_postgres(engine: Engine) -> None:
    """Back to "feeds subscribed, nothing fetched" between repeats."""
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE mention, entity, article, dead_letter RESTART IDENTITY"))
        conn.execute(
            sa.text(
                "UPDATE feed SET etag = NULL, last_modified = NULL, body_hash = NULL, "
                "next_poll_at = now(), locked_until = NULL, lock_owner = NULL, "
                "consecutive_failures = 0"
            )
        )


@dataclass
class Progress:
    statuses: dict[str, int]
    last_processed: datetime | None

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    @property
    def done(self) -> int:
        return sum(n for s, n in self.statuses.items() if s in DONE)

    @property
    def processed(self) -> int:
        return self.statuses.get(ArticleStatus.PROCESSED, 0) + self.statuses.get(
            ArticleStatus.SKIPPED, 0
        )


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def progress(engine: Engine, like: str | None = None) -> Progress:
    where = ARTICLE.c.url.like(like) if like else sa.true()
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(ARTICLE.c.status, sa.func.count()).where(where).group_by(ARTICLE.c.status)
        ).all()
        last = conn.execute(sa.select(sa.func.max(ARTICLE.c.processed_at)).where(where)).scalar()
    return Progress({str(s): int(n) for s, n in rows}, _utc(last))


def wait_done(
    engine: Engine,
    expected: int,
    timeout: float,
    *,
    like: str | None = None,
    poll_every: float = 0.2,
) -> Progress:
    """Wait until ``expected`` articles reached a final status; the last state otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        state = progress(engine, like)
        if state.done >= expected or time.monotonic() > deadline:
            return state
        # The rate is timed by the rows' own processed_at, not by this loop: poll slowly,
        # so that the bench's queries take little of the PostgreSQL CPU it measures.
        time.sleep(poll_every)


def load_articles(
    engine: Engine, prefix: str, texts: Sequence[tuple[str, str | None]]
) -> list[str]:
    """Insert articles as ``queued`` (extracted, waiting for entities); their URL hashes."""
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for i, (text, language) in enumerate(texts):
        url = f"{prefix}{i:05d}.html"
        rows.append(
            {
                "url": url,
                "url_hash": url_hash(url),
                "title": f"Article {i}",
                "authors": [],
                "language": language,
                "text": text,
                "word_count": len(text.split()),
                "status": ArticleStatus.QUEUED,
                "attempts": 1,
                "fetched_at": now,
            }
        )
    with engine.begin() as conn:
        for start in range(0, len(rows), 500):
            conn.execute(sa.insert(ARTICLE), rows[start : start + 500])
    return [r["url_hash"] for r in rows]


def requeue(engine: Engine, like: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM mention"))
        conn.execute(sa.text("DELETE FROM entity"))
        conn.execute(
            sa.update(ARTICLE)
            .where(ARTICLE.c.url.like(like))
            .values(
                status=ArticleStatus.QUEUED,
                status_reason=None,
                processed_at=None,
                nlp_model=None,
                nlp_model_version=None,
            )
        )


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
        for url, body in bodies[start : start + batch]:
            try:
                art = extract_article(decode_html(body, None), url=url, options=DEFAULT_OPTIONS)
            except NotAnArticle:
                continue
            if pipeline.covers(art.language or detect_language(art.text)):
                texts.append(art.text)
            done += 1
        pipeline.entities(texts, batch_size=batch)
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


# --------------------------------------------------------------------------- row 2 and 3


def _poll(b: Bench, env: dict[str, str], timeout: float, cpu: CpuSampler) -> tuple[float, float]:
    """``newsingest poll --all`` (its process tree counted by ``cpu`` as ``poll``): the wall
    times of its first request and of its exit."""
    started = time.time()
    with Proc(
        [newsingest_exe(), "poll", "--all", "--inline"], env, b.workdir, marker="polling "
    ) as proc:
        cpu.roots["poll"] = proc.proc.pid
        code = proc.wait(timeout)
        ended = time.time()
        proc.stop()
        if code != 0:
            raise RuntimeError(f"newsingest poll exited {code}:\n{proc.output[-3000:]}")
        return proc.marked_at or started, ended


@dataclass
class E2eRun:
    rate: float  # articles/s, first request to last row processed
    cpu_ratio: float
    note: str


def _e2e_run(
    b: Bench,
    engine: Engine,
    env: dict[str, str],
    roots: dict[str, int],
    *,
    service: bool,
    label: str,
) -> E2eRun:
    """One end-to-end run over the subscribed feeds (all due).

    ``service``: ``newsingest run`` (the long-running fetcher) is started and warms its
    extraction pool before its first poll; timing and CPU start at that poll's first line
    (as the bound's timing starts after its warm-up, and the workers are running already).
    Otherwise ``newsingest poll --all`` is timed from its first request, start-up included.
    """
    n = b.plan.articles
    timeout = _e2e_timeout(b)
    if service:
        with Proc(
            [newsingest_exe(), "run", "--max-wait", "1"], env, b.workdir, marker="polling "
        ) as proc:
            deadline = time.monotonic() + 180
            while proc.marked_at is None:
                if proc.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"newsingest run did not poll:\n{proc.output[-3000:]}")
                time.sleep(0.02)
            first = proc.marked_at
            cpu = CpuSampler({**roots, "poll": proc.proc.pid})
            state = wait_done(engine, n, timeout, poll_every=0.5)
            cpu.stop()
            code = proc.stop()
            if code != 0:
                raise RuntimeError(f"newsingest run exited {code}:\n{proc.output[-3000:]}")
            ready = next((line.strip() for line in proc.lines if "pool ready" in line), "")
        done_note = f"`newsingest run` start-up before its first poll: {ready or 'no pool'}"
    else:
        cpu = CpuSampler(dict(roots))
        first, poll_end = _poll(b, env, timeout, cpu)
        state = wait_done(engine, n, timeout, poll_every=0.5)
        cpu.stop()
        done_note = f"poll process done at {poll_end - first:.1f} s"
    if state.done < n or state.last_processed is None:
        raise _unfinished(state, n, "")
    elapsed = state.last_processed.timestamp() - first
    rate = state.processed / elapsed
    b.log(f"{label}: {rate:.2f} articles/s ({state.statuses}; last row at {elapsed:.1f}s)")
    b.log(cpu.note(GROUP_LABELS))
    b.log(f"idle cores per second: {cpu.idle_timeline()}")
    note = f"{done_note}; last article processed at {elapsed:.1f} s. {cpu.note(GROUP_LABELS)}"
    if state.processed != n:
        note += f" Statuses {state.statuses}."
    return E2eRun(rate, b.cpu_ratio(state.processed / cpu.pipeline()), note)


def _e2e_timeout(b: Bench) -> float:
    expected = 5 * b.plan.articles / max(b.bound or 1.0, 1.0)
    return expected + (60 if b.plan.smoke else 120)


def _unfinished(state: Progress, expected: int, output: str) -> RuntimeError:
    return RuntimeError(
        f"only {state.done} of {expected} articles finished ({state.statuses}); is another "
        f"consumer reading the same Redis database? Worker output:\n{output[-3000:]}"
    )


def _e2e_row(
    b: Bench, key: str, title: str, measured: str, runs: list[E2eRun], cold: E2eRun | None
) -> None:
    rate = median([r.rate for r in runs])
    ratio = b.ratio(rate)
    notes = [f"run {i + 1}: {r.note}" for i, r in enumerate(runs)]
    if cold is not None:
        notes.append(
            f"cold, `newsingest poll --all` as from cron (start-up and pool warm-up inside the "
            f"timing, one run): {fmt(cold.rate, 2)} articles/s = {fmt(b.ratio(cold.rate), 2)} x "
            f"bound; CPU-normalised {fmt(cold.cpu_ratio, 2)} x. {cold.note}"
        )
    b.rows.append(
        Row(
            key=key,
            title=title,
            measured=measured,
            size=f"{b.plan.articles} articles ({b.plan.feeds} feeds x {b.plan.items})",
            runs=[r.rate for r in runs],
            unit="articles/s",
            value=ratio,
            shown=f"{fmt(rate, 2)} articles/s = **{fmt(ratio, 2)} x bound**; CPU-normalised "
            f"{fmt(median([r.cpu_ratio for r in runs]), 2)} x",
            target="ratio >= 0.85",
            passed=ratio >= 0.85,
            notes=notes,
        )
    )


def row_e2e_redis(b: Bench) -> None:
    plan = b.plan
    assert b.site is not None
    runs: list[E2eRun] = []
    cold: E2eRun | None = None
    with pg_database(b.postgres, "e2e") as db_url, engine_for(db_url) as engine:
        feeds = make_feeds(b.site, b.bases, plan.feeds, plan.items, "e2e")
        add_feeds(engine, feeds.urls)
        env = b.env(
            database_url=db_url,
            broker_url=b.redis,
            concurrency=str(plan.workers),
            allowed_networks="127.0.0.0/8",
        )
        flush_redis(b.redis)
        with celery_worker(env, plan.workers, b.workdir) as worker:
            roots = {"workers": worker.proc.pid, "HTTP server": b.server_pid}
            for r in range(plan.e2e_repeats + (0 if plan.smoke else 1)):
                reset_postgres(engine)
                service = r < plan.e2e_repeats
                label = f"e2e redis run {r + 1}" if service else "e2e redis cold run"
                try:
                    run = _e2e_run(b, engine, env, roots, service=service, label=label)
                except RuntimeError as exc:
                    raise RuntimeError(f"{exc}\nWorker output:\n{worker.output[-3000:]}") from None
                if service:
                    runs.append(run)
                else:
                    cold = run
    flush_redis(b.redis)
    _e2e_row(
        b,
        "e2e_redis",
        "End to end, Redis + PostgreSQL",
        f"`newsingest run` (the long-running fetcher, {plan.workers} extraction processes, "
        f"warmed before its first poll) -> HTTP from a loopback server -> trafilatura -> Redis "
        f"-> `newsingest worker --concurrency {plan.workers}` -> PostgreSQL; its first poll's "
        "start to the last article row processed",
        runs,
        cold,
    )


def row_e2e_inprocess(b: Bench) -> None:
    plan = b.plan
    assert b.site is not None
    runs: list[E2eRun] = []
    cold: E2eRun | None = None
    feeds = make_feeds(b.site, b.bases, plan.feeds, plan.items, "e2e")
    for r in range(plan.e2e_repeats + (0 if plan.smoke else 1)):
        db = b.workdir / f"inprocess-{r}.db"
        url = f"sqlite:///{db}"
        upgrade(url)
        service = r < plan.e2e_repeats
        with engine_for(url) as engine:
            add_feeds(engine, feeds.urls)
            env = b.env(
                database_url=url, concurrency=str(plan.workers), allowed_networks="127.0.0.0/8"
            )
            label = f"e2e in-process run {r + 1}" if service else "e2e in-process cold run"
            run = _e2e_run(
                b, engine, env, {"HTTP server": b.server_pid}, service=service, label=label
            )
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        if service:
            runs.append(run)
        else:
            cold = run
    _e2e_row(
        b,
        "e2e_inprocess",
        "End to end, in-process (no Redis, SQLite)",
        f"`newsingest run` with NEWSINGEST_CONCURRENCY={plan.workers} (pool and model warmed "
        "before its first poll): fetch, trafilatura and NER in one process tree -> SQLite; its "
        "first poll's start to the last article row processed",
        runs,
        cold,
    )


# --------------------------------------------------------------------------- row 4: scaling


def row_scaling(b: Bench) -> None:
    from ingest.enqueue import CeleryEnqueuer
    from schemas.queue import make_app
    from schemas.settings import load_settings

    plan = b.plan
    n = plan.scale_articles
    measured = "https://bench.invalid/scale/"
    warm = "https://bench.invalid/warm/"
    rates: dict[int, list[float]] = {}
    others: dict[int, list[float]] = {}  # share of the machine other users took, per run
    per_cpu: dict[int, list[float]] = {}  # articles per CPU second of the prefork children
    with pg_database(b.postgres, "scale") as db_url, engine_for(db_url) as engine:
        covered = b.workload.covered_texts()
        texts = [covered[i % len(covered)] for i in range(n)]
        hashes = load_articles(engine, measured, texts)
        settings = load_settings(_env_file=None, database_url=db_url, broker_url=b.redis)
        app = make_app(settings)
        enqueuer = CeleryEnqueuer(app, batch_size=settings.nlp_batch_size)
        try:
            for workers in (1, plan.workers):
                flush_redis(b.redis)
                env = b.env(database_url=db_url, broker_url=b.redis)
                with celery_worker(env, workers, b.workdir) as worker:
                    # Warm-up: one batch per process, not measured.
                    warm_hashes = load_articles(engine, f"{warm}{workers}/", texts[: 16 * workers])
                    enqueuer.send(warm_hashes)
                    wait_done(engine, len(warm_hashes), 120, like=f"{warm}{workers}/%")
                    for r in range(min(plan.repeats, plan.scale_repeats)):
                        requeue(engine, f"{measured}%")
                        cpu = CpuSampler({"workers": worker.proc.pid})
                        started = time.time()
                        enqueuer.send(hashes)
                        state = wait_done(engine, n, 60 + 2 * n, like=f"{measured}%")
                        cpu.stop()
                        if state.last_processed is None or state.done < n:
                            raise _unfinished(state, n, worker.output)
                        rate = n / (state.last_processed.timestamp() - started)
                        rates.setdefault(workers, []).append(rate)
                        others.setdefault(workers, []).append(cpu.share("other"))
                        per_cpu.setdefault(workers, []).append(
                            n / max(cpu.seconds().get("workers pool", 0.0), 1e-9)
                        )
                        b.log(
                            f"scaling {workers} process(es) run {r + 1}: {rate:.2f} articles/s; "
                            + cpu.note(GROUP_LABELS)
                        )
        finally:
            enqueuer.close()
    flush_redis(b.redis)
    one, two = median(rates[1]), median(rates[plan.workers])
    speedup = two / one
    b.rows.append(
        Row(
            key="worker_scaling",
            title=f"Worker scaling, {plan.workers} processes over 1",
            measured="articles pre-loaded as `queued` in PostgreSQL, messages sent to Redis, "
            "time to drain by `newsingest worker --concurrency 1` vs "
            f"`--concurrency {plan.workers}` (NER + store only)",
            size=f"{n} articles",
            runs=rates[1] + rates[plan.workers],
            unit="articles/s",
            value=speedup,
            shown=f"1: {fmt(one, 2)} /s; {plan.workers}: {fmt(two, 2)} /s = **{fmt(speedup, 2)}x**",
            target=">= 1.8x",
            passed=speedup >= 1.8,
            notes=[
                f"runs with 1 process: {runs_text(rates[1], 2)} articles/s; with "
                f"{plan.workers}: {runs_text(rates[plan.workers], 2)}. Articles per CPU second "
                f"of the prefork children: {runs_text(per_cpu[1], 1)} (1) and "
                f"{runs_text(per_cpu[plan.workers], 1)} ({plan.workers}). Other users' "
                "processes took "
                + ", ".join(f"{100 * v:.0f}" for v in others[1])
                + " % of the machine's CPU during the 1-process runs, "
                + ", ".join(f"{100 * v:.0f}" for v in others[plan.workers])
                + f" % during the {plan.workers}-process runs"
            ],
        )
    )


# --------------------------------------------------------------------------- row 5: fetching


async def _fetch_all(settings: Any, urls: Sequence[str]) -> tuple[int, int, float]:
    from ingest.fetch import HostLimiter, fetch_page
    from ingest.http import make_client
    from schemas.errors import NewsIngestError

    limiter = HostLimiter.from_settings(settings)
    async with make_client(settings) as client:

        async def one(url: str) -> bool:
            try:
                await fetch_page(client, limiter, settings, url)
            except NewsIngestError:
                return False
            return True

        started = time.perf_counter()
        results = await asyncio.gather(*(one(u) for u in urls))
        elapsed = time.perf_counter() - started
    ok = sum(results)
    return ok, len(results) - ok, elapsed


def row_fetch(b: Bench) -> None:
    from schemas.settings import load_settings

    plan = b.plan
    assert b.site is not None
    settings = load_settings(
        _env_file=None,
        allowed_networks="127.0.0.0/8",
        per_host_concurrency=plan.fetch_per_host,
        fetch_concurrency=plan.fetch_concurrency,
        per_host_delay=0,
    )
    addresses = hosts(plan.fetch_hosts)
    per_host = -(-plan.fetch_pages // plan.fetch_hosts)
    paths = [b.site.page_path(i) for i in range(per_host)]
    runs: list[float] = []
    notes: list[str] = []
    with http_server(b.site.root, addresses, delay=plan.fetch_delay) as server:
        bases = server.bases
        urls = [
            f"{bases[i % len(bases)]}/{paths[(i // len(bases)) % len(paths)]}"
            for i in range(plan.fetch_pages)
        ]
        for r in range(plan.repeats):
            cpu = CpuSampler({"HTTP server": server.pid}, sample=False)
            ok, failed, elapsed = asyncio.run(_fetch_all(settings, urls))
            cpu.stop()
            runs.append(ok / elapsed)
            b.log(f"fetch run {r + 1}: {runs[-1]:.1f} pages/s ({failed} failed)")
            notes.append(
                f"run {r + 1}: the fetching process (this one) used "
                f"{cpu.seconds().get('bench', 0.0):.1f} s of CPU "
                f"({1000 * cpu.seconds().get('bench', 0.0) / max(ok, 1):.1f} ms per page), the "
                f"server {cpu.seconds().get('HTTP server', 0.0):.1f} s; other users' processes "
                f"{100 * cpu.share('other'):.0f} % of the machine"
            )
            if failed:
                notes.append(f"run {r + 1}: {failed} pages failed")
    size = sum(b.site.root.joinpath(p).stat().st_size for p in paths) / len(paths)
    ceiling = min(plan.fetch_hosts * plan.fetch_per_host, plan.fetch_concurrency)
    ceiling_rate = ceiling / plan.fetch_delay
    rate = median(runs)
    b.rows.append(
        Row(
            key="fetch",
            title="Fetching alone",
            measured=f"ingest.fetch.fetch_page through make_client + HostLimiter in this "
            f"process; server subprocess delays every response {plan.fetch_delay * 1000:.0f} "
            f"ms; {plan.fetch_hosts} hosts, {plan.fetch_per_host} per host, fetch_concurrency "
            f"{plan.fetch_concurrency} (ceiling {ceiling_rate:.0f} pages/s)",
            size=f"{plan.fetch_pages} pages (mean {size / 1000:.0f} kB)",
            runs=runs,
            unit="pages/s",
            value=rate,
            shown=f"**{fmt(rate)} pages/s**",
            target=">= 250 pages/s",
            passed=rate >= 250,
            notes=notes,
        )
    )


# --------------------------------------------------------------------------- row 6: store

LABELS = ("PERSON", "ORG", "GPE", "LOC", "NORP", "EVENT", "PRODUCT", "FAC")


def synthetic_entities(count: int, per_article: int, seed: int = 0) -> list[tuple[Any, ...]]:
    """Per article ``per_article`` distinct entities drawn from a Zipf-like vocabulary (news
    repeats its names: most upserts meet an existing entity, some add a new one)."""
    from workers.entity_keys import EntityCount

    rng = random.Random(seed)
    vocabulary = max(200, count * 4)
    cumulative: list[float] = []
    total = 0.0
    for rank in range(vocabulary):
        total += 1 / (rank + 1) ** 1.05
        cumulative.append(total)
    out: list[tuple[Any, ...]] = []
    population = range(vocabulary)
    for _ in range(count):
        picked: dict[int, None] = {}
        while len(picked) < per_article:
            for i in rng.choices(population, cum_weights=cumulative, k=per_article * 2):
                picked.setdefault(i)
        ents = []
        for offset, i in enumerate(list(picked)[:per_article]):
            label = LABELS[i % len(LABELS)]
            name = f"Name{i:05d} Surname{(i * 7919) % 99991:05d}"
            ents.append(EntityCount(label, name.casefold(), name, rng.randint(1, 6), offset * 180))
        out.append(tuple(ents))
    return out


def _store_run(url: str, b: Bench, entities: list[tuple[Any, ...]]) -> float:
    from workers.store import ArticleResult, store_results

    plan = b.plan
    with engine_for(url) as engine:
        texts = [b.workload.text(i) for i in range(plan.store_articles)]
        hashes = load_articles(engine, "https://bench.invalid/store/", texts)
        results = [
            ArticleResult(h, ArticleStatus.PROCESSED, entities=e, language="en")
            for h, e in zip(hashes, entities, strict=True)
        ]
        started = time.perf_counter()
        for start in range(0, len(results), plan.store_batch):
            with engine.begin() as conn:
                store_results(
                    conn, results[start : start + plan.store_batch], model="bench", version="1"
                )
        elapsed = time.perf_counter() - started
        state = progress(engine)
        if state.statuses.get(ArticleStatus.PROCESSED) != len(results):
            raise RuntimeError(f"store run incomplete: {state.statuses}")
    return len(results) / elapsed


def row_store(b: Bench) -> None:
    plan = b.plan
    entities = synthetic_entities(plan.store_articles, plan.store_entities)
    mentions = sum(len(e) for e in entities) / len(entities)
    measured = (
        f"workers.store.store_results in this process, batches of {plan.store_batch}, one "
        f"transaction each; {mentions:.0f} entities per article from a Zipf-like vocabulary; "
        "articles pre-loaded as `queued` with real texts"
    )
    pg_runs: list[float] = []
    for r in range(plan.repeats):
        with pg_database(b.postgres, "store") as url:
            pg_runs.append(_store_run(url, b, entities))
        b.log(f"store postgresql run {r + 1}: {pg_runs[-1]:.0f} articles/s")
    sqlite_runs: list[float] = []
    for r in range(plan.repeats):
        db = b.workdir / f"store-{r}.db"
        url = f"sqlite:///{db}"
        upgrade(url)
        sqlite_runs.append(_store_run(url, b, entities))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        b.log(f"store sqlite run {r + 1}: {sqlite_runs[-1]:.0f} articles/s")
    for key, title, runs, target in (
        ("store_postgresql", "Store alone, PostgreSQL", pg_runs, 500),
        ("store_sqlite", "Store alone, SQLite", sqlite_runs, 300),
    ):
        rate = median(runs)
        b.rows.append(
            Row(
                key=key,
                title=title,
                measured=measured,
                size=f"{plan.store_articles} articles, fresh database per run",
                runs=runs,
                unit="articles/s",
                value=rate,
                shown=f"**{fmt(rate, 0)} articles/s**",
                target=f">= {target} articles/s",
                passed=rate >= target,
            )
        )


# --------------------------------------------------------------------------- row 7: memory


def rss_bytes() -> tuple[int, int]:
    """(VmRSS, VmHWM) of this process, in bytes."""
    values = {"VmRSS": 0, "VmHWM": 0}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            name, _, rest = line.partition(":")
            if name in values:
                values[name] = int(rest.split()[0]) * 1024
    return values["VmRSS"], values["VmHWM"]


def memory_child(url: str, model: str, checkpoint: int, batch: int) -> dict[str, Any]:
    """The Celery task's code path (process_batch with the process-wide engine and pipeline)
    over every article of the database, in id order; RSS at the checkpoint and at the end."""
    from schemas.db import dispose_engines, get_engine
    from workers.entities import process_batch
    from workers.nlp import get_pipeline, tune_allocator

    tune_allocator()  # as a worker child does before it loads the model
    engine = get_engine(url)
    pipeline = get_pipeline(model)
    with engine.connect() as conn:
        hashes = list(conn.execute(sa.select(ARTICLE.c.url_hash).order_by(ARTICLE.c.id)).scalars())
    samples: list[tuple[int, int]] = [(0, rss_bytes()[0])]
    done = 0
    started = time.perf_counter()
    for start in range(0, len(hashes), batch):
        process_batch(engine, pipeline, hashes[start : start + batch], batch_size=batch)
        before = done
        done += len(hashes[start : start + batch])
        if before < checkpoint <= done or done == len(hashes) or done % 500 < batch:
            samples.append((done, rss_bytes()[0]))
    elapsed = time.perf_counter() - started
    dispose_engines()
    return {
        "samples": samples,
        "hwm": rss_bytes()[1],
        "articles": done,
        "seconds": elapsed,
        "checkpoint": checkpoint,
    }


def row_memory(b: Bench) -> None:
    plan = b.plan
    n = plan.memory_articles
    texts = [b.workload.text(i)[0][: plan.memory_chars] for i in range(len(b.workload.pages))]
    language = sorted(b.model.pipeline.languages)[0]
    articles = [(texts[i % len(texts)], language) for i in range(n)]
    args = ["memory", "--model", b.model.name, "--checkpoint", str(plan.memory_checkpoint)]
    args += ["--batch", "16"]
    with contextlib.ExitStack() as stack:
        urls = []
        for r in range(plan.memory_runs):  # alembic's upgrade is not thread-safe: one by one
            url = stack.enter_context(pg_database(b.postgres, f"memory{r}"))
            with engine_for(url) as engine:
                load_articles(engine, "https://bench.invalid/memory/", articles)
            urls.append(url)
        # The runs go in parallel, one process per core, each on its own database: repeated
        # runs within the time budget.
        with ThreadPoolExecutor(plan.memory_runs) as runner:
            results = list(
                runner.map(lambda url: run_child(b, [*args, "--database", url], 120 + n), urls)
            )
    mb = 1024 * 1024
    ends: list[float] = []
    growths: list[float] = []
    curves: list[str] = []
    for r, result in enumerate(results):
        samples = [(int(a), int(v)) for a, v in result["samples"]]
        at_check = next(v for a, v in samples if a >= plan.memory_checkpoint)
        at_end = samples[-1][1]
        ends.append(at_end / mb)
        growths.append((at_end - at_check) / at_check * 100)
        curve = ", ".join(f"{a}: {v / mb:.0f}" for a, v in samples)
        curves.append(
            f"run {r + 1}: RSS in MB after N articles: {curve}; peak {result['hwm'] / mb:.0f} MB; "
            f"{result['seconds']:.0f} s"
        )
        b.log(
            f"memory run {r + 1}: {at_check / mb:.0f} MB at {plan.memory_checkpoint}, "
            f"{at_end / mb:.0f} MB at the end"
        )
    what = (
        "RSS of a fresh process running workers.entities.process_batch (the Celery task's "
        "code: load, language, NER, store on PostgreSQL) in a loop, batches of 16; texts: "
        f"the {len(texts)} distinct extracted corpus texts (all languages, marked "
        f"`{language}` so every one goes through NER), each cut to its first "
        f"{plan.memory_chars:,} characters (to fit the 10-minute budget), cycled; "
        f"{plan.memory_runs} runs in parallel, one process per core, each on its own database"
    )
    size = f"{n} articles ({plan.memory_runs} runs)"
    rss, growth = median(ends), median(growths)
    peak = max(int(result["hwm"]) for result in results) / mb
    b.rows.append(
        Row(
            key="memory_rss",
            title=f"Memory: RSS per extract worker after {n:,} articles",
            measured=what,
            size=size,
            runs=ends,
            unit="MB",
            value=rss,
            shown=f"**{rss:.0f} MB** (peak {peak:.0f} MB)",
            target="<= 500 MB",
            passed=rss <= 500,
            notes=curves,
        )
    )
    b.rows.append(
        Row(
            key="memory_growth",
            title=f"Memory: growth from article {plan.memory_checkpoint:,} to {n:,}",
            measured="same processes as above: (RSS at the end - RSS after the checkpoint "
            "batch) / RSS after the checkpoint batch",
            size=size,
            runs=growths,
            unit="%",
            value=growth,
            shown=f"**{growth:+.1f} %** (runs: {', '.join(f'{g:+.1f}' for g in growths)} %)",
            target="<= 10 %",
            passed=growth <= 10,
        )
    )


# --------------------------------------------------------------------------- row 8: latency


def row_latency(b: Bench) -> None:
    plan = b.plan
    assert b.site is not None
    site = b.site
    feeds = min(plan.feeds, len(b.bases))
    next_page = plan.articles + 10  # pages no other row uses

    def page_link(k: int) -> str:
        nonlocal next_page
        next_page += 1
        return f"{b.bases[k]}/{site.page_path(next_page)}"

    def round_feeds(r: int) -> tuple[list[str], list[list[tuple[str, str, datetime]]]]:
        """Fresh feeds for round ``r``, each with one warm-up entry: the adaptive schedule
        (half the median gap between a feed's entries) then sees the same short history in
        every round, and the row measures the pipeline's delay, not the schedule's."""
        now = datetime.now(UTC).replace(microsecond=0)
        urls, items = [], []
        for k in range(feeds):
            items.append([(f"Warm {r}-{k}", page_link(k), now)])
            name = site.write_feed(f"live-{r}-{k:02d}", f"Live {r}-{k}", items[k])
            urls.append(f"{b.bases[k]}/{name}")
        return urls, items

    appeared: dict[str, float] = {}
    round_of: dict[str, int] = {}
    latencies: list[float] = []
    by_round: list[list[float]] = [[] for _ in range(plan.latency_rounds)]
    with pg_database(b.postgres, "latency") as db_url, engine_for(db_url) as engine:
        env = b.env(
            database_url=db_url,
            broker_url=b.redis,
            concurrency=str(plan.workers),
            allowed_networks="127.0.0.0/8",
            # Adaptive polling would stretch the 1 s interval (minimum 5 min by default):
            # this row measures the pipeline's delay, not the schedule's.
            min_poll_interval="1",
        )
        flush_redis(b.redis)
        urls, items = round_feeds(0)
        add_feeds(engine, urls, poll_interval=1)
        expected = 0
        with (
            celery_worker(env, plan.workers, b.workdir),
            Proc([newsingest_exe(), "run", "--max-wait", "1"], env, b.workdir) as service,
        ):
            for r in range(plan.latency_rounds):
                if r:
                    urls, items = round_feeds(r)
                    add_feeds(engine, urls, poll_interval=1)
                expected += feeds
                state = wait_done(engine, expected, 120)  # the warm-up entries
                if state.done < expected:
                    raise RuntimeError(f"warm-up not processed: {state.statuses}\n{service.output}")
                for i in range(plan.latency_entries):
                    k = i % feeds
                    link = page_link(k)
                    items[k].insert(0, (f"Live {r}-{i}", link, datetime.now(UTC)))
                    site.write_feed(f"live-{r}-{k:02d}", f"Live {r}-{k}", items[k])
                    h = url_hash(normalize_url(link))
                    appeared[h] = time.time()
                    round_of[h] = r
                    time.sleep(plan.latency_gap)
                expected += plan.latency_entries
                state = wait_done(engine, expected, 120)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(ARTICLE.c.url_hash, ARTICLE.c.processed_at).where(
                    ARTICLE.c.url_hash.in_(list(appeared))
                )
            ).all()
    flush_redis(b.redis)
    for h, processed_at in rows:
        when = _utc(processed_at)
        if when is not None:
            latencies.append(when.timestamp() - appeared[h])
            by_round[round_of[h]].append(latencies[-1])
    missing = plan.latency_entries * plan.latency_rounds - len(latencies)
    measured = (
        f"`newsingest run --max-wait 1` (feeds' poll interval 1 s) + `newsingest worker "
        f"--concurrency {plan.workers}`, Redis + PostgreSQL; one new entry every "
        f"{plan.latency_gap:g} s added to one of {feeds} feeds (the file rewritten; fresh "
        "feeds each round, so the adaptive schedule sees the same history): from the rewrite "
        "to the article's processed_at"
    )
    notes = [f"{missing} entries not processed within 120 s"] if missing else []
    rounds = [r for r in by_round if r]
    for key, q in (("latency_p50", 50), ("latency_p95", 95)):
        values = [percentile(r, q) for r in rounds]
        value = median(values)
        b.rows.append(
            Row(
                key=key,
                title=f"Latency p{q}, feed entry -> processed row",
                measured=measured,
                size=f"{plan.latency_entries} entries x {plan.latency_rounds} runs",
                runs=values,
                unit="s",
                value=value,
                shown=f"**{fmt(value, 2)} s** (runs: {runs_text(values, 2)} s)",
                notes=notes
                if q == 95
                else [
                    f"run {i + 1}, all (s): {runs_text(sorted(r), 2)}" for i, r in enumerate(rounds)
                ]
                + notes,
            )
        )


# --------------------------------------------------------------------------- all rows


ROWS: list[tuple[str, Callable[[Bench], None]]] = [
    ("bound", row_bound),
    ("fetch", row_fetch),
    ("store", row_store),
    ("e2e_redis", row_e2e_redis),
    ("e2e_inprocess", row_e2e_inprocess),
    ("scaling", row_scaling),
    ("memory", row_memory),
    ("latency", row_latency),
]
ROW_KEYS = (
    "bound",
    "e2e_redis",
    "e2e_inprocess",
    "worker_scaling",
    "fetch",
    "store_postgresql",
    "store_sqlite",
    "memory_rss",
    "memory_growth",
    "latency_p50",
    "latency_p95",
)


def run_all(
    plan: Plan,
    *,
    postgres: str,
    redis: str,
    model: str | None,
    log: Log,
    only: Sequence[str] = (),
    workdir: Path | None = None,
) -> Bench:
    chosen = choose_model(model, log)
    workload = build_workload(chosen, plan, log)
    log(
        f"{len(workload.pages)} distinct article pages, "
        f"{sum(workload.covered(i) for i in range(len(workload.pages)))} in a language of "
        f"{chosen.name} ({len(workload.scanned)} of {workload.corpus_size} corpus pages scanned)"
    )
    CACHE.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=CACHE)))
        bench = Bench(plan, workload, workdir, postgres, redis, log)
        bench.site = Site(workdir / "site", workload)
        for i in range(plan.articles):
            bench.site.page_path(i)
        server = stack.enter_context(
            http_server(bench.site.root, hosts(max(plan.feeds, 1)), delay=0.0)
        )
        bench.bases = server.bases
        bench.server_pid = server.pid
        flush_redis(redis)
        stack.callback(flush_redis, redis)
        for name, fn in ROWS:
            if only and name not in only and name != "bound":
                continue
            started = time.monotonic()
            log(f"--- {name} (load {load_average()})")
            fn(bench)
            log(f"--- {name} took {time.monotonic() - started:.0f} s")
    return bench


def _child_main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline")
    sub = parser.add_subparsers(dest="command", required=True)
    mem = sub.add_parser("memory", help="the memory row's child process")
    mem.add_argument("--database", required=True)
    mem.add_argument("--model", required=True)
    mem.add_argument("--checkpoint", type=int, default=1000)
    mem.add_argument("--batch", type=int, default=16)
    bound = sub.add_parser("bound", help="one run of the bound")
    bound.add_argument("--model", required=True)
    bound.add_argument("--job", type=Path, required=True, help="JSON: pages and warm-up pages")
    args = parser.parse_args(argv)
    if args.command == "memory":
        result = memory_child(args.database, args.model, args.checkpoint, args.batch)
    else:
        job = json.loads(args.job.read_text("utf-8"))
        result = bound_child(
            args.model, [tuple(p) for p in job["pages"]], [tuple(p) for p in job["warmup"]]
        )
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_child_main())
