"""compose.yaml cannot be run here (no Docker): check its structure, and that every newsingest
command it runs exists in the CLI and accepts its arguments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from newsingest.cli import app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


def our_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: svc
        for name, svc in compose["services"].items()
        if svc.get("image", "").startswith("newsingest") or "build" in svc
    }


def test_infrastructure_services_have_health_checks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("redis", "postgres"):
        assert "healthcheck" in services[name], name
        assert services[name]["healthcheck"]["test"]
    assert "--appendonly" in services["redis"]["command"]


def test_migrate_is_one_shot_after_a_healthy_postgres(compose: dict[str, Any]) -> None:
    migrate = compose["services"]["migrate"]
    assert migrate["command"] == ["init"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert migrate["restart"] == "no"


def test_every_dependency_condition_is_valid(compose: dict[str, Any]) -> None:
    services = compose["services"]
    valid = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, svc in services.items():
        for dep, spec in (svc.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            assert spec["condition"] in valid
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], f"{dep} has no healthcheck"


def test_our_services_use_the_project_settings(compose: dict[str, Any]) -> None:
    for name, svc in our_services(compose).items():
        env = svc["environment"]
        assert env["NEWSINGEST_DATABASE_URL"].startswith("postgresql://"), name
        assert env["NEWSINGEST_BROKER_URL"].startswith("redis://"), name
        assert "container_name" not in svc, f"{name} could not be scaled"


def test_every_command_exists_in_the_cli(compose: dict[str, Any]) -> None:
    runner = CliRunner()
    for name, svc in our_services(compose).items():
        command = svc.get("command") or []
        assert command, f"{name} has no command"
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0, f"{name}: `newsingest {' '.join(command)}` -> {result.output}"


def test_workers_start_after_migrations_and_scale(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("scheduler", "fetch-worker", "entities-worker"):
        deps = services[name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully"
        assert deps["redis"]["condition"] == "service_healthy"
    assert services["scheduler"]["command"] == ["scheduler"]
    for name, queue in (("fetch-worker", "fetch"), ("entities-worker", "entities")):
        worker = services[name]
        assert "ports" not in worker, name
        assert "container_name" not in worker, name
        assert worker["command"][:3] == ["worker", "--queues", queue]


def test_long_running_services_have_a_metrics_health_check(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("scheduler", "fetch-worker", "entities-worker"):
        svc = services[name]
        port = svc["environment"]["NEWSINGEST_METRICS_PORT"]
        check = " ".join(svc["healthcheck"]["test"])
        assert f"127.0.0.1:{port}/metrics" in check, name
