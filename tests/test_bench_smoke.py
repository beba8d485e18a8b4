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
