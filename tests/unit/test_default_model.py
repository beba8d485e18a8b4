"""The bundled default NER pipeline: shipped as package data with its card, and what
`newsingest model` says about it (its names on the seed article: tests/integration)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import invoke
from workers.nlp import BUNDLED_MODEL


def test_the_bundled_model_is_package_data_under_15_mb() -> None:
    assert BUNDLED_MODEL.is_dir()
    size = sum(p.stat().st_size for p in BUNDLED_MODEL.rglob("*") if p.is_file())
    assert size < 15 * 1024 * 1024, size
    meta = json.loads((BUNDLED_MODEL / "meta.json").read_text())
    assert meta["name"] == "newsingest_ner" or meta["name"] == "en_newsingest_ner"
    assert meta["lang"] == "en"
    assert "MIT" in meta.get("license", "")
    card = (BUNDLED_MODEL.parent / "MODEL_CARD.md").read_text()
    for heading in ("Labels", "Figures", "Licence"):
        assert f"## {heading}" in card


def test_model_info_names_the_default_and_where_it_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = invoke("model", "info")
    assert code == 0, err
    assert "en_newsingest_ner" in out
    assert str(BUNDLED_MODEL) in out
    assert "default" in out  # not configured: the bundled default
    for label in ("PERSON", "ORG", "GPE", "LOC"):
        assert label in out


def test_model_install_refuses_what_is_not_a_package_name() -> None:
    # Only the refusal is tested: a real install would try to reach GitHub.
    code, _, err = invoke("model", "install", "en_core_web_sm; rm -rf /")
    assert code == 1
    assert "not a model package name" in err
