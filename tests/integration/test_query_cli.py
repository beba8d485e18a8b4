"""The read commands end to end: output in a pipe, --json, export files, exit codes."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsingest.cli import app
from schemas.db import dispose_engines, make_engine
from schemas.models import utcnow
from schemas.settings import get_settings
from tests.support.readside import add_article, add_feed

pytestmark = pytest.mark.integration
runner = CliRunner()
HOSTILE_TITLE = "<script>alert('x')</script> \x1b[31mred\x1b[0m [bold]markup[/bold]"


def run(*args: str) -> tuple[int, str, str]:
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, list(args))
    finally:
        dispose_engines()
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> dict[str, int]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEWSINGEST_DATABASE_URL", database_url)
    code, out, _ = run("init")
    assert code == 0, out
    engine = make_engine(database_url)
    now = utcnow()
    try:
        with engine.begin() as conn:
            feed = add_feed(conn, "https://feed.example/rss")
            ids = {
                "hostile": add_article(
                    conn, HOSTILE_TITLE, "Harbour works begin in Hamburg.", feed_id=feed,
                    published=now - timedelta(hours=1),
                    entities=[("GPE", "Hamburg", 2), ("PERSON", "Anna Berg", 1)],
                ),
                "other": add_article(
                    conn, "Budget vote", "Parliament voted on the budget.", feed_id=feed,
                    published=now - timedelta(hours=2), entities=[("ORG", "Parliament", 1)],
                ),
                "old": add_article(
                    conn, "Old harbour story", "The harbour of Hamburg, years ago.",
                    published=now - timedelta(days=3), entities=[("GPE", "Hamburg", 1)],
                ),
            }  # fmt: skip
            ids["feed"] = feed
    finally:
        engine.dispose()
    return ids


def tsv(text: str) -> list[list[str]]:
    return [line.split("\t") for line in text.splitlines()]


def test_articles_in_a_pipe_is_tab_separated(db: dict[str, int]) -> None:
    code, out, _ = run("articles")
    assert code == 0
    rows = tsv(out)
    assert rows[0] == ["id", "published", "site", "lang", "title"]
    assert [int(r[0]) for r in rows[1:]] == [db["hostile"], db["other"], db["old"]]
    # hostile title: plain text, escape sequences neutralised, markup not interpreted
    title = rows[1][4]
    assert "<script>alert('x')</script>" in title
    assert "[bold]markup[/bold]" in title
    assert "\x1b" not in out


def test_search_prints_snippets_and_json_lines(db: dict[str, int]) -> None:
    code, out, _ = run("articles", "--search", "harbour hamburg", "--json")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert {r["id"] for r in records} == {db["hostile"], db["old"]}
    assert all("**" in r["snippet"] for r in records)
    code, out, _ = run("articles", "-s", '"harbour works"', "--since", "24h", "--entity", "hamburg")
    assert code == 0
    rows = tsv(out)
    assert rows[0][-1] == "snippet"
    assert [int(r[0]) for r in rows[1:]] == [db["hostile"]]


def test_paging_prints_the_cursor_on_stderr(db: dict[str, int]) -> None:
    code, _, err = run("articles", "--limit", "2")
    assert code == 0
    cursor = err.split("--after", 1)[1].split()[0]
    code, out2, _ = run("articles", "--limit", "2", "--after", cursor)
    assert code == 0
    assert [int(r[0]) for r in tsv(out2)[1:]] == [db["old"]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["articles", "--search", "-only"], "only excludes"),
        (["articles", "--since", "last tuesday"], "neither a duration"),
        (["articles", "--feed", "https://unknown.example/rss"], "no feed"),
        (["articles", "--feed", "12345"], "no feed"),
        (["articles", "--after", "v1.abc.def"], "cursor"),
        (["articles", "--sort", "relevance"], "needs --search"),
        (["articles", "--label", "wizards", "--entity", "x"], "unknown label"),
        (["articles", "--limit", "0"], "--limit"),
        (["article", "999999"], "no article"),
        (["entities", "show", "nobody"], "no entity"),
        (["entities", "top", "--since", "soon"], "neither a duration"),
        (["export", "--feed", "nope"], "no feed"),
    ],
)
def test_bad_input_exits_1_with_one_line(db: dict[str, int], args: list[str], message: str) -> None:
    code, out, err = run(*args)
    assert code == 1, (out, err)
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_article_shows_fields_entities_and_text(db: dict[str, int]) -> None:
    code, out, _ = run("article", str(db["hostile"]))
    assert code == 0
    assert "published_at" in out
    assert "(from meta)" in out
    assert "Hamburg\thamburg\t2" in out
    assert out.rstrip().endswith("Harbour works begin in Hamburg.")
    code, out, _ = run("article", str(db["other"]), "--json")
    record = json.loads(out)
    assert record["entities"] == [
        {"label": "ORG", "name": "Parliament", "key": "parliament", "count": 1}
    ]


def test_entities_top_and_show(db: dict[str, int]) -> None:
    code, out, _ = run("entities", "top", "--since", "24h")
    assert code == 0
    rows = tsv(out)
    assert rows[0][:5] == ["#", "name", "kind", "label", "articles"]
    assert {r[1] for r in rows[1:]} == {"Hamburg", "Anna Berg", "Parliament"}
    code, out, _ = run("entities", "top", "--since", "7d", "--label", "places", "--json")
    assert [json.loads(line)["articles"] for line in out.splitlines()] == [2]
    code, out, _ = run("entities", "show", "berg")
    assert code == 0
    assert "Anna Berg" in out
    assert "day\tarticles" in out


def test_export_jsonl_to_stdout_and_csv_to_a_file(db: dict[str, int], tmp_path: Path) -> None:
    code, out, _ = run("export", "--format", "jsonl")
    assert code == 0
    assert [json.loads(line)["id"] for line in out.splitlines()] == sorted(
        [db["hostile"], db["other"], db["old"]]
    )
    target = tmp_path / "out.csv"
    code, _, err = run("export", "--format", "csv", "-o", str(target), "--search", "harbour")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(target.read_text("utf-8"))))
    assert [int(r["id"]) for r in rows] == sorted([db["hostile"], db["old"]])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.csv")]


def test_export_parquet_to_a_file(db: dict[str, int], tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    target = tmp_path / "out.parquet"
    code, _, err = run("export", "--format", "parquet", "-o", str(target), "--lang", "en")
    assert code == 0, err
    assert pq.read_table(target).num_rows == 3


def test_a_failed_export_leaves_no_file(db: dict[str, int], tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    code, _, _ = run("export", "-o", str(target), "--search", '""')
    assert code == 1
    assert list(tmp_path.glob("*out.jsonl*")) == []


def test_without_a_schema_exits_2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NEWSINGEST_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    code, _, err = run("articles")
    assert code == 2
    assert "newsingest init" in err
