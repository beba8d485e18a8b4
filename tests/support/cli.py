"""The one way tests run the command line: in process (``invoke``, Typer's runner) or as
the installed ``newsingest`` console script in a subprocess (``cli``), as cron runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from typer.testing import CliRunner

__all__ = ["EXE", "cli", "invoke", "service_env"]

EXE = shutil.which("newsingest", path=str(Path(sys.executable).parent))

_runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    """Run ``newsingest ARGS`` in this process: (exit code, stdout, stderr).

    Settings are read afresh and the engines disposed after, so one test's database never
    leaks into the next.
    """
    from newsingest.cli import app
    from schemas.db import dispose_engines
    from schemas.settings import get_settings

    get_settings.cache_clear()
    try:
        result = _runner.invoke(app, list(args))
    finally:
        dispose_engines()
    return result.exit_code, result.stdout, result.stderr


def service_env(**values: str) -> dict[str, str]:
    """The caller's environment without NEWSINGEST_* (test-service overrides kept), plus values."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("NEWSINGEST_") or k.startswith("NEWSINGEST_TEST_")
    }
    env.update({f"NEWSINGEST_{k.upper()}": v for k, v in values.items()})
    return env


def cli(
    env: Mapping[str, str], *args: str, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``newsingest ARGS`` with exactly ``env``; output captured as text."""
    assert EXE, "newsingest console script not installed"
    return subprocess.run(
        [EXE, *args],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
