"""Metadata against the corpus' ground truth: title, authors and date, as the options bench
reports them (``python -m bench.extract_options``)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from bench.extract_options import Page, PageResult

    Match = Callable[[Page, PageResult], bool]


def _names(value: str | Iterable[str] | None) -> frozenset[str]:
    """Author names for comparison: split on ; , & "and" "und", casefolded."""
    parts = [value] if isinstance(value, str) else list(value or ())
    names = set()
    for part in parts:
        for name in re.split(r"[;,&]|\b(?:und|and)\b", part):
            name = " ".join(name.split()).casefold()
            if name:
                names.add(name)
    return frozenset(names)


def _text(value: str | None) -> str:
    return " ".join((value or "").split()).casefold()


def metadata_rows(pages: Sequence[Page], results: Sequence[PageResult]) -> list[str]:
    by_key = {r.key: r for r in results}

    def pct(a: int, b: int) -> str:
        return f"{a / b:.1%}" if b else "n/a"

    def row(
        name: str, truth: str, exact: Match, loose: Match, ours: Callable[[PageResult], object]
    ) -> str:
        with_gt = [p for p in pages if getattr(p, truth)]
        no_gt = [p for p in pages if getattr(p, truth) == ""]
        n_exact = sum(1 for p in with_gt if exact(p, by_key[p.key]))
        n_loose = sum(1 for p in with_gt if loose(p, by_key[p.key]))
        spurious = sum(1 for p in no_gt if ours(by_key[p.key]))
        return (
            f"| {name} | {len(with_gt)} | {pct(n_exact, len(with_gt))} | "
            f"{pct(n_loose, len(with_gt))} | {len(no_gt)} | {pct(spurious, len(no_gt))} |"
        )

    def title_loose(p: Page, r: PageResult) -> bool:
        ours, truth = _text(r.title), _text(p.title)
        return bool(ours) and (truth in ours or ours in truth)

    return [
        row(
            "title",
            "title",
            lambda p, r: _text(r.title) == _text(p.title),
            title_loose,
            lambda r: r.title,
        ),
        row(
            "date",
            "date",
            lambda p, r: r.day == p.date,
            lambda p, r: _days_apart(r.day, p.date) <= 1,
            lambda r: r.day,
        ),
        row(
            "author",
            "author",
            lambda p, r: _names(r.authors) == _names(p.author),
            lambda p, r: bool(_names(r.authors) & _names(p.author)),
            lambda r: r.authors,
        ),
    ]


def _days_apart(ours: str | None, truth: str | None) -> int:
    try:
        return abs((date.fromisoformat(ours or "") - date.fromisoformat(truth or "")).days)
    except ValueError:
        return 1_000_000


# --------------------------------------------------------------------------- runs
