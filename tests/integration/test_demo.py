"""`newsingest demo`: the newcomer's first run, offline, on the embedded default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import cli, service_env
from workers.nlp import BUNDLED_MODEL

pytestmark = pytest.mark.integration


def test_demo_ingests_the_sample_site_end_to_end(tmp_path: Path) -> None:
    env = service_env(concurrency="2")  # nothing configured: SQLite in the cwd, no Redis
    run = cli(env, "demo", "--port", "0", cwd=tmp_path, timeout=240)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "newsingest.db").exists()
    out = run.stdout
    assert "articles: 6 new, 2 duplicate" in out
    assert "6 with entities (in-process)" in out
    # The German brief goes to the German model.
    assert "Neue Fähre zwischen Harbourton und Valdemar\tde\tprocessed" in out
    assert "Harbourton opens tidal barrier after six years of work\ten\tprocessed" in out
    # The harbour master is named in several articles: one entity with her mentions summed.
    people = [line.split("\t") for line in out.splitlines() if line.startswith("PERSON\t")]
    brandt = [int(count) for _, name, count in people if name == "Elena Brandt"]
    assert brandt, out
    assert brandt[0] >= 4
    # And it says which pipelines produced the entities: the bundled set, not a fallback.
    bundled = json.loads((BUNDLED_MODEL / "meta.json").read_text("utf-8"))
    assert "entities by spaCy pipeline newsingest_ner " in out
    assert f"en{bundled['version']}" in out
    assert "rule-based fallback" not in run.stderr
