from __future__ import annotations

import ipaddress

import pytest

from schemas.errors import ConfigError
from schemas.settings import Settings, get_settings, load_settings, mask_url


def test_defaults_are_the_embedded_single_machine_setup() -> None:
    s = load_settings()
    assert s.database_url == "sqlite:///newsingest.db"
    assert s.broker_url is None
    assert s.in_process
    assert s.workers >= 1
    assert s.allowed_networks == []


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@h:5432/db", "postgresql+psycopg://u@h:5432/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////var/lib/x.db", "sqlite:////var/lib/x.db"),
    ],
)
def test_database_url_forms(monkeypatch: pytest.MonkeyPatch, given: str, expected: str) -> None:
    monkeypatch.setenv("NEWSINGEST_DATABASE_URL", given)
    assert load_settings().database_url == expected


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("NEWSINGEST_DATABASE_URL", "mysql://root@localhost/x"),
        ("NEWSINGEST_BROKER_URL", "amqp://guest@localhost//"),
        ("NEWSINGEST_CONCURRENCY", "-3"),
        ("NEWSINGEST_CONCURRENCY", "many"),
        ("NEWSINGEST_CONNECT_TIMEOUT", "0"),
        ("NEWSINGEST_MAX_PAGE_BYTES", "-1"),
        ("NEWSINGEST_ALLOWED_NETWORKS", "10.0.0.0/8,not-a-network"),
        ("NEWSINGEST_LOG_LEVEL", "LOUD"),
        ("NEWSINGEST_RESPECT_ROBOTS", "perhaps"),
    ],
)
def test_invalid_values_fail_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert variable in str(info.value)


def test_allowed_networks_are_comma_separated_cidrs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSINGEST_ALLOWED_NETWORKS", "127.0.0.0/8, ::1/128")
    nets = load_settings().allowed_networks
    assert nets == [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]


def test_broker_url_empty_means_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSINGEST_BROKER_URL", "")
    assert load_settings().in_process
    monkeypatch.setenv("NEWSINGEST_BROKER_URL", "redis://127.0.0.1:6379/0")
    assert not load_settings().in_process


def test_dotenv_file_is_read(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / ".env").write_text("NEWSINGEST_CONCURRENCY=7\n")
    monkeypatch.chdir(tmp_path)
    assert load_settings().concurrency == 7
    assert load_settings().workers == 7


def test_get_settings_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSINGEST_CONCURRENCY", "3")
    first = get_settings()
    monkeypatch.setenv("NEWSINGEST_CONCURRENCY", "5")
    assert get_settings() is first
    assert first.concurrency == 3


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql+psycopg://news:s3cret@db:5432/n", "postgresql+psycopg://news:***@db:5432/n"),
        ("redis://:hunter2@redis:6379/0", "redis://:***@redis:6379/0"),
        ("redis://redis:6379/0", "redis://redis:6379/0"),
        (None, None),
    ],
)
def test_mask_url(url: str | None, masked: str | None) -> None:
    assert mask_url(url) == masked


def test_masked_settings_hide_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSINGEST_DATABASE_URL", "postgresql://news:s3cret@db/n")
    monkeypatch.setenv("NEWSINGEST_BROKER_URL", "redis://:hunter2@redis:6379/0")
    shown = repr(load_settings().masked())
    assert "s3cret" not in shown
    assert "hunter2" not in shown
    assert "***" in shown


def test_every_field_is_documented() -> None:
    for name, field in Settings.model_fields.items():
        assert field.description, f"{name} has no description"


def test_poll_interval_bounds_must_be_ordered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSINGEST_MIN_POLL_INTERVAL", "7200")
    monkeypatch.setenv("NEWSINGEST_MAX_POLL_INTERVAL", "3600")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "NEWSINGEST_MIN_POLL_INTERVAL (7200) is larger than" in str(info.value)
