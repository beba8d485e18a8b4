"""What the wheel carries: the runtime packages and the bundled model with its card, never the
tooling that builds the model, the tests or the benchmarks."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODELS = sorted((ROOT / "workers" / "models").glob("*_newsingest_ner"))
NOT_SHIPPED = ("build_default", "port_teacher", "_teacher", "student.cfg", "teacher-requirements")

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The member names of a wheel built from a copy of this checkout (the build writes
    ``build/`` and ``*.egg-info`` next to the sources: not into the working tree)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(
        ROOT,
        src,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", ".cache", "build", "dist", "*.egg-info", "__pycache__"
        ),
    )
    run = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-q", "-w", str(tmp / "out")],
        cwd=src,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    [wheel] = (tmp / "out").glob("newsingest-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def test_the_wheel_holds_the_runtime_packages_only(wheel_names: list[str]) -> None:
    tops = {
        name.split("/")[0] for name in wheel_names if not name.split("/")[0].endswith(".dist-info")
    }
    assert tops == {"newsingest", "ingest", "workers", "query", "schemas"}


def test_the_model_building_tooling_is_not_in_the_wheel(wheel_names: list[str]) -> None:
    for name in wheel_names:
        assert not name.startswith(("tools/", "tests/", "bench/")), name
        assert not any(part in name.rsplit("/", 1)[-1] for part in NOT_SHIPPED), name


def test_the_models_and_their_cards_are_in_the_wheel(wheel_names: list[str]) -> None:
    shipped = set(wheel_names)
    assert "workers/models/MODEL_CARD.md" in shipped
    assert "en_newsingest_ner" in [m.name for m in MODELS]
    files = [
        p for m in MODELS for p in m.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    ]
    assert files
    for path in files:
        assert path.relative_to(ROOT).as_posix() in shipped, path
