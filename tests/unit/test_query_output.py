"""The read commands' output helpers: hostile text stays inert, highlights render."""

from __future__ import annotations

from newsingest.cli.entities import sparkline
from newsingest.cli.output import clean, plain_snippet, rich_snippet
from query.fulltext import HL_END, HL_START


def test_control_characters_never_reach_the_terminal() -> None:
    hostile = "a\x1b[31mred\x1b[0m\tb\nc\x07\x9b"
    assert "\x1b" not in clean(hostile)
    assert "\x07" not in clean(hostile)
    assert "\x9b" not in clean(hostile)
    assert "\n" not in clean(hostile)
    assert "\n" in clean(hostile, newlines=True)


def test_snippets_mark_highlights_in_plain_and_rich_output() -> None:
    snippet = f"the {HL_START}barrier{HL_END} closed \x1b[2J"
    assert plain_snippet(snippet) == "the **barrier** closed [2J"
    text = rich_snippet(snippet)
    assert text.plain == "the barrier closed [2J"
    assert [text.plain[s.start : s.end] for s in text.spans] == ["barrier"]
    assert plain_snippet(None) == ""


def test_sparkline() -> None:
    assert sparkline([0, 0]) == "▁▁"
    assert sparkline([0, 1, 8]) == " ▁█"
    assert len(sparkline(list(range(30)))) == 30
