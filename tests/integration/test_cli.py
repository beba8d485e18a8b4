"""The command line: exit codes, messages and effects on a real database."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from newsingest.cli.common import EXIT_BAD_INPUT
from tests.support.cli import EXE, cli, invoke


@pytest.fixture
def db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEWSINGEST_DATABASE_URL", database_url)
    code, out, _ = invoke("init")
    assert code == 0, out
    return database_url


@pytest.mark.integration
def test_init_is_idempotent(db: str) -> None:
    code, out, _ = invoke("init")
    assert code == 0
    assert "already at revision" in out


@pytest.mark.integration
def test_feeds_add_list_remove(db: str) -> None:
    code, out, _ = invoke(
        "feeds",
        "add",
        "https://News.example/rss?utm_source=x",
        "https://other.example/atom.xml",
        "https://news.example/rss",
    )
    assert code == 0, out
    assert "2 added, 1 duplicate" in out

    code, out, _ = invoke("feeds", "add", "https://news.example/rss")
    assert code == 0
    assert "0 added, 1 duplicate" in out

    code, out, _ = invoke("feeds", "list")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].split("\t")[:3] == ["id", "url", "kind"]
    urls = [line.split("\t")[1] for line in lines[1:]]
    assert urls == ["https://news.example/rss", "https://other.example/atom.xml"]

    code, out, _ = invoke("feeds", "remove", "https://other.example/atom.xml")
    assert code == 0
    code, out, _ = invoke("feeds", "list")
    assert "other.example" not in out
    code, _, err = invoke("feeds", "remove", "https://never.example/x")
    assert code == EXIT_BAD_INPUT
    assert "not subscribed" in err


@pytest.mark.integration
def test_feeds_add_with_an_invalid_url_adds_nothing(db: str) -> None:
    code, _, err = invoke("feeds", "add", "https://ok.example/rss", "ftp://bad.example/x", "nope")
    assert code == EXIT_BAD_INPUT
    assert "ftp://bad.example/x" in err
    assert "nothing added" in err
    _, out, _ = invoke("feeds", "list")
    assert "ok.example" not in out


OPML = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0"><head><title>mine</title></head><body>
  <outline text="World"><outline text="Wire" title="The Wire" type="rss"
     xmlUrl="https://wire.example/feed"/></outline>
  <outline text="Local" xmlurl="https://local.example/rss.xml"/>
  <outline text="folder without feed"/>
</body></opml>"""


@pytest.mark.integration
def test_opml_import_and_export_round_trip(db: str, tmp_path: Path) -> None:
    source = tmp_path / "subs.opml"
    source.write_bytes(OPML)
    code, out, _ = invoke("feeds", "import", str(source))
    assert code == 0, out
    assert "2 added" in out
    target = tmp_path / "out.opml"
    code, _, _ = invoke("feeds", "export", "-o", str(target))
    assert code == 0

    from ingest.opml import parse_opml

    exported = parse_opml(target.read_bytes())
    assert [(s.url, s.title) for s in exported] == [
        ("https://wire.example/feed", "The Wire"),
        ("https://local.example/rss.xml", "Local"),
    ]
    # Importing the export again changes nothing.
    code, out, _ = invoke("feeds", "import", str(target))
    assert "0 added, 2 duplicate" in out


@pytest.mark.integration
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<html><body>not opml</body></html>", "not <opml>"),
        (b"<opml><body><outline", "not well-formed"),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><opml>&a;</opml>',
            "refused",
        ),
    ],
)
def test_opml_import_rejects_bad_files(
    db: str, tmp_path: Path, content: bytes, message: str
) -> None:
    source = tmp_path / "bad.opml"
    source.write_bytes(content)
    code, _, err = invoke("feeds", "import", str(source))
    assert code == EXIT_BAD_INPUT
    assert message in err


@pytest.mark.integration
def test_installed_console_script_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    """The real `newsingest` executable, as a user runs it, against the real PostgreSQL."""
    assert EXE, "the newsingest console script is not installed next to this python"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")}
    env["NEWSINGEST_DATABASE_URL"] = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    assert cli(env, "init", cwd=tmp_path, timeout=60).returncode == 0
    added = cli(
        env,
        "feeds",
        "add",
        "https://a.example/feed",
        "https://b.example/feed",
        cwd=tmp_path,
        timeout=60,
    )
    assert added.returncode == 0, added.stderr
    listed = cli(env, "feeds", "list", cwd=tmp_path, timeout=60)
    assert listed.returncode == 0
    assert "https://a.example/feed" in listed.stdout
    assert "https://b.example/feed" in listed.stdout
    assert not (tmp_path / "newsingest.db").exists(), "used SQLite instead of PostgreSQL"
