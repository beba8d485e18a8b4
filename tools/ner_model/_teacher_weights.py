"""Dump the teacher's NER weights for the port. Runs ONLY inside the build-time teacher venv.

Like ``_teacher.py`` this runs in the venv of spaCy 2.3.9 / thinc 7.4.6 + en_core_web_sm 2.2.5
that ``build_default.py`` makes (step ``teacher-env``); it must not import the project.

Commands::

    python _teacher_weights.py dump OUT_DIR        # OUT_DIR/ner-weights.npz + ner-port.json
    python _teacher_weights.py probe IN.jsonl OUT.npz  # tok2vec inputs/outputs of some docs
    python _teacher_weights.py ner-only IN.jsonl OUT.jsonl  # entities of ner alone (no parser)

``dump`` writes every parameter of the teacher's ``ner`` model (its own tok2vec: four hash
embeddings, the layer-normalised maxout mixing them, four residual window CNN layers; the
precomputable lower layer; the upper affine layer) with the settings a faithful port needs:
hash seeds and columns as the loaded model uses them, the pad embedding (what the zero feature
rows that thinc 7 inserts between documents embed to), the move names in output order, the
state-feature count and the model cfg. The teacher's vocab has no ``lexeme_norm`` table (NORM
is the lower-case form plus tokenizer-exception norms); ``dump`` checks this and records the
norms of the stored lexemes anyway.
"""

from __future__ import annotations

import importlib
import json
import sys
import warnings
from pathlib import Path
from typing import Any

BATCH_SIZE = 64


def load_teacher() -> Any:
    warnings.filterwarnings("ignore", message=r".*\[W031\].*")
    return importlib.import_module("en_core_web_sm").load()


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _layers(model: Any) -> list[Any]:
    """Every layer of a thinc 7 model, depth first, parents before children."""
    out = [model]
    for layer in getattr(model, "_layers", []):
        out.extend(_layers(layer))
    return out


def ner_parts(nlp: Any) -> dict[str, Any]:
    """The parameterised layers of the ner model, by role (checked, not assumed)."""
    from spacy._ml import PrecomputableAffine
    from thinc.i2v import HashEmbed
    from thinc.misc import LayerNorm
    from thinc.v2v import Affine, Maxout

    model = nlp.get_pipe("ner").model
    tok2vec, lower, upper = model._layers
    assert isinstance(lower, PrecomputableAffine), type(lower)
    assert isinstance(upper, Affine), type(upper)
    layers = _layers(tok2vec)
    embeds = [x for x in layers if isinstance(x, HashEmbed)]
    norms = [x for x in layers if isinstance(x, LayerNorm)]
    maxouts = [x for x in layers if isinstance(x, Maxout)]
    assert [e.name for e in embeds] == [
        "embed_norm",
        "embed_prefix",
        "embed_suffix",
        "embed_shape",
    ], [e.name for e in embeds]
    assert len(norms) == 5
    assert len(maxouts) == 5
    assert all(n.child is m for n, m in zip(norms, maxouts, strict=True))
    assert type(tok2vec._layers[0]).__name__ == "FeatureExtracter"
    assert tok2vec._layers[1]._layers[0]._layers[0].begin_update.__name__ == "uniqued_fwd"
    return {
        "model": model,
        "tok2vec": tok2vec,
        "embeds": embeds,
        "norms": norms,
        "maxouts": maxouts,
        "lower": lower,
        "upper": upper,
        # tok2vec = FeatureExtracter >> with_flatten(embed >> cnn ** 4, pad=4) >> flatten with
        # embed = uniqued((norm | prefix | suffix | shape) >> LN(Maxout)); with_flatten feeds
        # the zero feature rows it pads documents with through embed too
        "features": tok2vec._layers[0],
        "embed": tok2vec._layers[1]._layers[0]._layers[0]._layers[0],
    }


def dump(out_dir: Path) -> None:
    import numpy
    import spacy
    import thinc

    nlp = load_teacher()
    ner = nlp.get_pipe("ner")
    parts = ner_parts(nlp)
    arrays: dict[str, Any] = {}
    for i, e in enumerate(parts["embeds"]):
        arrays[f"embed{i}.E"] = e.vectors
    names = ["mix"] + [f"cnn{k}" for k in range(4)]
    for name, ln, mx in zip(names, parts["norms"], parts["maxouts"], strict=True):
        arrays[f"{name}.W"] = mx.W  # (nO, nP, nI), as thinc 8
        arrays[f"{name}.b"] = mx.b
        arrays[f"{name}.G"] = ln.G
        arrays[f"{name}.ln_b"] = ln.b
    lower, upper = parts["lower"], parts["upper"]
    arrays["lower.W"] = lower.W  # (nF, nO, nP, nI)
    arrays["lower.b"] = lower.b  # (nO, nP)
    arrays["lower.pad"] = lower.pad  # (1, nF, nO, nP)
    arrays["upper.W"] = upper.W  # (n_actions, nO)
    arrays["upper.b"] = upper.b
    # What a zero feature row (ID, NORM, PREFIX, SUFFIX, SHAPE, ORTH all 0) embeds to: thinc 7
    # pads every document with conv_depth such rows before the CNN (with_flatten(pad=...)).
    zero = numpy.zeros((1, 6), dtype="uint64")
    arrays["pad_embedding"] = parts["embed"].predict(zero)[0]
    arrays = {k: numpy.ascontiguousarray(v, dtype="float32") for k, v in arrays.items()}
    out_dir.mkdir(parents=True, exist_ok=True)
    numpy.savez(out_dir / "ner-weights.npz", **arrays)

    moves = ner.moves
    lexemes = {}
    for lex in nlp.vocab:
        if lex.norm_ != lex.orth_.lower():
            lexemes[lex.orth_] = lex.norm_
    info = {
        "spacy": spacy.__version__,
        "thinc": thinc.__version__,
        "model": f"{nlp.meta['lang']}_{nlp.meta['name']}-{nlp.meta['version']}",
        "cfg": {k: v for k, v in ner.cfg.items() if not isinstance(v, dict)},
        "nr_feature": int(lower.nF),
        "moves": [moves.get_class_name(i) for i in range(moves.n_moves)],
        "unseen_classes": sorted(int(c) for c in getattr(parts["model"], "unseen_classes", ())),
        "embeds": [
            {"name": e.name, "column": int(e.column), "seed": int(e.seed), "rows": int(e.nV)}
            for e in parts["embeds"]
        ],
        "feature_columns": ["ID", "NORM", "PREFIX", "SUFFIX", "SHAPE", "ORTH"],
        "lookups_tables": list(nlp.vocab.lookups.tables),
        "lexeme_norm_exceptions": lexemes,
        "tokenizer": tokenizer_settings(nlp),
        "shapes": {k: list(v.shape) for k, v in arrays.items()},
    }
    (out_dir / "ner-port.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    print(f"teacher weights: {len(arrays)} arrays -> {out_dir}", file=sys.stderr)


def tokenizer_settings(nlp: Any) -> dict[str, Any]:
    """The teacher's tokenizer: regex patterns and special cases (ORTH and NORM only).

    NORM is a model input, so the port uses the teacher's special cases (e.g. "'d" -> "would",
    which spaCy 3 no longer has) and splitting rules, to see the same tokens and norms.
    """
    from spacy.attrs import NORM, ORTH

    tok = nlp.tokenizer
    patterns = {}
    for key in ("prefix_search", "suffix_search", "infix_finditer", "token_match", "url_match"):
        func = getattr(tok, key, None)
        patterns[key] = getattr(getattr(func, "__self__", None), "pattern", None)
    rules = {
        string: [[piece[ORTH], piece.get(NORM)] for piece in pieces]
        for string, pieces in sorted(tok.rules.items())
    }
    return {"patterns": patterns, "rules": rules}


def probe(src: Path, dst: Path) -> None:
    """Tokens, feature arrays and tok2vec output of the teacher's ner, per document."""
    import numpy

    nlp = load_teacher()
    parts = ner_parts(nlp)
    arrays: dict[str, Any] = {}
    for i, record in enumerate(read_jsonl(src)):
        doc = nlp.make_doc(record["text"])
        feats = parts["features"]([doc])[0]
        arrays[f"{i}.feats"] = numpy.asarray(feats, dtype="uint64")
        arrays[f"{i}.tok2vec"] = parts["tok2vec"]([doc])
        arrays[f"{i}.idx"] = numpy.asarray([t.idx for t in doc], dtype="int64")
    numpy.savez(dst, **arrays)


def ner_only(src: Path, dst: Path) -> None:
    nlp = load_teacher()
    records = read_jsonl(src)
    texts = (r["text"] for r in records)
    docs = nlp.pipe(texts, batch_size=BATCH_SIZE, disable=["tagger", "parser"])
    with dst.open("w", encoding="utf-8") as out:
        for record, doc in zip(records, docs, strict=True):
            ents = [[e.start_char, e.end_char, e.label_] for e in doc.ents]
            out.write(json.dumps({"id": record["id"], "ents": ents}, ensure_ascii=False) + "\n")


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "dump":
        dump(Path(argv[1]))
    elif len(argv) == 3 and argv[0] == "probe":
        probe(Path(argv[1]), Path(argv[2]))
    elif len(argv) == 3 and argv[0] == "ner-only":
        ner_only(Path(argv[1]), Path(argv[2]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
