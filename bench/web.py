"""The HTTP API's benchmark (issue 17): concurrent clients against a real ``newsingest serve``
on the read side's 200,000-article PostgreSQL database.

    python -m bench.web [--articles 200000] [--clients 32] [--seconds 30] [--postgres URL]
    python -m bench web ...             (the same, from the pipeline bench's command)

The database is the one ``bench.read`` generates and caches (its generator, not a second
one), copied once into ``newsingest_bench_web_<n>`` (so the read bench's own copy stays at
its revision) and upgraded to this code's schema (``newsingest init``). The server is
``newsingest serve`` in its own process on loopback (one uvicorn process, as compose runs
it), with a token. The load: ``--clients`` coroutines in this process (httpx, one keep-alive
connection each), each sending its next request as soon as the previous one is answered,
for ``--seconds`` per endpoint, after ``--warmup`` seconds:

- ``GET /api/v1/articles`` first page (20 rows, newest first);
- the same with a deep cursor: the page after the 100,000th article (keyset: no OFFSET);
- ``GET /api/v1/articles?q=`` rotating through the read bench's 16 matching searches
  (common word, rare word, phrase, text + entity + last 7 days), first page with snippets;
- ``GET /api/v1/entities/{id}/timeline`` (per day, 30 days) rotating through 50 entities:
  every 20th of the 1,000 most mentioned (from the most mentioned of all, in over half the
  articles, down to ones in a few hundred).

Per endpoint: requests, requests/s, p50/p95/p99 latency as the client saw it (connection
reuse, JSON parsing included), errors (any status but 200, or a transport error). Client and
server share the machine's cores, so the figures are a floor for a server on its own.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
TARGETS_MS = {"articles": 50.0, "articles (deep cursor)": 50.0, "search": 200.0,
              "timeline": 100.0}  # fmt: skip
Log = Callable[[str], None]


@dataclass
class Row:
    name: str
    target_ms: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    server_cpu: float = 0.0  # CPU seconds of the server process during the measured window

    @property
    def cpu_ms(self) -> float:
        """Server CPU per request: what the load on the machine does not change."""
        return self.server_cpu / max(1, len(self.latencies)) * 1000

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] * 1000

    @property
    def passed(self) -> bool:
        return self.errors == 0 and bool(self.latencies) and self.pct(95) < self.target_ms


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(url: str, token: str, log: Log) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")}
    env.update(
        NEWSINGEST_DATABASE_URL=url, NEWSINGEST_API_TOKEN=token, NEWSINGEST_LOG_LEVEL="WARNING"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsingest", "serve", "--port", str(port)], env=env, cwd=ROOT
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"newsingest serve exited with {proc.returncode}")
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                log(f"server ready at {base} (pid {proc.pid})")
                return proc, base
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    proc.terminate()
    raise RuntimeError("newsingest serve was not ready within 60 s")


def bench_database(admin: str, n: int, log: Log) -> str:
    """The read bench's database, copied for this bench and upgraded to head."""
    from bench.read import generate
    from schemas.db import current_revision, head_revision, upgrade

    source, gen = generate("postgresql", n, admin, log)
    log(f"read bench database: {gen.articles} articles, {gen.mentions} mentions")
    source_name = sa.engine.make_url(source).database
    target = sa.engine.make_url(admin).set(database=f"newsingest_bench_web_{n}")
    url = target.render_as_string(hide_password=False)
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}
            ).scalar()
            if not exists:
                log(f"copying {source_name} to {target.database} ...")
                try:
                    conn.execute(
                        sa.text(f'CREATE DATABASE "{target.database}" TEMPLATE "{source_name}"')
                    )
                except sa.exc.OperationalError:  # the source is in use: dump and restore
                    conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
                    restore(source, url)
    finally:
        engine.dispose()
    if current_revision(url) != head_revision():
        log(f"upgrading {target.database} to {head_revision()} ...")
        upgrade(url)
    return url


def restore(source: str, target: str) -> None:
    def libpq(url: str) -> str:
        return (
            sa.engine.make_url(url)
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )

    dump = subprocess.Popen(["pg_dump", "-Fc", "-Z0", libpq(source)], stdout=subprocess.PIPE)
    subprocess.run(["pg_restore", "--no-owner", "-d", libpq(target)], stdin=dump.stdout, check=True)
    if dump.wait() != 0:
        raise RuntimeError("pg_dump failed")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def deep_cursor(url: str, depth: int) -> str:
    """The cursor of the page that starts after the ``depth``-th newest article."""
    from query.filters import Cursor, Filters, Sort, encode_cursor
    from schemas.db import make_engine
    from schemas.models import as_utc

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT id, published_at FROM article "
                    "WHERE status IN ('queued', 'processed', 'skipped') "
                    "ORDER BY published_at DESC NULLS LAST, id DESC OFFSET :n LIMIT 1"
                ),
                {"n": depth - 1},
            ).one()
    finally:
        engine.dispose()
    published = as_utc(row.published_at)
    key = published.isoformat() if published is not None else None
    return encode_cursor(Cursor(key, row.id), Filters(), Sort.PUBLISHED)


def top_entity_ids(url: str, n: int) -> list[int]:
    from schemas.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT entity_id FROM mention GROUP BY entity_id "
                    "ORDER BY count(*) DESC, entity_id LIMIT :n"
                ),
                {"n": n},
            )
            return [int(r[0]) for r in rows]
    finally:
        engine.dispose()


def search_paths(log: Log) -> list[str]:
    """The read bench's searches that match something, as API query strings."""
    from bench.read import corpus, pick_queries, vocabulary

    bases = corpus(log)
    paths = []
    for kind, queries in pick_queries(bases, vocabulary(bases)).items():
        if kind == "no match":
            continue
        for text, extra in queries:
            params = {"q": text}
            if extra.get("entity"):
                params["entity"] = extra["entity"]
            if extra.get("since_days"):
                params["since"] = f"{extra['since_days']}d"
            paths.append("/api/v1/articles?" + urlencode(params))
    return paths


async def load(
    base: str,
    token: str,
    paths: Sequence[str],
    clients: int,
    seconds: float,
    warmup: float,
    pid: int,
) -> tuple[list[float], int, float]:
    """``clients`` closed-loop clients for ``warmup`` + ``seconds``; latencies after warm-up."""
    latencies: list[float] = []
    errors = [0]
    kinds: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=30
    ) as client:
        start = time.perf_counter()
        measure_from = start + warmup
        end = measure_from + seconds

        async def cpu_window() -> float:
            await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
            before = cpu_seconds(pid)
            await asyncio.sleep(max(0.0, end - time.perf_counter()))
            return cpu_seconds(pid) - before

        async def one(worker: int) -> None:
            i = worker
            while True:
                sent = time.perf_counter()
                if sent >= end:
                    return
                try:
                    reply = await client.get(paths[i % len(paths)])
                    reply.json()
                    ok = reply.status_code == 200
                    kind = f"HTTP {reply.status_code}: {reply.text[:120]}"
                except (httpx.HTTPError, ValueError) as exc:
                    ok = False
                    kind = type(exc).__name__
                done = time.perf_counter()
                if sent >= measure_from:
                    latencies.append(done - sent)
                    if not ok:
                        errors[0] += 1
                        kinds[kind] += 1
                i += clients

        cpu, *_ = await asyncio.gather(cpu_window(), *(one(w) for w in range(clients)))
    for kind, n in kinds.most_common():
        print(f"  error x{n}: {kind}", file=sys.stderr)
    return latencies, errors[0], cpu


def run(args: argparse.Namespace, log: Log) -> list[Row]:
    url = bench_database(args.postgres, args.articles, log)
    token = secrets.token_hex(24)
    plans = {
        "articles": ["/api/v1/articles"],
        "articles (deep cursor)": [
            "/api/v1/articles?" + urlencode({"cursor": deep_cursor(url, 100_000)})
        ],
        "search": search_paths(log),
        "timeline": [
            f"/api/v1/entities/{i}/timeline?interval=day" for i in top_entity_ids(url, 1000)[::20]
        ],
    }
    proc, base = start_server(url, token, log)
    rows = []
    try:
        for name, paths in plans.items():
            log(f"{name}: {args.clients} clients x {args.seconds:g} s over {len(paths)} path(s)")
            latencies, errors, cpu = asyncio.run(
                load(base, token, paths, args.clients, args.seconds, args.warmup, proc.pid)
            )
            row = Row(name, TARGETS_MS[name], latencies, errors, args.seconds, cpu)
            log(
                f"  {len(latencies) / row.seconds:.0f} req/s, p50 {row.pct(50):.1f} ms, "
                f"p95 {row.pct(95):.1f} ms, p99 {row.pct(99):.1f} ms, {errors} errors, "
                f"server CPU {row.cpu_ms:.1f} ms/request"
            )
            rows.append(row)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return rows


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def render(
    rows: Sequence[Row], args: argparse.Namespace, started: datetime, load: tuple[float, float]
) -> str:
    cores = len(os.sched_getaffinity(0))
    lines = [
        f"{started:%Y-%m-%d %H:%M} UTC, `python -m bench web --articles {args.articles} "
        f"--clients {args.clients} --seconds {args.seconds:g}`; {cpu_name()}, {cores} cores "
        "shared by the server, PostgreSQL and the load generator (load average before the run "
        f"{load[0]:.1f} / {load[1]:.1f}, 1 / 5 min); one uvicorn process; PostgreSQL on loopback.",
        "",
        "| endpoint | requests | req/s | p50 ms | p95 ms | p99 ms | errors | server CPU ms/req "
        "| target p95 | |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.name} | {len(r.latencies)} | {len(r.latencies) / r.seconds:.0f} | "
            f"{r.pct(50):.1f} | {r.pct(95):.1f} | {r.pct(99):.1f} | {r.errors} | "
            f"{r.cpu_ms:.1f} | < {r.target_ms:g} | {'pass' if r.passed else 'FAIL'} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    from bench.read import DEFAULT_POSTGRES

    parser = argparse.ArgumentParser(prog="python -m bench.web", description=__doc__)
    parser.add_argument("--articles", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="admin URL")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "web-results.md")
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    load1, load5, _ = os.getloadavg()

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    rows = run(args, log)
    table = render(rows, args, started, (load1, load5))
    print(table)
    args.output.write_text(table, "utf-8")
    return 0 if all(r.passed for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
