"""Named entities with spaCy: the pipeline loaded once per process, pure text -> entities
(keyed and folded per article by :mod:`workers.entity_keys`), under the common labels of
:mod:`workers.labels` (the model's own label kept beside them).

Articles are only run through a model in a language it covers; the language comes from the
page, else it is detected (py3langid). Others are stored without entities, with the reason.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform
import sys
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from schemas.errors import ConfigError
from schemas.keys import HONORIFICS
from workers.entity_keys import EntityCount, Mention, aggregate
from workers.labels import common_label

log = logging.getLogger(__name__)

#: Longer texts are cut before NER (spaCy's own limit is 1,000,000 characters).
MAX_NLP_CHARS = 200_000
#: Characters per ``nlp.pipe`` batch (a batch holds at most ``batch_size`` texts as well).
#: spaCy's memory for a batch grows with its tokens, and billiard recycles a worker process
#: whose PEAK resident memory (``ru_maxrss``) passed ``worker_max_memory_per_child``: a batch
#: of many long articles would leave every next task to a fresh, cold process. Capping the
#: characters bounds that peak (a single long text is its own batch).
NLP_BATCH_CHARS = 50_000
#: Standard components that entity recognition does not use (custom ones are kept).
NOT_FOR_NER = frozenset(
    {
        "tagger", "parser", "attribute_ruler", "lemmatizer", "trainable_lemmatizer",
        "morphologizer", "senter", "textcat", "textcat_multilabel", "spancat",
        "entity_linker",
    }
)  # fmt: skip


#: glibc malloc thresholds for a process that runs NER (:func:`tune_allocator`).
MALLOC_MMAP_THRESHOLD = 64 * 2**20
MALLOC_TRIM_THRESHOLD = 128 * 2**20
_M_TRIM_THRESHOLD = -1  # glibc <malloc.h>
_M_MMAP_THRESHOLD = -3
_MALLOC_ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")


def tune_allocator() -> bool:
    """Keep NER's large arrays on the malloc heap; True if the thresholds were set.

    spaCy's tok2vec allocates arrays of tens of MB per batch (thinc, numpy). With glibc's
    defaults each one above 32 MB is its own ``mmap``, unmapped when freed, and the heap's
    free top is given back to the kernel, so every batch faults the same memory in again,
    zeroed by the kernel: system CPU spent on every batch. These thresholds keep the arrays
    on the heap, at the price of more resident memory between batches. Both are set: a trim
    threshold alone switches off glibc's adaptive mmap threshold and makes it worse. Called
    once per process before the model loads (Celery worker children, and the in-process
    pool's forkserver). Not glibc (musl, macOS), or ``MALLOC_*_`` variables set by the
    operator: left alone.
    """
    if sys.platform != "linux" or platform.libc_ver()[0] != "glibc":
        return False
    if any(name in os.environ for name in _MALLOC_ENV):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(
        mallopt(_M_MMAP_THRESHOLD, MALLOC_MMAP_THRESHOLD)
        and mallopt(_M_TRIM_THRESHOLD, MALLOC_TRIM_THRESHOLD)
    )


# --- language ---------------------------------------------------------------------------------

_langid_lock = threading.Lock()


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of ``text`` (py3langid), or None for too little text."""
    sample = text[:5000]
    if len(sample.split()) < 5:
        return None
    with _langid_lock:  # py3langid loads its model lazily on first use
        import py3langid

        code, _score = py3langid.classify(sample)
    return str(code)


def warm_language_detection() -> None:
    """Load py3langid's model now (about 0.5 s of CPU): call it before forking workers, so
    each process does not pay it on its first article without a declared language."""
    detect_language("This sentence only loads the language identification model once.")


# --- the spaCy pipeline -----------------------------------------------------------------------


def package_name(meta: dict[str, Any]) -> str:
    """spaCy's package name: ``{lang}_{name}`` unless the name already starts with the language."""
    lang = str(meta.get("lang", "") or "")
    name = str(meta.get("name", "pipeline") or "pipeline")
    if not lang or name.startswith(f"{lang}_"):
        return name
    return f"{lang}_{name}"


class NlpPipeline:
    """A loaded spaCy pipeline with only what NER needs enabled."""

    def __init__(self, nlp: Any, *, source: str, labels: Sequence[str] = ()) -> None:
        self.nlp = nlp
        self.source = source
        meta = nlp.meta
        self.name = package_name(meta)
        self.version = str(meta.get("version", "0.0.0"))
        self.languages = frozenset({str(nlp.lang)})
        self.labels = tuple(nlp.get_pipe("ner").labels) if "ner" in nlp.pipe_names else ()
        if "entity_ruler" in nlp.pipe_names:
            ruler = nlp.get_pipe("entity_ruler")
            self.labels = tuple(sorted(set(self.labels) | set(ruler.labels)))
        self.labels = tuple(labels) or self.labels
        disable = [name for name in nlp.pipe_names if name in NOT_FOR_NER]
        if disable:
            log.info("disabled components NER does not need: %s", ", ".join(disable))
            nlp.select_pipes(disable=disable)

    def covers(self, language: str | None) -> bool:
        return language is not None and language.split("-")[0].lower() in self.languages

    def entities(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 16,
        languages: Sequence[str | None] | None = None,  # one model: one language
    ) -> list[list[EntityCount]]:
        """Entities of each text, batched through ``nlp.pipe``, under the common labels."""
        cut = [text[:MAX_NLP_CHARS] for text in texts]
        found: list[list[EntityCount]] = []
        for group in char_batches(cut, batch_size, NLP_BATCH_CHARS):
            found.extend(
                aggregate(
                    Mention(ent.text, common_label(ent.label_), ent.start_char, ent.label_)
                    for ent in doc.ents
                )
                for doc in self.nlp.pipe(group, batch_size=len(group))
            )
        return found


def char_batches(texts: Sequence[str], size: int, chars: int) -> list[list[str]]:
    """``texts`` in order, in batches of at most ``size`` texts and ``chars`` characters
    (a longer text is a batch of its own)."""
    batches: list[list[str]] = []
    current: list[str] = []
    total = 0
    for text in texts:
        if current and (len(current) >= size or total + len(text) > chars):
            batches.append(current)
            current, total = [], 0
        current.append(text)
        total += len(text)
    if current:
        batches.append(current)
    return batches


INSTALL_HINT = (
    "install it with `newsingest model install {name}` (needs internet), `pip install` its "
    "package, or set NEWSINGEST_SPACY_MODEL to an installed package or a pipeline directory"
)


def load_pipeline(name_or_path: str) -> NlpPipeline:
    """Load a spaCy pipeline by package name or path; ConfigError saying how to install it."""
    import spacy

    if name_or_path == RULES_MODEL:
        return rule_based_pipeline()
    if name_or_path.startswith(BUNDLED_SET):
        from workers.languages import load_set  # it builds on this module

        return load_set(name_or_path)
    model_available(name_or_path)
    try:
        nlp = spacy.load(name_or_path)
    except OSError as exc:
        where = "directory" if Path(name_or_path).exists() else "package"
        raise ConfigError(
            f"spaCy model {name_or_path!r} cannot be loaded ({where}): "
            + INSTALL_HINT.format(name=name_or_path)
            + f" [{str(exc).splitlines()[0][:200]}]"
        ) from None
    if "ner" not in nlp.pipe_names and "entity_ruler" not in nlp.pipe_names:
        raise ConfigError(f"spaCy model {name_or_path!r} has no 'ner' component")
    pipeline = NlpPipeline(nlp, source=name_or_path)
    log.info(
        "loaded spaCy model %s %s from %s (labels: %s)",
        pipeline.name,
        pipeline.version,
        name_or_path,
        ", ".join(pipeline.labels),
    )
    return pipeline


@lru_cache(maxsize=2)
def get_pipeline(name_or_path: str) -> NlpPipeline:
    """The pipeline for this process, loaded on first use (after fork, in a worker)."""
    return load_pipeline(name_or_path)


BUNDLED_MODEL = Path(__file__).resolve().parent / "models" / "en_newsingest_ner"
#: ``resolve_model``'s value for the bundled models (workers.languages); ``=de,en`` limits it.
BUNDLED_SET = "newsingest:bundled"


def resolve_model(settings: Any) -> str:
    """The model to load: the configured one (package name or path), else the bundled set of
    one model per language (restricted to ``NEWSINGEST_NLP_LANGUAGES`` when set).

    A configured model that is missing is an error (see :func:`model_available`), never a
    silent fallback: the user asked for it by name.
    """
    if settings.spacy_model:
        return str(settings.spacy_model)
    from workers.languages import bundled_spec, parse_languages

    return bundled_spec(parse_languages(settings.nlp_languages))


def model_available(name_or_path: str) -> None:
    """Check, without loading it, that a model can be found; ConfigError saying how if not."""
    import spacy.util

    if name_or_path == RULES_MODEL:
        return
    if name_or_path.startswith(BUNDLED_SET):
        from workers.languages import select

        select(name_or_path)
        return
    if Path(name_or_path).is_dir() or spacy.util.is_package(name_or_path):
        return
    if Path(name_or_path) == BUNDLED_MODEL:
        raise ConfigError(
            f"the bundled default model is missing from this installation ({BUNDLED_MODEL}); "
            "rebuild it from a source checkout with `python -m tools.ner_model.build_default`, or "
            + INSTALL_HINT.format(name="en_core_web_sm")
        )
    raise ConfigError(
        f"spaCy model {name_or_path!r} is not installed: " + INSTALL_HINT.format(name=name_or_path)
    )


# --- the rule-based fallback (demo only) ------------------------------------------------------

RULES_MODEL = "newsingest:rules"
TITLES = frozenset(
    {
        *HONORIFICS,
        "president", "minister", "chancellor", "mayor", "senator", "governor", "professor",
        "councillor", "judge", "general", "envoy", "ambassador", "secretary", "chairman",
    }
)  # fmt: skip
ORG_SUFFIXES = frozenset(
    {
        "inc", "ltd", "llc", "plc", "corp", "corporation", "group", "bank", "university",
        "authority", "council", "party", "union", "agency", "ministry", "company", "energy",
    }
)  # fmt: skip


def rule_based_pipeline() -> NlpPipeline:
    """A small rule-based English NER, used by `newsingest demo` when no model is installed.

    PERSON: capitalised words after a title or honorific ("Mayor Elena Brandt" -> "Elena
    Brandt"). ORG: capitalised words ending in an organisation word ("Valdemar Rail Group").
    It finds far less than a trained model and says so wherever it is used.
    """
    import spacy
    from spacy.tokens import Span

    nlp = spacy.blank("en")
    nlp.meta["name"] = "newsingest_rules"
    nlp.meta["version"] = "0.1.0"

    def find(doc: Any) -> Any:
        spans: list[Any] = []
        i = 0
        while i < len(doc):
            word = doc[i].lower_.rstrip(".")
            if word in TITLES:
                j = i + 1
                while j < len(doc) and doc[j].is_title and doc[j].lower_ not in TITLES:
                    j += 1
                if j > i + 1:
                    spans.append(Span(doc, i + 1, j, label="PERSON"))
                    i = j
                    continue
            if doc[i].is_title and not doc[i].is_sent_start:
                j = i
                while j < len(doc) and doc[j].is_title:
                    j += 1
                if j - i >= 2 and doc[j - 1].lower_ in ORG_SUFFIXES:
                    spans.append(Span(doc, i, j, label="ORG"))
                    i = j
                    continue
            i += 1
        doc.ents = spacy.util.filter_spans(spans)
        return doc

    from spacy.language import Language

    if not Language.has_factory("newsingest_rules"):
        Language.component("newsingest_rules", func=find)
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("newsingest_rules")
    return NlpPipeline(nlp, source=RULES_MODEL, labels=("ORG", "PERSON"))
