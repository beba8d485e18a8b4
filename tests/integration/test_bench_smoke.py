"""``python -m bench --smoke`` still runs from end to end, so the benchmarks cannot rot.

Tiny sizes and one run of every row against the real services; no timing is asserted, only
that the table has every row with numbers in it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.corpus, pytest.mark.timeout(240)]

ROWS = ("1", "2", "3", "4", "5", "6a", "6b", "7a", "7b", "8a", "8b")
NUMBER = re.compile(r"\d+(?:\.\d+)?")


def table(text: str) -> dict[str, list[str]]:
    """The markdown table's rows by their number (first cell), cells unescaped and stripped."""
    rows: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line.startswith("| ") or line.startswith(("| # ", "|---")):
            continue
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        rows[cells[0]] = cells
    return rows


def test_smoke_run_writes_every_row_with_numbers(
    pages_corpus: Path,
    postgres_url: str,
    redis_url: str,
    test_model: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bench.__main__ import main
    from bench.pipeline import ROW_KEYS

    output = tmp_path / "results.md"
    args = ["--smoke", "--postgres", postgres_url, "--redis", redis_url]
    args += ["--model", test_model, "--output", str(output)]
    assert main(args) == 0

    text = output.read_text("utf-8")
    assert capsys.readouterr().out == text
    assert "SMOKE" in text
    assert "test_ner" in text  # the model it was given, no fallback
    rows = table(text)
    assert set(rows) == set(ROWS), sorted(rows)
    assert len(ROW_KEYS) == len(ROWS)
    for number in ROWS:
        _, title, measured, size, runs, shown, target, result = rows[number]
        assert all((title, measured, target)), rows[number]
        for numeric in (size, runs, shown):
            assert NUMBER.search(numeric), rows[number]
            assert "n/a" not in numeric, rows[number]
        assert result in {"pass", "**MISS**", "report"}, rows[number]
    for number in ("2", "3", "4", "5", "6a", "6b", "7a", "7b"):
        assert rows[number][7] != "report", f"row {number} has a target"


def _children(pid: int) -> set[int]:
    """Every live descendant of ``pid`` (from /proc)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                kids = (task / "children").read_text().split()
            except OSError:
                continue
            for kid in map(int, kids):
                if kid not in found:
                    found.add(kid)
                    todo.append(kid)
    return found


def test_a_terminated_bench_stops_its_child_processes(
    pages_corpus: Path, postgres_url: str, redis_url: str, test_model: str, tmp_path: Path
) -> None:
    """SIGTERM (an outer timeout) while rows run: the bench exits and leaves no process behind
    (its origin server, Celery worker, `newsingest` and measurement children)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    args = [sys.executable, "-m", "bench", "--smoke", "--postgres", postgres_url]
    args += ["--redis", redis_url, "--model", test_model, "--output", str(tmp_path / "r.md")]
    log = tmp_path / "bench.log"
    seen: set[int] = set()
    with log.open("w") as sink:
        proc = subprocess.Popen(
            args, cwd=Path(__file__).resolve().parents[2], stdout=sink, stderr=sink
        )
        try:
            deadline = time.monotonic() + 180
            # Until a row runs with its children up: origin server, worker, poll and pool.
            while "--- e2e_redis" not in log.read_text() or len(_children(proc.pid)) < 4:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                seen |= _children(proc.pid)
                time.sleep(0.1)
            seen |= _children(proc.pid)
            os.kill(proc.pid, signal.SIGTERM)
            assert proc.wait(90) == 128 + signal.SIGTERM
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    time.sleep(0.5)
    alive = [pid for pid in seen if Path(f"/proc/{pid}").exists()]
    assert not alive, f"left running: {alive}"
