"""The origin: RSS feeds over the corpus pages, served by ``bench.origin`` on loopback."""

from __future__ import annotations

import contextlib
import html as html_module
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from bench._corpus import ROOT
from bench.workload import Workload
from schemas.urls import normalize_url

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
