"""One NER model per language: the bundled set, and the router that sends each article to the
model of its language.

The bundled models are the folders ``workers/models/<lang>_newsingest_ner``. A worker loads
those of the languages it serves (``NEWSINGEST_NLP_LANGUAGES``, default all installed), all
at start: loaded before the pool forks, every process shares them. The set behaves like one
:class:`~workers.nlp.NlpPipeline` (``covers``, ``entities``, ``name``, ``version``), with
``entities`` taking each text's language.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from schemas.errors import ConfigError
from workers.entity_keys import EntityCount
from workers.nlp import BUNDLED_SET, NlpPipeline, load_pipeline

log = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).resolve().parent / "models"
MODEL_SUFFIX = "_newsingest_ner"
SET_NAME = "newsingest_ner"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What ``model info`` shows of one bundled model, read from its folder without loading."""

    lang: str
    path: Path
    version: str
    labels: tuple[str, ...]
    size_bytes: int
    scores: dict[str, dict[str, float]]


def installed() -> dict[str, Path]:
    """Language -> folder of every bundled model."""
    found: dict[str, Path] = {}
    for folder in sorted(MODELS_DIR.glob(f"*{MODEL_SUFFIX}")):
        if (folder / "meta.json").is_file():
            found[folder.name.removesuffix(MODEL_SUFFIX)] = folder
    return found


def model_info(lang: str, folder: Path) -> ModelInfo:
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    labels = tuple(meta.get("labels", {}).get("ner", ()))
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    perf = meta.get("performance", {})
    scores = {k: v for k, v in perf.items() if isinstance(v, dict) and "f" in v}
    if not scores and "ents_f" in perf:
        scores = {"dev": {"p": perf["ents_p"], "r": perf["ents_r"], "f": perf["ents_f"]}}
    return ModelInfo(lang, folder, str(meta.get("version", "")), labels, size, scores)


def parse_languages(value: str | None) -> tuple[str, ...]:
    """``"de, EN"`` -> ``("de", "en")``; empty -> ``()`` (all installed)."""
    if not value:
        return ()
    return tuple(sorted({p.strip().lower() for p in value.split(",") if p.strip()}))


def bundled_spec(languages: Iterable[str] = ()) -> str:
    langs = ",".join(sorted(languages))
    return f"{BUNDLED_SET}={langs}" if langs else BUNDLED_SET


def select(spec: str) -> dict[str, Path]:
    """The folders a bundled-set spec names; ConfigError for a language with no model."""
    have = installed()
    wanted = parse_languages(spec.partition("=")[2])
    missing = [lang for lang in wanted if lang not in have]
    if missing:
        raise ConfigError(
            f"no bundled NER model for {', '.join(missing)} (NEWSINGEST_NLP_LANGUAGES); "
            f"installed: {', '.join(have) or 'none'}"
        )
    if not have:
        raise ConfigError(f"no bundled NER model in {MODELS_DIR}")
    return {lang: have[lang] for lang in (wanted or tuple(have))}


class ModelSet(NlpPipeline):
    """Several single-language pipelines behind the :class:`NlpPipeline` interface."""

    def __init__(self, pipelines: dict[str, NlpPipeline], *, source: str) -> None:
        # NlpPipeline.__init__ is not called: the set is not one spaCy pipeline.
        self.pipelines = pipelines
        self.source = source
        self.name = SET_NAME
        # One identity for the set: an article is redone when any model changes.
        self.version = "+".join(f"{lang}{p.version}" for lang, p in sorted(pipelines.items()))
        self.languages = frozenset(pipelines)
        labels = {label for p in pipelines.values() for label in p.labels}
        self.labels = tuple(sorted(labels))
        self.nlp = next(iter(pipelines.values())).nlp  # for callers that read pipe names

    def covers(self, language: str | None) -> bool:
        return language is not None and language.split("-")[0].lower() in self.languages

    def entities(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 16,
        languages: Sequence[str | None] | None = None,
    ) -> list[list[EntityCount]]:
        """Entities of each text by the model of its language (default: English, else the
        first model), in the order given; texts of one language are batched together."""
        if languages is None:
            languages = [None] * len(texts)
        default = "en" if "en" in self.pipelines else next(iter(self.pipelines))
        groups: dict[str, list[int]] = {}
        for i, language in enumerate(languages):
            lang = (language or "").split("-")[0].lower()
            groups.setdefault(lang if lang in self.pipelines else default, []).append(i)
        out: list[list[EntityCount]] = [[] for _ in texts]
        for lang, idx in groups.items():
            found = self.pipelines[lang].entities([texts[i] for i in idx], batch_size=batch_size)
            for i, ents in zip(idx, found, strict=True):
                out[i] = ents
        return out


def load_set(spec: str) -> ModelSet:
    pipelines = {lang: load_pipeline(str(folder)) for lang, folder in select(spec).items()}
    for pipeline in pipelines.values():  # first-call setup now, before a pool forks
        pipeline.entities(["Paris, London and Berlin."])
    log.info("NER models loaded for %s", ", ".join(sorted(pipelines)))
    return ModelSet(pipelines, source=spec)
