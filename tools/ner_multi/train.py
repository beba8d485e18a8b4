"""``spacy train`` on a language's DocBins with one architecture variant of ``ner.cfg``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

CONFIG = Path(__file__).with_name("ner.cfg")


@dataclass(frozen=True)
class Arch:
    """The sizes that trade accuracy for speed (tok2vec width/depth, hash rows, NER hidden)."""

    name: str
    width: int = 64
    depth: int = 2
    rows: tuple[int, int, int, int] = (5000, 1000, 2500, 1000)  # NORM PREFIX SUFFIX SHAPE
    hidden: int = 64
    maxout: int = 3

    def overrides(self) -> list[str]:
        enc = "components.tok2vec.model.encode"
        return [
            f"--{enc}.width", str(self.width),
            f"--{enc}.depth", str(self.depth),
            f"--{enc}.maxout_pieces", str(self.maxout),
            "--components.tok2vec.model.embed.rows", json.dumps(list(self.rows)),
            "--components.ner.model.hidden_width", str(self.hidden),
        ]  # fmt: skip


ARCHS = {
    a.name: a
    for a in (
        Arch("w64d2"),
        Arch("w48d2", width=48, rows=(4000, 1000, 2000, 500), hidden=48),
        Arch("w64d4", depth=4),
        Arch("w96d4", width=96, depth=4, rows=(5000, 2000, 5000, 1500)),
    )
}


def resume_config(base: Path, out: Path) -> Path:
    """``ner.cfg`` with both components sourced from a trained pipeline, to train it further."""
    from thinc.api import Config

    cfg = Config().from_disk(CONFIG, interpolate=False)
    cfg["components"] = {name: {"source": str(base)} for name in ("tok2vec", "ner")}
    path = out / "resume.cfg"
    cfg.to_disk(path)
    return path


def train(
    lang: str, data: Path, out: Path, arch: Arch, steps: int, seed: int = 0,
    resume: Path | None = None,
) -> Path:  # fmt: skip
    """Train into ``out`` (``model-best`` is kept by spaCy); returns the best model's path.
    ``resume``: start from that trained pipeline (same architecture) instead of from scratch."""
    out.mkdir(parents=True, exist_ok=True)
    meta = {**asdict(arch), "steps": steps, "lang": lang, "resumed_from": str(resume or "")}
    (out / "arch.json").write_text(json.dumps(meta))
    config = resume_config(resume, out) if resume else CONFIG
    overrides = [] if resume else arch.overrides()
    cmd = [
        sys.executable, "-m", "spacy", "train", str(config), "--output", str(out),
        "--paths.train", str(data / "train.spacy"), "--paths.dev", str(data / "dev.spacy"),
        "--nlp.lang", lang, "--training.max_steps", str(steps),
        "--training.eval_frequency", str(max(200, steps // 8)),
        "--system.seed", str(seed), *overrides,
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    env["MKL_NUM_THREADS"] = "1"
    with (out / "train.log").open("w") as log:
        subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT, env=env)  # noqa: S603
    return out / "model-best"
