"""The spaCy model: `model info` and `model install`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from newsingest.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_CONFIG,
    EXIT_INFRA,
    fail,
    out,
    print_rows,
    settings,
)
from schemas.errors import ConfigError

model_app = typer.Typer(help="The spaCy model used for entities.", no_args_is_help=True)


@model_app.command("info")
def model_info() -> None:
    """Show the active models: per language, name, version, labels, size, scores, folder."""
    from workers.nlp import BUNDLED_SET, load_pipeline, resolve_model

    source = resolve_model(settings())
    if source.startswith(BUNDLED_SET):
        _bundled_info(source)
        return
    try:
        pipeline = load_pipeline(source)
    except ConfigError as exc:
        raise fail(exc.message, EXIT_CONFIG) from None
    rows = [
        ["name", pipeline.name],
        ["version", pipeline.version],
        ["loaded from", source],
        ["configured by", "NEWSINGEST_SPACY_MODEL" if settings().spacy_model else "default"],
        ["languages", ", ".join(sorted(pipeline.languages))],
        ["labels", ", ".join(pipeline.labels)],
        ["components", ", ".join(pipeline.nlp.pipe_names)],
    ]
    print_rows("spaCy model", ["field", "value"], rows)


def _bundled_info(source: str) -> None:
    from workers.languages import model_info, select

    try:
        folders = select(source)
    except ConfigError as exc:
        raise fail(exc.message, EXIT_CONFIG) from None
    by = "NEWSINGEST_NLP_LANGUAGES" if "=" in source else "default (every bundled model)"
    rows = []
    for lang, folder in folders.items():
        info = model_info(lang, folder)
        scores = ", ".join(
            f"{name} P/R/F1 {100 * s.get('p', 0):.1f}/{100 * s.get('r', 0):.1f}/{100 * s['f']:.1f}"
            for name, s in info.scores.items()
        )
        rows.append(
            [lang, folder.name, info.version, ", ".join(info.labels),
             f"{info.size_bytes / 1e6:.1f} MB", scores or "-", str(folder), by]
        )  # fmt: skip
    columns = ["language", "model", "version", "labels", "size", "scores", "loaded from"]
    print_rows("NER models, one per language", [*columns, "configured by"], rows)


@model_app.command("install")
def model_install(
    name: Annotated[str, typer.Argument(help="A spaCy model package, e.g. en_core_web_sm.")],
) -> None:
    """Download and install a spaCy model with `spacy download` (needs internet access)."""
    import re
    import subprocess

    if not re.fullmatch(r"[A-Za-z0-9_.\-]+", name):
        raise fail(f"not a model package name: {name!r}", EXIT_BAD_INPUT)
    run = subprocess.run([sys.executable, "-m", "spacy", "download", name], check=False)  # noqa: S603
    if run.returncode != 0:
        raise fail(
            f"`spacy download {name}` failed (exit {run.returncode}); it needs access to GitHub. "
            "Without internet, keep the bundled default (unset NEWSINGEST_SPACY_MODEL) or "
            "point NEWSINGEST_SPACY_MODEL at a pipeline directory.",
            EXIT_INFRA,
        )
    out.print(f"installed {name}; use it with NEWSINGEST_SPACY_MODEL={name}")


def register(app: typer.Typer) -> None:
    app.add_typer(model_app, name="model")
