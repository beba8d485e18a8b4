"""The command line in process: help, configuration errors and exit codes that need no
database server (the database-backed commands are in tests/integration/test_cli.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsingest.cli.common import EXIT_BAD_INPUT, EXIT_CONFIG, EXIT_INFRA
from tests.support.cli import invoke


def test_help_lists_the_commands() -> None:
    code, out, _ = invoke("--help")
    assert code == 0
    for command in ("config", "init", "feeds", "db"):
        assert command in out


def test_config_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSINGEST_DATABASE_URL", "postgresql://news:s3cret@db:5432/news")
    monkeypatch.setenv("NEWSINGEST_BROKER_URL", "redis://:hunter2@redis:6379/0")
    code, out, _ = invoke("config")
    assert code == 0
    assert "NEWSINGEST_DATABASE_URL" in out
    assert "s3cret" not in out
    assert "hunter2" not in out
    assert "postgresql+psycopg://news:***@db:5432/news" in out


def test_invalid_setting_exits_2_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSINGEST_CONCURRENCY", "lots")
    code, _, err = invoke("config")
    assert code == EXIT_CONFIG
    assert "NEWSINGEST_CONCURRENCY" in err


def test_commands_refuse_an_uninitialised_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = invoke("feeds", "list")
    assert code == EXIT_CONFIG
    assert "newsingest init" in err


def test_unreachable_database_exits_3(monkeypatch: pytest.MonkeyPatch) -> None:
    # Port 1 on loopback: nothing listens there, the connection is refused at once.
    monkeypatch.setenv("NEWSINGEST_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    code, _, err = invoke("init")
    assert code == EXIT_INFRA
    assert "database unavailable" in err


def test_opml_import_of_a_missing_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = invoke("feeds", "import", str(tmp_path / "missing.opml"))
    assert code == EXIT_BAD_INPUT
    assert "cannot read" in err
