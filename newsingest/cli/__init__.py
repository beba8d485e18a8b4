"""The ``newsingest`` command line: one module per command group, each registering its
commands on the one Typer app here."""

from __future__ import annotations

import logging

import typer

from newsingest.cli import (
    admin,
    articles,
    demo,
    dlq,
    entities,
    export,
    feeds,
    model,
    poll,
    serve,
    services,
    status,
)
from schemas.errors import ConfigError
from schemas.settings import get_settings

app = typer.Typer(
    name="newsingest",
    help="Poll news feeds, extract articles and their entities into a database.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _setup() -> None:
    """Logging to stderr at NEWSINGEST_LOG_LEVEL (HTTP client chatter only from WARNING)."""
    try:
        level = get_settings().log_level
    except ConfigError:
        level = "INFO"  # the command itself reports the invalid setting
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore", "alembic", "trafilatura", "htmldate", "courlan"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


for group in (
    admin,
    feeds,
    poll,
    services,
    dlq,
    demo,
    model,
    status,
    articles,
    entities,
    export,
    serve,
):
    group.register(app)


def main() -> None:
    """Console-script entry point."""
    from schemas.db import dispose_engines

    try:
        app()
    finally:
        dispose_engines()
