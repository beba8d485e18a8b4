"""Build the per-language NER models: ``python -m tools.ner_multi <command>``.

  prepare --lang de            corpus -> DocBins in .cache/ner-multi/docbin/de
  news                         news text per language for speed (.cache/ner-multi/news)
  build --lang de --out DIR    prepare, train, evaluate on held-out tests, measure words/s,
                               write DIR/de_newsingest_ner/ with MODEL_CARD.md
        (shipped 0.1.0: de, es: --steps 3000; fr, nl, pt: --steps 5000 --resume-from 3000)
  compare --lang fr --model NAME=PATH[:MAP] ...   same tests + interleaved speed for models
  card --lang de --out DIR      re-render DIR/de_newsingest_ner/MODEL_CARD.md (+ DIR/de-extra.json)
  memory                       RSS of one process with every bundled model loaded and run

Run it from the repository root, after unpacking ``../shared/corpus/ner-multi.tar.xz`` into
``.cache/ner-multi/`` (``prepare`` does it if needed). One thread throughout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tarfile
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from tools.ner_multi import card, data, evaluate, news, train  # noqa: E402

CORPUS_TAR = Path("../shared/corpus/ner-multi.tar.xz")
VERSION = "0.1.0"
SPEED_WORDS = 60_000
MAPS = {"plo": evaluate.PLO, "ontonotes": evaluate.ONTONOTES_TO_PLO}


def _ensure_raw() -> None:
    if not data.RAW.exists():
        data.CACHE.mkdir(parents=True, exist_ok=True)
        with tarfile.open(CORPUS_TAR) as tf:
            tf.extractall(data.CACHE, filter="data")


def _docbins(lang: str) -> Path:
    folder = data.CACHE / "docbin" / lang
    if not (folder / "stats.json").exists():
        _ensure_raw()
        data.prepare(lang, folder)
    return folder


def speed_texts(lang: str) -> tuple[list[str], str]:
    """News pages of the language; topped up with held-out test text where pages are few."""
    texts: list[str] = []
    for text in news.texts(lang):  # a sample is enough for a rate, and keeps builds short
        if sum(len(t.split()) for t in texts) >= SPEED_WORDS:
            break
        texts.append(text)
    what = f"{len(texts)} news pages (trafilatura evaluation set)"
    if len(texts) < 20:
        folder = _docbins(lang)
        para: list[str] = []
        sents: list[str] = []
        tests = sorted(folder.glob("test-*.spacy"), key=lambda p: "wikiann" in p.name)
        for path in tests:
            for text, _ in evaluate.gold_docs(path, lang)[:3000]:
                sents.append(text)
                if sum(len(s.split()) for s in sents) > 200:
                    para.append(" ".join(sents))
                    sents = []
        texts += para[:200]
        what += f" + {min(len(para), 200)} paragraphs of held-out test sentences"
    return texts, what


def _load(spec: str) -> Any:
    import spacy

    return spacy.load(spec, exclude=["tagger", "parser", "lemmatizer", "attribute_ruler",
                                    "morphologizer", "senter", "tok2vec_tagger"])  # fmt: skip


def _dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def _resumed(run: Path) -> str:
    """How a resumed run started (``train --resume``), for the card; "" if from scratch."""
    info = json.loads((run / "arch.json").read_text()) if (run / "arch.json").exists() else {}
    base = str(info.get("resumed_from") or "")
    return f"{base} + {info['steps']} steps" if base else ""


def build(
    lang: str, arch_name: str, steps: int, out: Path, retrain: bool, resume_from: int = 0
) -> dict[str, Any]:
    """Train (unless done), evaluate, measure, package. ``resume_from``: train the last
    ``steps - resume_from`` steps from the ``resume_from``-step build's best model."""
    import spacy

    folder = _docbins(lang)
    arch = train.ARCHS[arch_name]
    run = data.CACHE / "runs" / f"{lang}-{arch_name}-{steps}"
    best = run / "model-best"
    if retrain or not best.exists():
        if resume_from:
            base = data.CACHE / "runs" / f"{lang}-{arch_name}-{resume_from}" / "model-best"
            if not base.exists():
                build(lang, arch_name, resume_from, out, retrain)
            train.train(lang, folder, run, arch, steps - resume_from, resume=base)
        else:
            train.train(lang, folder, run, arch, steps)
    nlp = spacy.load(best)
    scores = {
        p.stem.removeprefix("test-"): evaluate.evaluate(nlp, p, lang)
        for p in sorted(folder.glob("test-*.spacy"))
    }
    texts, what = speed_texts(lang)
    wps = evaluate.words_per_second({f"{lang}_newsingest_ner": evaluate.pipe_runner(nlp)}, texts)
    name = f"{lang}_newsingest_ner"
    target = out / name
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(best, target)
    stats = json.loads((folder / "stats.json").read_text())
    meta = json.loads((target / "meta.json").read_text())
    meta.update(
        name="newsingest_ner", version=VERSION, license="MIT", author="newsingest",
        description=f"Small {card.LANG_NAMES.get(lang, lang)} NER (CNN tok2vec + ner, no "
        "vectors), PER/ORG/LOC, trained by tools/ner_multi from WikiANN and news-like data; "
        "see MODEL_CARD.md (training data licences there).",
        performance={src: s["ALL"] for src, s in scores.items()},
    )  # fmt: skip
    (target / "meta.json").write_text(json.dumps(meta, indent=1))
    report = {
        "lang": lang, "name": name, "version": VERSION,
        "arch": {**arch.__dict__, "steps": steps, "resumed": _resumed(run)},
        "labels": list(nlp.get_pipe("ner").labels), "size_mb": _dir_mb(target),
        "spacy": f"spaCy {spacy.__version__}", "data": stats, "scores": scores,
        "speed": {"wps": wps, "texts": len(texts), "what": what, "repeats": 3,
                  "words": sum(len(t.split()) for t in texts)},
    }  # fmt: skip
    extra = out / f"{lang}-extra.json"  # comparison tables (``compare --card``)
    if extra.exists():
        report["extra"] = json.loads(extra.read_text())
    (run / "report.json").write_text(json.dumps(report, indent=1))
    (target / "MODEL_CARD.md").write_text(card.render(report))
    return report


PROBES = {"it": Path(__file__).with_name("probe_it.txt")}


def compare(lang: str, specs: list[str], repeats: int) -> dict[str, Any]:
    """Scores on the language's tests and interleaved words/s for several models."""
    tests: dict[str, Any] = {}
    if lang in PROBES:  # no corpus: the hand-labelled probe sentences only
        tests["probe"] = evaluate.read_marked(PROBES[lang])
    else:
        folder = _docbins(lang)
        tests = {p.stem.removeprefix("test-"): p for p in sorted(folder.glob("test-*.spacy"))}
    models: dict[str, tuple[Any, dict[str, str]]] = {}
    for spec in specs:
        label, _, rest = spec.partition("=")
        path, _, map_name = rest.partition(":")
        models[label] = (_load(path), MAPS[map_name or "plo"])
    result: dict[str, Any] = {"scores": {}, "wps": {}}
    for label, (nlp, mapping) in models.items():
        result["scores"][label] = {
            name: evaluate.evaluate(nlp, test, lang, mapping) for name, test in tests.items()
        }
    if lang in PROBES:
        texts = news.texts(lang) + [t for t, _ in tests["probe"]]
        what = f"{len(news.texts(lang))} news pages + the probe sentences"
    else:
        texts, what = speed_texts(lang)
    runners = {label: evaluate.pipe_runner(nlp) for label, (nlp, _) in models.items()}
    result["wps"] = evaluate.words_per_second(runners, texts, repeats)
    result["speed_text"] = what
    return result


def compare_table(res: dict[str, Any]) -> list[str]:
    """Markdown rows: model, test set, P/R/F1 overall and per label, words/s."""
    lines = [
        "| model | test | P | R | F1 | PER F1 | ORG F1 | LOC F1 | words/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for model, tests in res["scores"].items():
        for test, sc in tests.items():
            per_label = [card.pct(sc[lab]["f"]) if lab in sc else "-" for lab in evaluate.PLO]
            a = sc["ALL"]
            lines.append(
                f"| {model} | {test} | {card.pct(a['p'])} | {card.pct(a['r'])} | "
                f"{card.pct(a['f'])} | {' | '.join(per_label)} | {res['wps'][model]:,.0f} |"
            )
    lines += ["", f"Words/s: CPU time, median of interleaved runs over {res['speed_text']}."]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m tools.ner_multi")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--lang", required=True)
    sub.add_parser("news")
    sub.add_parser("memory")
    b = sub.add_parser("build")
    b.add_argument("--lang", required=True)
    b.add_argument("--arch", default="w64d2", choices=sorted(train.ARCHS))
    b.add_argument("--steps", type=int, default=3000)
    b.add_argument("--out", type=Path, default=Path("workers/models"))
    b.add_argument("--retrain", action="store_true")
    b.add_argument("--resume-from", type=int, default=0, help="steps of the build to go on from")
    r = sub.add_parser("card", help="re-render a built model's card (with --out's extras)")
    r.add_argument("--lang", required=True)
    r.add_argument("--arch", default="w64d2", choices=sorted(train.ARCHS))
    r.add_argument("--steps", type=int, default=3000)
    r.add_argument("--out", type=Path, default=Path("workers/models"))
    c = sub.add_parser("compare")
    c.add_argument("--lang", required=True)
    c.add_argument("--model", action="append", required=True)
    c.add_argument("--repeats", type=int, default=3)
    c.add_argument("--json", type=Path)
    c.add_argument("--card-extra", type=Path, help="append the table to this extras file")
    c.add_argument("--title", default="Comparison")
    args = ap.parse_args()
    if args.cmd == "prepare":
        _ensure_raw()
        print(json.dumps(data.prepare(args.lang), indent=1))
    elif args.cmd == "news":
        print(news.extract())
    elif args.cmd == "memory":
        from tools.ner_multi import memory

        print(json.dumps(memory.measure(), indent=1))
    elif args.cmd == "build":
        rep = build(args.lang, args.arch, args.steps, args.out, args.retrain, args.resume_from)
        print(json.dumps({k: rep[k] for k in ("scores", "speed", "size_mb")}, indent=1))
    elif args.cmd == "card":
        run = data.CACHE / "runs" / f"{args.lang}-{args.arch}-{args.steps}"
        report = json.loads((run / "report.json").read_text())
        extra = args.out / f"{args.lang}-extra.json"
        if extra.exists():
            report["extra"] = json.loads(extra.read_text())
        (args.out / report["name"] / "MODEL_CARD.md").write_text(card.render(report))
    else:
        res = compare(args.lang, args.model, args.repeats)
        if args.json:
            args.json.write_text(json.dumps(res, indent=1))
        if args.card_extra:
            extras = json.loads(args.card_extra.read_text()) if args.card_extra.exists() else []
            extras.append({"title": args.title, "lines": compare_table(res)})
            args.card_extra.write_text(json.dumps(extras, indent=1))
        print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
