"""The layering rule, checked: the import-linter contracts in pyproject.toml hold, and the
ingest side, imported whole in a fresh interpreter, pulls in neither spaCy nor the workers."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import ingest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
loaded = sorted({m.split(".")[0] for m in sys.modules})
print(json.dumps(loaded))
"""


def imported_by(modules: list[str]) -> set[str]:
    """Top-level packages in sys.modules after importing ``modules`` in a fresh interpreter."""
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, *modules],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    import json

    return set(json.loads(run.stdout.strip().splitlines()[-1]))


def ingest_modules() -> list[str]:
    # ingest.preload warms trafilatura when imported: it is imported like every other module.
    return sorted(
        m.name for m in pkgutil.walk_packages(ingest.__path__, prefix="ingest.") if not m.ispkg
    )


def test_importing_the_whole_ingest_side_never_imports_spacy_or_the_workers() -> None:
    modules = ingest_modules()
    assert "ingest.poll" in modules
    assert "ingest.enqueue" in modules
    loaded = imported_by(modules)
    assert "trafilatura" in loaded  # the import really happened
    assert not {"spacy", "thinc", "workers", "newsingest"} & loaded


def test_the_workers_never_import_the_ingest_side() -> None:
    loaded = imported_by(["workers.tasks", "workers.inprocess", "workers.replay"])
    assert "celery" in loaded
    assert not {"ingest", "newsingest"} & loaded


def test_the_command_line_starts_without_loading_the_pipeline() -> None:
    loaded = imported_by(["newsingest.cli"])
    assert "typer" in loaded
    assert not {"trafilatura", "celery", "spacy"} & loaded


def test_the_import_contracts_hold() -> None:
    exe = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run(
        [str(exe), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stdout[-3000:]
    assert "0 broken" in run.stdout
