"""Port the teacher's NER weights (spaCy 2.3 / thinc 7) into a spaCy 3.8 pipeline.

Build-time only (``build_default.py`` step ``port``); reads the arrays that
``_teacher_weights.py dump`` writes in the teacher venv and makes a ``tok2vec`` + ``ner``
pipeline (the ``ner`` listens to the ``tok2vec``; standard registered spaCy 3.8 / thinc 8
architectures only, so the result loads with plain ``spacy.load``). The split lets fine-tuning
keep the converted tok2vec frozen.

How the teacher's network maps onto spaCy 3.8 (checked against the installed sources):

- Embedding: thinc 7 ``HashEmbed`` NORM (2000 rows), PREFIX, SUFFIX, SHAPE (1000 rows each),
  concatenated, ``LN(Maxout(96, 384, pieces=3))`` = ``spacy.MultiHashEmbed.v2`` with the same
  rows (its ``Maxout(normalize=True)`` is Maxout then LayerNorm, same weight layout
  (nO, nP, nI), same epsilon 1e-8). The hash seeds are the loaded teacher's (14..17, not the
  8..11 spaCy 3 picks) and are set in each layer's ``attrs["seed"]``, which thinc serialises.
- Encoder: 4 x ``Residual(ExtractWindow(1) >> LN(Maxout(96, 288, 3)))`` =
  ``spacy.MaxoutWindowEncoder.v2``. thinc 7 pads each document with 4 rows of *zero feature
  IDs* that go through the embedding (so the padding starts as the vector ``p0`` that a zero
  row embeds to); thinc 8 pads with zero *vectors*. The port runs the whole residual stream
  shifted by ``-p0``: the embedding's LayerNorm bias gets ``-p0``, each CNN layer's maxout
  bias gets ``W . [p0, p0, p0]``, and the parser's input ``Linear`` adds ``p0`` back. That is
  exact (the padding rows are then ``p0`` in the original coordinates, as in thinc 7).
- Parser state features: spaCy 2's NER uses 6 tokens ``B0, B0-1, B1, E0, E0-1, E0+1`` (``E0``
  the start of the last entity, open or closed); spaCy 3's ``state_type = "ner"`` offers only
  ``B0, E0 if an entity is open, B0-1 if open`` (3) or ``B0`` + the open entity's tokens (6).
  So the encoder output is widened to a window: ``[h(i-1), h(i), h(i+1), 1]`` blocks (the 1 is
  a constant channel that is 0 on the zero-padded positions past a document's ends), and the
  parser's ``Linear`` projects that window straight to the teacher's lower-layer
  pre-activations: for slot ``B0`` the sum of the teacher's features B0, B0-1, B1 (the
  constant channel makes missing neighbours at document ends give the teacher's pad vectors),
  and, with ``hidden_width`` 256, for slot ``E0`` (open entity) the teacher's E0, E0-1, E0+1.
  The spaCy 3 lower layer then just routes those sums (identity blocks) into the teacher's 64
  hidden units; the other units are zero everywhere (maxout of all-zero pieces is 0) and have
  zero columns in the upper layer. Exact except: spaCy 3 cannot see the start of a *closed*
  entity (the teacher's E0 features then get its pad vectors instead), and at the very first
  entity the teacher reads ``E0+1`` = the document's first token (a spaCy 2 quirk).
- Upper: rows permuted by move name (spaCy 3 names the same BILUO moves, in another order).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy

WIDTH = 96
ONES = 1  # constant channel appended to every token vector before the window
WINDOW_WIDTH = 3 * (WIDTH + ONES)
TEACHER_HIDDEN = 64
TEACHER_PIECES = 2
PROJ = TEACHER_HIDDEN * TEACHER_PIECES  # one slot's pre-activations: 128

CONFIG_TEMPLATE = """
[paths]
train = null
dev = null
vectors = null
init_tok2vec = null

[system]
gpu_allocator = null
seed = 0

[nlp]
lang = "en"
pipeline = ["tok2vec", "ner"]
batch_size = 1000
disabled = []
before_creation = null
after_creation = null
after_pipeline_creation = null

[components]

[components.tok2vec]
factory = "tok2vec"

[components.tok2vec.model]
@architectures = "spacy.Tok2Vec.v2"

[components.tok2vec.model.embed]
@architectures = "spacy.MultiHashEmbed.v2"
width = 96
attrs = ["NORM", "PREFIX", "SUFFIX", "SHAPE"]
rows = [2000, 1000, 1000, 1000]
include_static_vectors = false

[components.tok2vec.model.encode]
@layers = "chain.v1"

[components.tok2vec.model.encode.*.cnn]
@architectures = "spacy.MaxoutWindowEncoder.v2"
width = 96
depth = 4
window_size = 1
maxout_pieces = 3

[components.tok2vec.model.encode.*.ones]
@layers = "with_array.v1"
pad = 0

[components.tok2vec.model.encode.*.ones.layer]
@layers = "Linear.v1"
nO = 97
nI = 96

[components.tok2vec.model.encode.*.ragged]
@layers = "list2ragged.v1"

[components.tok2vec.model.encode.*.window]
@layers = "expand_window.v1"
window_size = 1

[components.tok2vec.model.encode.*.list]
@layers = "ragged2list.v1"

[components.ner]
factory = "ner"
moves = null
update_with_oracle_cut_size = 100
incorrect_spans_key = null

[components.ner.model]
@architectures = "spacy.TransitionBasedParser.v2"
state_type = "ner"
extra_state_tokens = false
hidden_width = {hidden}
maxout_pieces = 2
use_upper = true
nO = null

[components.ner.model.tok2vec]
@architectures = "spacy.Tok2VecListener.v1"
width = 291
upstream = "tok2vec"

[components.ner.scorer]
@scorers = "spacy.ner_scorer.v1"
"""


def port_config(hidden: int) -> str:
    return CONFIG_TEMPLATE.replace("{hidden}", str(hidden))


def load_teacher_arrays(port_dir: Path) -> tuple[dict[str, numpy.ndarray], dict[str, Any]]:
    with numpy.load(port_dir / "ner-weights.npz") as data:
        arrays = {k: numpy.asarray(data[k], dtype="float32") for k in data.files}
    info = json.loads((port_dir / "ner-port.json").read_text(encoding="utf-8"))
    return arrays, info


def _labels(moves: list[str]) -> list[str]:
    return sorted({m.split("-", 1)[1] for m in moves if "-" in m and m.split("-", 1)[1]})


def _layers_named(model: Any, name: str) -> list[Any]:
    return [layer for layer in model.walk(order="dfs_pre") if layer.name == name]


def build_ported(port_dir: Path, hidden: int = 256, extra_units: int = 0, seed: int = 0) -> Any:
    """A spaCy 3.8 ``Language`` with the teacher's NER weights (see the module docstring).

    ``extra_units`` hidden units beyond the teacher's 64 get small random lower-layer weights
    (seeded) and zero output weights: the network computes exactly the same, but fine-tuning
    can grow them (all-zero units get no gradient and would stay unused).
    """
    import spacy
    from spacy.training import Example
    from thinc.api import Config

    if hidden != PROJ and hidden < 2 * PROJ:
        raise ValueError(f"hidden must be {PROJ} or >= {2 * PROJ}")
    w, info = load_teacher_arrays(port_dir)
    assert info["nr_feature"] == 6
    assert info["cfg"]["hidden_width"] == TEACHER_HIDDEN
    assert info["cfg"]["maxout_pieces"] == TEACHER_PIECES
    assert [e["rows"] for e in info["embeds"]] == [2000, 1000, 1000, 1000]
    assert [e["column"] for e in info["embeds"]] == [1, 2, 3, 4]  # NORM PREFIX SUFFIX SHAPE

    config = Config().from_str(port_config(hidden))
    nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
    use_teacher_tokenizer(nlp, info["tokenizer"])
    ner = nlp.get_pipe("ner")
    labels = _labels(info["moves"])
    for label in labels:
        ner.add_label(label)
    doc = nlp.make_doc("Alice Smith visited Paris in May .")
    sample = Example.from_dict(doc, {"entities": [(0, 11, "PERSON"), (20, 25, "GPE")]})
    nlp.initialize(lambda: [sample])

    model = ner.model
    t2v_model = nlp.get_pipe("tok2vec").model
    p0 = w["pad_embedding"]
    # -- embedding
    embeds = _layers_named(t2v_model, "hashembed")
    assert len(embeds) == 4
    for i, (layer, spec) in enumerate(zip(embeds, info["embeds"], strict=True)):
        _set(layer, "E", w[f"embed{i}.E"])
        layer.attrs["seed"] = int(spec["seed"])
    maxouts = _layers_named(t2v_model, "maxout")
    norms = _layers_named(t2v_model, "layernorm")
    assert len(maxouts) == 5
    assert len(norms) == 5
    shift = -p0
    _set(maxouts[0], "W", w["mix.W"])
    _set(maxouts[0], "b", w["mix.b"])
    _set(norms[0], "G", w["mix.G"])
    _set(norms[0], "b", w["mix.ln_b"] + shift)
    # -- encoder: residual stream shifted by -p0 (see docstring)
    p0_window = numpy.concatenate([p0, p0, p0])
    for k in range(4):
        W = w[f"cnn{k}.W"]  # (96, 3, 288)
        _set(maxouts[k + 1], "W", W)
        _set(maxouts[k + 1], "b", w[f"cnn{k}.b"] + W @ p0_window)
        _set(norms[k + 1], "G", w[f"cnn{k}.G"])
        _set(norms[k + 1], "b", w[f"cnn{k}.ln_b"])
    # -- constant channel: Linear(97, 96) = [identity; 0] with bias [0, ..., 0, 1]
    linears = _layers_named(t2v_model, "linear") + _layers_named(model, "linear")
    ones = [x for x in linears if x.get_dim("nO") == WIDTH + ONES]
    assert len(ones) == 1
    ones_W = numpy.zeros((WIDTH + ONES, WIDTH), dtype="f")
    ones_W[:WIDTH] = numpy.eye(WIDTH, dtype="f")
    ones_b = numpy.zeros((WIDTH + ONES,), dtype="f")
    ones_b[WIDTH:] = 1.0
    _set(ones[0], "W", ones_W)
    _set(ones[0], "b", ones_b)
    # -- parser input projection: window [h(i-1) 1 | h(i) 1 | h(i+1) 1] (shifted h) -> slots
    lower_w, lower_pad = w["lower.W"], w["lower.pad"][0]  # (6, 64, 2, 96), (6, 64, 2)
    proj = [x for x in linears if x.get_dim("nO") == hidden and x is not ones[0]]
    assert len(proj) == 1
    proj_W = numpy.zeros((hidden, WINDOW_WIDTH), dtype="f")
    proj_b = numpy.zeros((hidden,), dtype="f")

    def block(offset: int) -> slice:  # window block of the token at i + offset
        start = (offset + 1) * (WIDTH + ONES)
        return slice(start, start + WIDTH)

    def one(offset: int) -> int:
        return (offset + 1) * (WIDTH + ONES) + WIDTH

    # teacher features: slot B0 = f0 (i), f1 (i-1), f2 (i+1); slot E0 = f3 (i), f4 (i-1), f5 (i+1)
    slots = [(0, ((0, 0), (1, -1), (2, 1)))]
    if hidden >= 2 * PROJ:
        slots.append((PROJ, ((3, 0), (4, -1), (5, 1))))
    for start, feats in slots:
        rows = slice(start, start + PROJ)
        for f, offset in feats:
            Wf = lower_w[f].reshape(PROJ, WIDTH)  # rows (unit, piece)
            padf = lower_pad[f].reshape(PROJ)
            proj_W[rows, block(offset)] = Wf
            # h is shifted by -p0: W h = W h' + W p0. A neighbour past the document end is a
            # zero block (constant channel 0 too) and must give the teacher's pad vector.
            if offset == 0:
                proj_b[rows] += Wf @ p0
            else:
                proj_W[rows, one(offset)] = Wf @ p0 - padf
                proj_b[rows] += padf
    _set(proj[0], "W", proj_W)
    _set(proj[0], "b", proj_b)
    # -- lower: route each slot's 128 projected values to hidden units 0..63, 2 pieces
    lower = model.get_ref("lower")
    nF, nO, nP, nI = (lower.get_dim(d) for d in ("nF", "nO", "nP", "nI"))
    assert (nF, nO, nP, nI) == (3, hidden, 2, hidden)
    lW = numpy.zeros((nF, nO, nP, nI), dtype="f")
    lb = numpy.zeros((nO, nP), dtype="f")
    lpad = numpy.zeros((1, nF, nO, nP), dtype="f")
    for unit in range(TEACHER_HIDDEN):
        for piece in range(TEACHER_PIECES):
            lW[0, unit, piece, unit * TEACHER_PIECES + piece] = 1.0
            if len(slots) > 1:
                lW[1, unit, piece, PROJ + unit * TEACHER_PIECES + piece] = 1.0
    lb[:TEACHER_HIDDEN] = w["lower.b"]
    if extra_units:
        if TEACHER_HIDDEN + extra_units > hidden:
            raise ValueError(f"extra_units: at most {hidden - TEACHER_HIDDEN}")
        rng = numpy.random.default_rng(seed)
        new = slice(TEACHER_HIDDEN, TEACHER_HIDDEN + extra_units)
        scale = 1.0 / numpy.sqrt(nF * nI)
        lW[:, new] = rng.normal(0.0, scale, size=lW[:, new].shape)
        lpad[0, :, new] = rng.normal(0.0, scale, size=lpad[0, :, new].shape)
    # slot 0 (B0) missing: the buffer is empty; all three B features are the teacher's pads
    lpad[0, 0, :TEACHER_HIDDEN] = lower_pad[0] + lower_pad[1] + lower_pad[2]
    # slot 1 (E0 if an entity is open) missing: no open entity. The teacher would read the
    # last closed entity's start here; its pads are the nearest constant.
    lpad[0, 1, :TEACHER_HIDDEN] = lower_pad[3] + lower_pad[4] + lower_pad[5]
    # (hidden 128: no room for the E0 projection; slot 1 then only has the pads, as if no
    # entity were ever open, and fine-tuning has to learn it)
    # slot 2 (B0-1 if an entity is open) is already in slot 0: zero weights and pad
    _set(lower, "W", lW)
    _set(lower, "b", lb)
    _set(lower, "pad", lpad)
    # -- upper: teacher rows by move name
    upper = model.get_ref("upper")
    v3_moves = [ner.moves.get_class_name(i) for i in range(ner.moves.n_moves)]
    t_index = {name: i for i, name in enumerate(info["moves"])}
    uW = numpy.zeros((len(v3_moves), hidden), dtype="f")
    ub = numpy.zeros((len(v3_moves),), dtype="f")
    missing = []
    for i, name in enumerate(v3_moves):
        j = t_index.get(name)
        if j is None:
            missing.append(name)
            ub[i] = -1e4
            continue
        uW[i, :TEACHER_HIDDEN] = w["upper.W"][j]
        ub[i] = w["upper.b"][j]
    assert upper.get_param("W").shape == uW.shape, (upper.get_param("W").shape, uW.shape)
    _set(upper, "W", uW)
    _set(upper, "b", ub)
    model.attrs["unseen_classes"] = set()
    nlp.meta["newsingest_port"] = {
        "teacher": info["model"],
        "hidden_width": hidden,
        "v3_moves_not_in_teacher": missing,
        "teacher_moves_not_in_v3": sorted(set(info["moves"]) - set(v3_moves)),
    }
    return nlp


def use_teacher_tokenizer(nlp: Any, settings: dict[str, Any]) -> None:
    """Give ``nlp`` the teacher's splitting patterns and special cases (ORTH, NORM).

    Serialised with the pipeline (``tokenizer`` file), so ``spacy.load`` gets them back.
    """
    import re

    from spacy.attrs import NORM, ORTH

    tok = nlp.tokenizer
    pats = settings["patterns"]
    tok.prefix_search = re.compile(pats["prefix_search"]).search if pats["prefix_search"] else None
    tok.suffix_search = re.compile(pats["suffix_search"]).search if pats["suffix_search"] else None
    tok.infix_finditer = (
        re.compile(pats["infix_finditer"]).finditer if pats["infix_finditer"] else None
    )
    tok.token_match = re.compile(pats["token_match"]).match if pats["token_match"] else None
    tok.url_match = re.compile(pats["url_match"]).match if pats["url_match"] else None
    rules = {}
    for string, pieces in settings["rules"].items():
        rules[string] = [
            {ORTH: orth, NORM: norm} if norm is not None else {ORTH: orth} for orth, norm in pieces
        ]
    tok.rules = rules


def _set(layer: Any, name: str, value: numpy.ndarray) -> None:
    current = layer.get_param(name)
    if current.shape != value.shape:
        raise ValueError(f"{layer.name}.{name}: shape {value.shape}, expected {current.shape}")
    layer.set_param(name, numpy.ascontiguousarray(value, dtype="float32"))


def tok2vec_check(nlp: Any, port_dir: Path, probe: Path, texts: list[str]) -> dict[str, Any]:
    """Compare the ported tok2vec with the teacher's on ``texts`` (``probe`` = its npz output).

    Returns the largest absolute difference of the 96-wide token vectors over the documents
    that both tokenizers split the same way with the same features, and the counts of the
    others. Documents in which one word form has two NORM values (a tokenizer special case
    such as "did" -> "do" in "didn't" next to a plain "did") are counted apart: the teacher's
    ``uniqued(..., column=ORTH)`` embeds each word form of a batch once, with the NORM of its
    first occurrence, so its other occurrences differ from the port's there (a teacher quirk).
    """
    from spacy.attrs import NORM, PREFIX, SHAPE, SUFFIX

    arrays, _info = load_teacher_arrays(port_dir)
    p0 = arrays["pad_embedding"]
    tok2vec = nlp.get_pipe("tok2vec").model
    result: dict[str, Any] = {"docs": len(texts), "tokens": 0, "max_abs_diff": 0.0}
    result.update({"tokenization_differs": 0, "features_differ": 0, "orth_with_two_norms": 0})
    with numpy.load(probe) as ref:
        for i, text in enumerate(texts):
            doc = nlp.make_doc(text)
            idx = numpy.asarray([t.idx for t in doc])
            if len(idx) != len(ref[f"{i}.idx"]) or (idx != ref[f"{i}.idx"]).any():
                result["tokenization_differs"] += 1
                continue
            feats = doc.to_array([NORM, PREFIX, SUFFIX, SHAPE]).astype("uint64")
            if (feats != ref[f"{i}.feats"][:, 1:5]).any():
                result["features_differ"] += 1
                continue
            norms: dict[str, set[str]] = {}
            for token in doc:
                norms.setdefault(token.orth_, set()).add(token.norm_)
            if any(len(v) > 1 for v in norms.values()):
                result["orth_with_two_norms"] += 1
                continue
            window = tok2vec.predict([doc])[0]
            h = window[:, WIDTH + ONES : 2 * WIDTH + ONES] + p0  # the token's own block
            diff = float(numpy.abs(h - ref[f"{i}.tok2vec"]).max())
            result["max_abs_diff"] = max(result["max_abs_diff"], diff)
            result["tokens"] += len(doc)
    return result
